"""What the runtime needs from an export directory's ``config.json``, read as plain JSON (no transformers)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Union

import numpy as np

TASKS = ("classification", "regression", "multitask")
RESERVED_KEYS = ("label", "scores", "embedding", "frame_weights", "segments")
"""Result keys of :func:`hf_ser.pipeline`; regression target names may not reuse them."""


def read_json(path: Union[str, os.PathLike]) -> dict:
    """Parse a JSON file, naming the file in the error."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"Cannot read {path}: {error}") from error


@dataclass(frozen=True)
class ModelSpec:
    """Task and output names of an exported model.

    Args:
        task: ``"classification"``, ``"regression"`` or ``"multitask"`` (hf_ser's ``config.task``;
            plain transformers configs: ``"regression"`` when ``problem_type`` says so).
        id2label: class index -> label.
        regression_targets: names of the regression outputs, in the graph's order.
        test_time_speeds: the config's test-time speeds (``None``: off).
        arousal_weights: the config's ``arousal_from_categories`` (``None``: no derived arousal).
    """

    task: str
    id2label: dict[int, str]
    regression_targets: tuple[str, ...]
    test_time_speeds: Optional[tuple[float, ...]] = None
    arousal_weights: Optional[dict[str, float]] = None

    @classmethod
    def from_config(cls, config: dict) -> ModelSpec:
        """Build from a parsed ``config.json`` (same rules as the torch pipeline)."""
        task = config.get("task") or (
            "regression" if config.get("problem_type") == "regression" else "classification"
        )
        if task not in TASKS:
            raise ValueError(f"Unknown task {task!r} in config.json; expected one of {', '.join(TASKS)}.")
        id2label = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
        targets: tuple[str, ...] = ()
        if task != "classification":
            targets = tuple(config.get("regression_targets") or ())
            if not targets and task == "regression":
                targets = tuple(id2label[index] for index in sorted(id2label))
        clash = sorted(set(targets) & set(RESERVED_KEYS))
        if clash:
            raise ValueError(f"Regression target names {clash} clash with result keys {RESERVED_KEYS}.")
        speeds = config.get("test_time_speeds")
        weights = config.get("arousal_from_categories")
        return cls(
            task,
            id2label,
            targets,
            None if not speeds else tuple(float(s) for s in speeds),
            None if not weights else {str(k): float(v) for k, v in weights.items()},
        )

    @classmethod
    def from_dir(cls, export_dir: Union[str, os.PathLike]) -> ModelSpec:
        """Read ``export_dir/config.json``."""
        return cls.from_config(read_json(Path(export_dir) / "config.json"))


def arousal_from_categories(
    probabilities: np.ndarray, id2label: Mapping[int, str], weights: Optional[Mapping[str, float]]
) -> Optional[float]:
    """Arousal in [0, 1] derived from class probabilities: ``(1 + sum_label weight * P(label)) / 2``.

    ``weights`` (a config's ``arousal_from_categories``) give each class's arousal in [-1, 1] (e.g. anger
    +1, sadness -1; unlisted classes 0). ``None`` when the model has no such weights. The same function
    post-processes the scores of :func:`hf_ser.pipeline` and of :mod:`hf_ser.runtime`.

    Example:

    ```python
    >>> import numpy as np
    >>> from hf_ser.runtime.spec import arousal_from_categories
    >>> arousal_from_categories(np.array([0.8, 0.2]), {0: "anger", 1: "sadness"}, {"anger": 1, "sadness": -1})
    0.8

    ```
    """
    if not weights:
        return None
    signed = sum(float(weights.get(id2label[i], 0.0)) * float(p) for i, p in enumerate(probabilities))
    return min(max((1.0 + signed) / 2.0, 0.0), 1.0)


__all__ = ["RESERVED_KEYS", "TASKS", "ModelSpec", "arousal_from_categories", "read_json"]
