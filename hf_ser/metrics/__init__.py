"""SER metrics: numpy functions, `Trainer` ``compute_metrics`` factories and offline `evaluate` modules."""

from .functions import (
    ccc,
    classification_metrics,
    confusion_matrix,
    macro_f1,
    mse,
    regression_metrics,
    uar,
    wa,
    weighted_f1,
)
from .offline import METRIC_NAMES, load, metric_path
from .trainer_metrics import (
    build_compute_metrics,
    classification_compute_metrics,
    multitask_compute_metrics,
    regression_compute_metrics,
)

__all__ = [
    "METRIC_NAMES",
    "build_compute_metrics",
    "ccc",
    "classification_compute_metrics",
    "classification_metrics",
    "confusion_matrix",
    "load",
    "macro_f1",
    "metric_path",
    "mse",
    "multitask_compute_metrics",
    "regression_compute_metrics",
    "regression_metrics",
    "uar",
    "wa",
    "weighted_f1",
]
