"""Offline `evaluate` modules for the hf_ser metrics (the Hub's ``evaluate.load("accuracy")`` needs network).

The metric scripts ship inside the package (``hf_ser/metrics/scripts/<name>/<name>.py``) and load from
that local path, so ``hf_ser.metrics.load("uar")`` works without network access. Each script is a thin
shell: it builds its `evaluate.Metric` class with :func:`metric_class` (or :func:`classification_metric`)
around the numpy function of :mod:`hf_ser.metrics.functions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

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


def metric_class(
    name: str,
    module_doc: str,
    inputs_description: str,
    features: Any,
    compute: Callable[[Any, Any], dict[str, Any]],
) -> type:
    """Build the `evaluate.Metric` subclass of the metric script ``name``.

    Args:
        name: metric name in snake case; the class is its CamelCase form (``"macro_f1"`` -> ``MacroF1``),
            which `evaluate` turns back into the module name.
        module_doc: the script's ``__doc__``; its first paragraph is the metric description.
        inputs_description: the `Args` / `Returns` / `Example` text shown by `evaluate`.
        features: the `datasets.Features` (or list of them) accepted as predictions / references.
        compute: ``compute(predictions, references) -> dict`` of results.
    """
    import evaluate

    description = module_doc.strip().split("\n\n")[0]

    def _info(self: evaluate.Metric) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=description, citation="", inputs_description=inputs_description, features=features
        )

    def _compute(self: evaluate.Metric, predictions: Any, references: Any) -> dict[str, Any]:
        return compute(predictions, references)

    class_name = "".join(part.capitalize() for part in name.split("_"))
    doc = f"{description.splitlines()[0]} (as an `evaluate.Metric`)."
    return type(class_name, (evaluate.Metric,), {"__doc__": doc, "_info": _info, "_compute": _compute})


def classification_metric(name: str, module_doc: str, function: Callable[[Any, Any], float]) -> type:
    """`evaluate.Metric` class for ``function(predictions, references) -> float`` over class indices,
    returning ``{name: value}`` (see :func:`metric_class`)."""
    import datasets

    inputs_description = f"""
Args:
    predictions: predicted class indices.
    references: reference class indices.
Returns:
    {name}: the metric.
Example:
    >>> metric = hf_ser.metrics.load("{name}")
    >>> metric.compute(predictions=[0, 0, 1, 1], references=[0, 0, 0, 1])
"""
    features = datasets.Features(
        {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
    )
    return metric_class(
        name,
        module_doc,
        inputs_description,
        features,
        lambda predictions, references: {name: function(predictions=predictions, references=references)},
    )


__all__ = ["METRIC_NAMES", "SCRIPTS_DIR", "classification_metric", "load", "metric_class", "metric_path"]
