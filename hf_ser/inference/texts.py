"""Transcripts for models with text as a second input (``SERConfig(text_backbone=...)``, paper 000).

The pipeline takes a clip's transcript from, in this order: its ``text=`` argument (one string for one
clip, or a list aligned with a list of clips), a dict input's ``"text"`` key, or a `datasets.Dataset`'s
``text_column``. ``text="ctc"`` uses the model's own CTC head instead: its greedy transcript of each clip
(models trained with both a CTC head and a text encoder). A clip without a transcript is tokenised as an
empty string, exactly as :class:`hf_ser.data.SERDataCollator` does in training.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

from .inputs import is_dataset

CTC_TEXT = "ctc"
"""``text="ctc"``: transcribe each clip with the model's CTC head."""


def has_text_backbone(config: Any) -> bool:
    """Whether a model config takes text as a second input."""
    return getattr(config, "text_backbone", None) is not None


def _texts_from_inputs(inputs: Any, text_column: str) -> list[Optional[str]]:
    """Transcripts carried by the inputs themselves: a dataset column or dicts' ``"text"`` keys."""
    if is_dataset(inputs):
        if text_column not in inputs.column_names:
            return [None] * len(inputs)
        return list(inputs.with_format(None)[text_column])
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    return [item.get("text") if isinstance(item, dict) else None for item in items]


def _texts_from_argument(text: Any, count: int, is_single: bool) -> list[Optional[str]]:
    """The ``text=`` argument as one transcript per input, checked against the inputs."""
    if isinstance(text, str):
        if not is_single:
            raise ValueError(
                f"text= is one string but {count} clips were given; pass a list of {count} transcripts."
            )
        return [text]
    texts = list(text)
    if is_single or len(texts) != count:
        raise ValueError(
            f"text= has {len(texts)} transcripts for {1 if is_single else count} clip(s); give one per clip "
            "(a string for a single clip)."
        )
    if not all(value is None or isinstance(value, str) for value in texts):
        raise ValueError("text= must hold strings (or None for a clip without a transcript).")
    return texts


def resolve_texts(
    config: Any, inputs: Any, text: Any, text_column: str, count: int, is_single: bool
) -> tuple[Optional[list[Optional[str]]], bool]:
    """``(transcripts, use_ctc)`` for the ``count`` inputs: ``(None, False)`` for audio-only models.

    Raises a ``ValueError`` when a transcript is given to a model without a text encoder, or ``"ctc"`` to a
    model without a CTC vocabulary.
    """
    if not has_text_backbone(config):
        if text is not None:
            raise ValueError(
                "text= was given but this model has no text encoder (SERConfig(text_backbone=...)); it "
                "classifies audio only."
            )
        return None, False
    if isinstance(text, str) and text == CTC_TEXT:
        if not getattr(config, "ctc_vocab", None):
            raise ValueError(
                'text="ctc" needs a model with a CTC head and its vocabulary (SERConfig(ctc_vocab=[...])); '
                "pass the transcripts instead."
            )
        return [None] * count, True
    texts = (
        _texts_from_inputs(inputs, text_column)
        if text is None
        else _texts_from_argument(text, count, is_single)
    )
    if all(value is None for value in texts):
        warnings.warn(
            "This model also reads a transcript, but none was given (text=, a dict's 'text' key or a "
            "dataset's text_column): classifying with empty transcripts.",
            UserWarning,
            stacklevel=4,
        )
    return texts, False


__all__ = ["CTC_TEXT", "has_text_backbone", "resolve_texts"]
