"""Offline `evaluate` modules for the hf_ser metrics (the Hub's ``evaluate.load("accuracy")`` needs network).

The metric scripts ship inside the package (``hf_ser/metrics/scripts/<name>/<name>.py``) and load from
that local path, so ``hf_ser.metrics.load("uar")`` works without network access.
"""

from __future__ import annotations

from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
METRIC_NAMES = ("uar", "wa", "macro_f1", "weighted_f1", "ccc")


def metric_path(name: str) -> Path:
    """Directory of the local metric script ``name`` (pass it to ``evaluate.load``)."""
    if name not in METRIC_NAMES:
        raise ValueError(f"Unknown hf_ser metric {name!r}; available: {list(METRIC_NAMES)}.")
    return SCRIPTS_DIR / name


def load(name: str, **kwargs):
    """Load an hf_ser metric as an `evaluate.EvaluationModule` from its local script (no network).

    Example:

    ```python
    >>> import hf_ser.metrics
    >>> uar = hf_ser.metrics.load("uar")
    >>> uar.compute(predictions=[0, 0, 1, 1], references=[0, 0, 0, 1])
    {'uar': 0.8333333333333333}

    ```
    """
    import evaluate

    return evaluate.load(str(metric_path(name)), **kwargs)


__all__ = ["METRIC_NAMES", "SCRIPTS_DIR", "load", "metric_path"]
