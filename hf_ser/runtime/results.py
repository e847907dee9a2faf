"""From a model's output arrays to the result dict of :func:`hf_ser.pipeline` — written once, numpy only.

The torch pipeline and the torch-free runtime both format with :func:`format_prediction`, so a result means
the same in both: ``"label"`` and ``"scores"`` (class -> probability, most likely first, ``top_k`` kept) for
categorical models, one float per regression target (``"arousal"``, ...) for dimensional ones; for a
categorical model whose config holds ``arousal_from_categories``, an ``"arousal"`` derived from the class
probabilities (:func:`~hf_ser.runtime.spec.arousal_from_categories`).
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from .spec import arousal_from_categories


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis, in float64 for exact probabilities."""
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def format_prediction(
    probabilities: Optional[np.ndarray],
    regression: Optional[np.ndarray],
    id2label: Mapping[int, str],
    regression_targets: Sequence[str],
    top_k: Optional[int] = None,
    arousal_weights: Optional[Mapping[str, float]] = None,
) -> dict:
    """The result dict of one clip (or window) from its class probabilities and regression values.

    Example:

    ```python
    >>> format_prediction(np.array([0.2, 0.8]), None, {0: "neutral", 1: "anger"}, [])
    {'label': 'anger', 'scores': {'anger': 0.8, 'neutral': 0.2}}

    ```
    """
    result: dict = {}
    if probabilities is not None:
        order = np.argsort(-probabilities, kind="stable")[:top_k]
        scores = {id2label.get(int(i), str(int(i))): float(probabilities[i]) for i in order}
        result.update({"label": next(iter(scores)), "scores": scores})
        arousal = arousal_from_categories(probabilities, id2label, arousal_weights)
        if arousal is not None and "arousal" not in regression_targets:
            result["arousal"] = arousal  # derived from the class scores (the config's weights)
    if regression is not None:
        values = zip(regression_targets, regression, strict=True)
        result.update({name: float(value) for name, value in values})
    return result


__all__ = ["format_prediction", "softmax"]
