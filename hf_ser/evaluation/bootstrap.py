"""Bootstrap confidence intervals for SER metrics, vectorised over replicates.

A bootstrap replicate of an evaluation set is a vector of multinomial counts (how often each clip is
drawn). For classification every metric we report is a function of the confusion matrix, and the
confusion matrix of a replicate is ``counts @ pairs`` where ``pairs`` one-hot encodes each clip's
(true, predicted) cell; for regression the CCC of a replicate is the count-weighted CCC, which
:func:`hf_ser.metrics.ccc` computes for all replicates at once with ``sample_weight=counts``. So a
thousand replicates cost a few array operations instead of a thousand metric calls per group.

The point estimates themselves always come from :mod:`hf_ser.metrics`; the count-based formulas here
follow the same definitions and ``tests/test_evaluation.py`` checks that they agree on unweighted data.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = [
    "bootstrap_counts",
    "confusion_counts",
    "metrics_from_confusion",
    "percentile_interval",
]


def bootstrap_counts(num_samples: int, num_replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Draw counts ``(num_replicates, num_samples)`` of a bootstrap (with replacement) of ``num_samples``."""
    if num_samples == 0:
        return np.zeros((num_replicates, 0))
    return rng.multinomial(num_samples, np.full(num_samples, 1.0 / num_samples), size=num_replicates).astype(
        np.float64
    )


def confusion_counts(
    predictions: np.ndarray, references: np.ndarray, num_classes: int, weights: Optional[np.ndarray] = None
) -> np.ndarray:
    """Confusion matrices ``(..., num_classes, num_classes)`` (rows = true class) for count ``weights``.

    ``weights`` is ``(R, N)`` replicate counts (``None`` = every clip once, giving one matrix).
    """
    pairs = np.zeros((len(references), num_classes * num_classes))
    pairs[np.arange(len(references)), np.asarray(references) * num_classes + np.asarray(predictions)] = 1.0
    flat = pairs.sum(axis=0) if weights is None else weights @ pairs
    return flat.reshape(*flat.shape[:-1], num_classes, num_classes)


def metrics_from_confusion(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """UAR, WA, macro-F1 and weighted F1 from confusion matrices ``(..., C, C)`` (rows = true class).

    Definitions of :mod:`hf_ser.metrics`: UAR averages recall over the classes present in the
    references; F1 per class is ``2 TP / (support + predicted)`` and macro-F1 averages it over the
    classes occurring in references or predictions; weighted F1 weighs it by support.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    diag = np.diagonal(confusion, axis1=-2, axis2=-1)
    support = confusion.sum(axis=-1)
    predicted = confusion.sum(axis=-2)
    present = support > 0
    occurring = present | (predicted > 0)
    recall = np.divide(diag, support, out=np.zeros_like(diag), where=present)
    denominator = support + predicted
    f1 = np.divide(2 * diag, denominator, out=np.zeros_like(diag), where=denominator > 0)
    total = support.sum(axis=-1)
    safe_total = np.where(total > 0, total, 1.0)
    return {
        "uar": np.where(total > 0, recall.sum(axis=-1) / np.maximum(present.sum(axis=-1), 1), np.nan),
        "wa": np.where(total > 0, diag.sum(axis=-1) / safe_total, np.nan),
        "macro_f1": np.where(total > 0, f1.sum(axis=-1) / np.maximum(occurring.sum(axis=-1), 1), np.nan),
        "weighted_f1": np.where(total > 0, (f1 * support).sum(axis=-1) / safe_total, np.nan),
    }


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> Optional[list[float]]:
    """Percentile bootstrap interval ``[low, high]``; ``None`` when there are no finite replicates."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return [float(low), float(high)]
