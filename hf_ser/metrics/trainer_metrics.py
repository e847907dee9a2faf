"""`compute_metrics` factories for transformers' `Trainer` (classification, regression, multitask).

`Trainer` hands ``compute_metrics`` an `EvalPrediction` whose ``predictions`` is the model output
without the loss: a `SERModelOutput` becomes the tuple ``(logits, [regression,] pooled, ...)`` (fields
that are None are dropped), and whose ``label_ids`` is one array or, with several ``label_names``, a
tuple in ``label_names`` order. The factories below pick the right pieces, ignore class labels equal to
-100 (or -1, "no class") and regression rows with NaN targets.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from .functions import classification_metrics, regression_metrics

DEFAULT_REGRESSION_TARGETS = ("arousal", "dominance", "valence")
TASKS = ("classification", "regression", "multitask")


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _class_labels(label_ids) -> np.ndarray:
    for item in _as_tuple(label_ids):
        if item is not None and np.asarray(item).ndim == 1:
            return np.asarray(item)
    raise ValueError(
        "No 1-D class label array in label_ids; set label_names=['labels', ...] in TrainingArguments."
    )


def _regression_labels(label_ids) -> np.ndarray:
    for item in _as_tuple(label_ids):
        if item is not None and np.asarray(item).ndim == 2 and np.asarray(item).dtype.kind == "f":
            return np.asarray(item)
    raise ValueError(
        "No 2-D float regression label array in label_ids; set label_names=['regression_labels'] (or "
        "['labels', 'regression_labels'] for multitask) in TrainingArguments."
    )


def _classification(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    keep = labels >= 0
    predictions = np.asarray(logits)[keep].argmax(axis=-1)
    return classification_metrics(predictions=predictions, references=labels[keep])


def _regression(values: np.ndarray, targets: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    keep = ~np.isnan(targets).any(axis=1)
    return regression_metrics(predictions=values[keep], references=targets[keep], target_names=names)


def classification_compute_metrics() -> Callable:
    """``compute_metrics`` returning ``uar``, ``wa``, ``macro_f1``, ``weighted_f1`` from logits.

    Example:

    ```python
    >>> import numpy as np
    >>> from transformers import EvalPrediction
    >>> from hf_ser.metrics import classification_compute_metrics
    >>> metrics = classification_compute_metrics()
    >>> logits = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> metrics(EvalPrediction(predictions=logits, label_ids=np.array([0, 1, 1])))["uar"]
    0.75

    ```
    """

    def compute_metrics(eval_prediction) -> dict[str, float]:
        logits = _as_tuple(eval_prediction.predictions)[0]
        return _classification(logits, _class_labels(eval_prediction.label_ids))

    return compute_metrics


def regression_compute_metrics(target_names: Sequence[str] = DEFAULT_REGRESSION_TARGETS) -> Callable:
    """``compute_metrics`` returning ``ccc_<target>``, ``mse_<target>``, mean ``ccc`` and ``mse``."""
    names = list(target_names)

    def compute_metrics(eval_prediction) -> dict[str, float]:
        values = _as_tuple(eval_prediction.predictions)[0]
        return _regression(values, _regression_labels(eval_prediction.label_ids), names)

    return compute_metrics


def multitask_compute_metrics(target_names: Sequence[str] = DEFAULT_REGRESSION_TARGETS) -> Callable:
    """Classification metrics from ``predictions[0]`` plus regression metrics from ``predictions[1]``."""
    names = list(target_names)

    def compute_metrics(eval_prediction) -> dict[str, float]:
        predictions = _as_tuple(eval_prediction.predictions)
        if len(predictions) < 2:
            raise ValueError("Multitask metrics need (logits, regression, ...) predictions; got one array.")
        result = _classification(predictions[0], _class_labels(eval_prediction.label_ids))
        result.update(_regression(predictions[1], _regression_labels(eval_prediction.label_ids), names))
        return result

    return compute_metrics


def build_compute_metrics(
    task: str = "classification", regression_targets: Optional[Sequence[str]] = None
) -> Callable:
    """The ``compute_metrics`` for ``task`` (e.g. ``build_compute_metrics(model.config.task,
    model.config.regression_targets)``)."""
    targets = list(regression_targets) if regression_targets else list(DEFAULT_REGRESSION_TARGETS)
    if task == "classification":
        return classification_compute_metrics()
    if task == "regression":
        return regression_compute_metrics(targets)
    if task == "multitask":
        return multitask_compute_metrics(targets)
    raise ValueError(f"task={task!r} is not one of {list(TASKS)}.")


__all__ = [
    "build_compute_metrics",
    "classification_compute_metrics",
    "multitask_compute_metrics",
    "regression_compute_metrics",
]
