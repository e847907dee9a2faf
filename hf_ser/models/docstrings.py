"""Docstring parts shared by the ``forward`` methods of the model families, written once.

`SERModelForAudioClassification`, `LSTMSAForAudioClassification` and `Wav2SmallForAudioClassification`
take the same label arguments and return the same `SERModelOutput`; only their inputs differ. Each
``forward`` docstring names a shared part with a ``{placeholder}`` line and :func:`add_forward_docstring`
fills it in, indented like the placeholder. Part of the self-contained ``models`` package (copied with
``trust_remote_code`` checkpoints), so it imports nothing outside it.
"""

from __future__ import annotations

import textwrap
from typing import Callable, TypeVar

FunctionT = TypeVar("FunctionT", bound=Callable)

LABELS_ARGS_DOCSTRING = r"""labels (`torch.LongTensor` of shape `(batch,)`, *optional*):
    Class indices (-100 = ignore) for classification / multitask. For `task="regression"` a float
    `(batch, targets)` tensor here is used as `regression_labels` (Trainer's default label name).
regression_labels (`torch.FloatTensor` of shape `(batch, targets)`, *optional*):
    Regression targets in `config.regression_targets` order (NaN = missing)."""

RETURN_DICT_ARG_DOCSTRING = (
    "return_dict (`bool`, *optional*): return a `SERModelOutput` (default) or a tuple."
)

SHARED_FORWARD_DOCSTRINGS = {
    "labels_args": LABELS_ARGS_DOCSTRING,
    "return_dict_arg": RETURN_DICT_ARG_DOCSTRING,
}
"""Placeholder name -> text; the placeholder is written ``{name}`` alone on its line."""


def fill_docstring(docstring: str, parts: dict[str, str] = SHARED_FORWARD_DOCSTRINGS) -> str:
    """Replace each line that is only ``{name}`` by ``parts[name]``, indented like that line."""
    lines = []
    for line in docstring.splitlines():
        name = line.strip()[1:-1] if line.strip().startswith("{") and line.strip().endswith("}") else None
        if name in parts:
            lines.append(textwrap.indent(parts[name], line[: len(line) - len(line.lstrip())]))
        else:
            lines.append(line)
    return "\n".join(lines)


def add_forward_docstring(function: FunctionT) -> FunctionT:
    """Decorator: fill the shared ``{placeholder}`` parts of ``function``'s docstring."""
    if function.__doc__:
        function.__doc__ = fill_docstring(function.__doc__)
    return function


__all__ = ["LABELS_ARGS_DOCSTRING", "RETURN_DICT_ARG_DOCSTRING", "add_forward_docstring", "fill_docstring"]
