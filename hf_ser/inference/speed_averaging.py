"""Test-time speed augmentation: predict a clip at several speeds and average the predictions.

Speed perturbation during training (``speed_perturbation`` in the recipes) teaches a model that a clip
played 10 % faster or slower (tempo and pitch together, like another speaker's voice) keeps its emotion.
Averaging the predictions for the clip and such versions of it at test time removes part of the
model's dependence on one speaker's pitch and rate: on EmoDB validation speakers it raised the UAR of
ResLSTM-SA-h64 from 0.59 to 0.62 (``benchmarks/results/small_models.md``). The speeds live in the model
config (``config.test_time_speeds``), so :func:`hf_ser.pipeline` uses a model the way its figures were
measured; ``test_time_speeds=None`` in the pipeline turns it off.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from ..models.configuration_base import check_speeds
from .backends import ClipOutput


def check_test_time_speeds(value: Any) -> tuple[float, ...]:
    """``None`` / empty -> ``()``; otherwise the speeds as floats without 1.0 (each > 0), or a ValueError."""
    if value is None or (isinstance(value, (list, tuple)) and not value):
        return ()
    return tuple(f for f in check_speeds(value, "test_time_speeds") if f != 1.0)


def mean_probability_logits(logits: Sequence[np.ndarray]) -> np.ndarray:
    """Log of the mean class probabilities of several logit arrays of one shape ``(..., classes)``.

    The result is a valid logit array: its softmax is the mean of the inputs' softmaxes.
    """
    stacked = np.stack([np.asarray(value, dtype=np.float64) for value in logits])
    stacked -= stacked.max(axis=-1, keepdims=True)
    probabilities = np.exp(stacked)
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    return np.log(probabilities.mean(axis=0)).astype(np.float32)


def average_outputs(outputs: Sequence[ClipOutput]) -> ClipOutput:
    """One clip's outputs at several speeds -> one output.

    Class probabilities are averaged and returned as log-probabilities in ``class_logits`` (their softmax
    is the average); regression values are averaged; the embedding and frame weights are those of the
    first output (the clip at its own speed: the other versions have other frame counts).
    """
    first = outputs[0]
    class_logits: Optional[np.ndarray] = None
    if first.class_logits is not None:
        class_logits = mean_probability_logits([o.class_logits for o in outputs])
    regression = None
    if first.regression is not None:
        regression = np.mean([np.asarray(o.regression, dtype=np.float64) for o in outputs], axis=0)
        regression = regression.astype(np.float32)
    return ClipOutput(
        class_logits=class_logits,
        regression=regression,
        embedding=first.embedding,
        frame_weights=first.frame_weights,
    )


__all__ = ["average_outputs", "check_test_time_speeds", "mean_probability_logits"]
