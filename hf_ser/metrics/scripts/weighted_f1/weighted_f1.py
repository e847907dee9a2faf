"""Weighted F1: per-class F1 weighted by the number of references of each class.

Offline `evaluate` module of hf_ser, loaded with ``hf_ser.metrics.load("weighted_f1")`` (or
``evaluate.load(<path to this folder>)``); the computation is :func:`hf_ser.metrics.weighted_f1`.
"""

import datasets
import evaluate

from hf_ser.metrics.functions import weighted_f1

_DESCRIPTION = """Weighted F1: per-class F1 weighted by the number of references of each class."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class indices.
    references: reference class indices.
Returns:
    weighted_f1: the metric.
Example:
    >>> metric = hf_ser.metrics.load("weighted_f1")
    >>> metric.compute(predictions=[0, 0, 1, 1], references=[0, 0, 0, 1])
"""


class WeightedF1(evaluate.Metric):
    """Weighted F1 as an `evaluate.Metric`."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references):
        return {"weighted_f1": weighted_f1(references, predictions)}
