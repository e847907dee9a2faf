"""SER metrics as plain numpy functions: UAR, WA, macro/weighted F1, confusion matrix, CCC, MSE.

Written directly in numpy (checked against scikit-learn in the tests) so that degenerate inputs give
defined numbers instead of warnings or NaN: a class never predicted has precision 0, a constant
prediction has CCC 0.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

# below this a CCC denominator is round-off of constant inputs, not variance
_ZERO_VARIANCE = 1e-12


def _labels(predictions, references) -> tuple[np.ndarray, np.ndarray]:
    """Flat int64 ``(predictions, references)``, checked to be non-empty and of equal length."""
    predictions = np.asarray(predictions).reshape(-1).astype(np.int64)
    references = np.asarray(references).reshape(-1).astype(np.int64)
    if references.shape != predictions.shape:
        raise ValueError(f"predictions has {predictions.size} items but references has {references.size}.")
    if references.size == 0:
        raise ValueError("Cannot compute a metric on 0 items.")
    return predictions, references


def confusion_matrix(
    predictions: Sequence[int],
    references: Sequence[int],
    num_labels: Optional[int] = None,
    normalize: Optional[str] = None,
) -> np.ndarray:
    """``(num_labels, num_labels)`` counts, rows = reference class, columns = predicted class.

    Args:
        num_labels (`int`, *optional*): defaults to ``max(label) + 1``.
        normalize (`str`, *optional*): ``"true"`` (rows sum to 1), ``"pred"`` (columns), ``"all"`` or None.
    """
    predictions, references = _labels(predictions, references)
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


def _per_class(predictions: np.ndarray, references: np.ndarray) -> tuple[np.ndarray, ...]:
    """Classes occurring anywhere, with their true positives, supports and prediction counts."""
    classes = np.union1d(references, predictions)
    true_positive = np.array([np.sum((references == c) & (predictions == c)) for c in classes], dtype=float)
    support = np.array([np.sum(references == c) for c in classes], dtype=float)
    predicted = np.array([np.sum(predictions == c) for c in classes], dtype=float)
    return classes, true_positive, support, predicted


def uar(predictions: Sequence[int], references: Sequence[int]) -> float:
    """Unweighted average recall: mean per-class recall over the classes present in ``references``.

    >>> uar(predictions=[0, 0, 1, 1], references=[0, 0, 0, 1])  # recalls 2/3 and 1
    0.8333333333333333
    """
    predictions, references = _labels(predictions, references)
    _, true_positive, support, _ = _per_class(predictions, references)
    present = support > 0
    return float(np.mean(true_positive[present] / support[present]))


def wa(predictions: Sequence[int], references: Sequence[int]) -> float:
    """Weighted accuracy (plain accuracy: share of correct predictions)."""
    predictions, references = _labels(predictions, references)
    return float(np.mean(references == predictions))


def _f1(predictions, references) -> tuple[np.ndarray, np.ndarray]:
    """Per-class F1 and support of the classes occurring in predictions or references."""
    predictions, references = _labels(predictions, references)
    _, true_positive, support, predicted = _per_class(predictions, references)
    denominator = support + predicted  # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (support + predicted)
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return f1, support


def macro_f1(predictions: Sequence[int], references: Sequence[int]) -> float:
    """Unweighted mean F1 over the classes that occur in references or predictions."""
    f1, _ = _f1(predictions, references)
    return float(np.mean(f1))


def weighted_f1(predictions: Sequence[int], references: Sequence[int]) -> float:
    """Mean F1 weighted by each class' number of references."""
    f1, support = _f1(predictions, references)
    return float(np.sum(f1 * support) / np.sum(support))


def _check_regression_inputs(predictions: ArrayLike, references: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Float64 ``(predictions, references)`` of the same 1-D or 2-D ``(items, targets)`` non-empty shape."""
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
    return predictions, references


def _normalised_weights(sample_weight: Optional[ArrayLike], num_items: int) -> Optional[np.ndarray]:
    """``sample_weight`` ``(num_items,)`` or ``(replicates, num_items)`` scaled to sum to 1 per row."""
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.ndim not in (1, 2) or weights.shape[-1] != num_items or (weights < 0).any():
        raise ValueError(
            f"sample_weight must be non-negative with shape ({num_items},) or (replicates, {num_items}), "
            f"got shape {weights.shape}."
        )
    return weights / np.maximum(weights.sum(axis=-1, keepdims=True), 1e-12)


def _average(values: np.ndarray, weights: Optional[np.ndarray], target_dims: int) -> np.ndarray:
    """Mean over the items axis: axis 0 without weights, else the axis matching the weights' last axis.

    ``values`` is ``(items, *targets)`` or, for deviations, ``(*replicates, items, *targets)``; the result
    drops the items axis, so weights ``(replicates, items)`` give one value per replicate.
    """
    if weights is None:
        return values.mean(axis=0)
    shaped = weights.reshape(weights.shape + (1,) * target_dims)
    return (shaped * values).sum(axis=weights.ndim - 1)


def ccc(
    predictions: ArrayLike, references: ArrayLike, sample_weight: Optional[ArrayLike] = None
) -> Union[float, np.ndarray]:
    """Concordance correlation coefficient ``2 cov / (var_p + var_r + (mean_p - mean_r)^2)``.

    Population (biased) moments. 1-D inputs give a float; ``(items, targets)`` inputs give one value per
    column. A (numerically) zero denominator (both inputs constant and equal) gives 0, so constant
    predictions never produce NaN. This is the one CCC of hf_ser (metrics, bootstrap intervals,
    evaluation); the training loss ``hf_ser.models.losses.concordance_correlation`` is a torch copy kept
    in ``models/`` because that package ships as self-contained remote code, and
    ``tests/test_metrics.py`` checks that both agree.

    Args:
        predictions: predicted scores, ``(items,)`` or ``(items, targets)``.
        references: reference scores, same shape.
        sample_weight (*optional*): non-negative item weights ``(items,)``, or ``(replicates, items)``
            (e.g. bootstrap draw counts) for one CCC per replicate (leading axis of the result).

    >>> ccc(predictions=[1.0, 2.0, 3.0], references=[1.0, 2.0, 3.0])
    1.0
    >>> ccc([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    0.0
    """
    predictions, references = _check_regression_inputs(predictions, references)
    weights = _normalised_weights(sample_weight, predictions.shape[0])
    target_dims = predictions.ndim - 1
    items_axis = 0 if weights is None else weights.ndim - 1
    mean_p = _average(predictions, weights, target_dims)
    mean_r = _average(references, weights, target_dims)
    deviation_p = predictions - np.expand_dims(mean_p, items_axis)
    deviation_r = references - np.expand_dims(mean_r, items_axis)
    covariance = _average(deviation_p * deviation_r, weights, target_dims)
    denominator = (
        _average(deviation_p**2, weights, target_dims)
        + _average(deviation_r**2, weights, target_dims)
        + (mean_p - mean_r) ** 2
    )
    value = np.divide(
        2 * covariance, denominator, out=np.zeros_like(denominator), where=denominator > _ZERO_VARIANCE
    )
    return float(value) if value.ndim == 0 else value


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


def classification_metrics(predictions: Sequence[int], references: Sequence[int]) -> dict[str, float]:
    """``{"uar", "wa", "macro_f1", "weighted_f1"}`` for class indices."""
    return {
        "uar": uar(predictions, references),
        "wa": wa(predictions, references),
        "macro_f1": macro_f1(predictions, references),
        "weighted_f1": weighted_f1(predictions, references),
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
