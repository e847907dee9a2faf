"""SER metrics as plain numpy functions: UAR, WA, macro/weighted F1, confusion matrix, CCC, MSE.

Written directly in numpy (checked against scikit-learn in the tests) so that degenerate inputs give
defined numbers instead of warnings or NaN: a class never predicted has precision 0, a constant
prediction has CCC 0.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def _labels(references, predictions) -> tuple[np.ndarray, np.ndarray]:
    references = np.asarray(references).reshape(-1).astype(np.int64)
    predictions = np.asarray(predictions).reshape(-1).astype(np.int64)
    if references.shape != predictions.shape:
        raise ValueError(f"references has {references.size} items but predictions has {predictions.size}.")
    if references.size == 0:
        raise ValueError("Cannot compute a metric on 0 items.")
    return references, predictions


def confusion_matrix(
    references: Sequence[int],
    predictions: Sequence[int],
    num_labels: Optional[int] = None,
    normalize: Optional[str] = None,
) -> np.ndarray:
    """``(num_labels, num_labels)`` counts, rows = reference class, columns = predicted class.

    Args:
        num_labels (`int`, *optional*): defaults to ``max(label) + 1``.
        normalize (`str`, *optional*): ``"true"`` (rows sum to 1), ``"pred"`` (columns), ``"all"`` or None.
    """
    references, predictions = _labels(references, predictions)
    if num_labels is None:
        num_labels = int(max(references.max(), predictions.max())) + 1
    if (
        references.min() < 0
        or predictions.min() < 0
        or max(references.max(), predictions.max()) >= num_labels
    ):
        raise ValueError(f"Labels must lie in [0, {num_labels}); got values outside that range.")
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (references, predictions), 1)
    if normalize is None:
        return matrix
    axis = {"true": 1, "pred": 0, "all": None}
    if normalize not in axis:
        raise ValueError(f"normalize={normalize!r} is not one of {list(axis)} or None.")
    totals = matrix.sum(axis=axis[normalize], keepdims=axis[normalize] is not None)
    return np.divide(matrix, totals, out=np.zeros(matrix.shape), where=np.asarray(totals) > 0)


def _per_class(references: np.ndarray, predictions: np.ndarray) -> tuple[np.ndarray, ...]:
    classes = np.union1d(references, predictions)
    true_positive = np.array([np.sum((references == c) & (predictions == c)) for c in classes], dtype=float)
    support = np.array([np.sum(references == c) for c in classes], dtype=float)
    predicted = np.array([np.sum(predictions == c) for c in classes], dtype=float)
    return classes, true_positive, support, predicted


def uar(references: Sequence[int], predictions: Sequence[int]) -> float:
    """Unweighted average recall: mean per-class recall over the classes present in ``references``.

    >>> uar([0, 0, 0, 1], [0, 0, 1, 1])  # recalls 2/3 and 1
    0.8333333333333333
    """
    references, predictions = _labels(references, predictions)
    _, true_positive, support, _ = _per_class(references, predictions)
    present = support > 0
    return float(np.mean(true_positive[present] / support[present]))


def wa(references: Sequence[int], predictions: Sequence[int]) -> float:
    """Weighted accuracy (plain accuracy: share of correct predictions)."""
    references, predictions = _labels(references, predictions)
    return float(np.mean(references == predictions))


def _f1(references, predictions) -> tuple[np.ndarray, np.ndarray]:
    references, predictions = _labels(references, predictions)
    _, true_positive, support, predicted = _per_class(references, predictions)
    denominator = support + predicted  # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (support + predicted)
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return f1, support


def macro_f1(references: Sequence[int], predictions: Sequence[int]) -> float:
    """Unweighted mean F1 over the classes that occur in references or predictions."""
    f1, _ = _f1(references, predictions)
    return float(np.mean(f1))


def weighted_f1(references: Sequence[int], predictions: Sequence[int]) -> float:
    """Mean F1 weighted by each class' number of references."""
    f1, support = _f1(references, predictions)
    return float(np.sum(f1 * support) / np.sum(support))


def ccc(predictions, references):
    """Concordance correlation coefficient ``2 cov / (var_p + var_r + (mean_p - mean_r)^2)``.

    1-D inputs give a float; ``(items, targets)`` inputs give one value per column. A zero denominator
    (both inputs constant and equal) gives 0, so constant predictions never produce NaN.

    >>> ccc([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    >>> ccc([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    0.0
    """
    predictions = np.asarray(predictions, dtype=np.float64)
    references = np.asarray(references, dtype=np.float64)
    if predictions.shape != references.shape:
        raise ValueError(
            f"predictions shape {predictions.shape} differs from references shape {references.shape}."
        )
    if predictions.ndim not in (1, 2) or predictions.shape[0] == 0:
        raise ValueError(
            f"ccc needs 1-D or 2-D (items, targets) non-empty inputs, got shape {predictions.shape}."
        )
    mean_p, mean_r = predictions.mean(axis=0), references.mean(axis=0)
    covariance = ((predictions - mean_p) * (references - mean_r)).mean(axis=0)
    denominator = predictions.var(axis=0) + references.var(axis=0) + (mean_p - mean_r) ** 2
    value = np.divide(2 * covariance, denominator, out=np.zeros_like(denominator), where=denominator > 0)
    return float(value) if predictions.ndim == 1 else value


def mse(predictions, references):
    """Mean squared error; per column for 2-D inputs."""
    predictions = np.asarray(predictions, dtype=np.float64)
    references = np.asarray(references, dtype=np.float64)
    if predictions.shape != references.shape:
        raise ValueError(
            f"predictions shape {predictions.shape} differs from references shape {references.shape}."
        )
    value = ((predictions - references) ** 2).mean(axis=0)
    return float(value) if predictions.ndim == 1 else value


def classification_metrics(references: Sequence[int], predictions: Sequence[int]) -> dict[str, float]:
    """``{"uar", "wa", "macro_f1", "weighted_f1"}`` for class indices."""
    return {
        "uar": uar(references, predictions),
        "wa": wa(references, predictions),
        "macro_f1": macro_f1(references, predictions),
        "weighted_f1": weighted_f1(references, predictions),
    }


def regression_metrics(predictions, references, target_names: Sequence[str]) -> dict[str, float]:
    """``ccc_<target>``, ``mse_<target>`` per column plus their means ``ccc`` and ``mse``."""
    predictions = np.asarray(predictions, dtype=np.float64).reshape(len(predictions), -1)
    references = np.asarray(references, dtype=np.float64).reshape(len(references), -1)
    if predictions.shape[1] != len(target_names):
        raise ValueError(f"{predictions.shape[1]} regression outputs but target_names={list(target_names)}.")
    cccs, errors = ccc(predictions, references), mse(predictions, references)
    result = {f"ccc_{name}": float(value) for name, value in zip(target_names, cccs, strict=True)}
    result.update({f"mse_{name}": float(value) for name, value in zip(target_names, errors, strict=True)})
    result["ccc"] = float(np.mean(cccs))
    result["mse"] = float(np.mean(errors))
    return result


__all__ = [
    "ccc",
    "classification_metrics",
    "confusion_matrix",
    "macro_f1",
    "mse",
    "regression_metrics",
    "uar",
    "wa",
    "weighted_f1",
]
