"""Weighted accuracy (WA): the share of correct predictions.

Offline `evaluate` module of hf_ser, loaded with ``hf_ser.metrics.load("wa")`` (or
``evaluate.load(<path to this folder>)``); the computation is :func:`hf_ser.metrics.wa`.
"""

import datasets
import evaluate

from hf_ser.metrics.functions import wa

_DESCRIPTION = """Weighted accuracy (WA): the share of correct predictions."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class indices.
    references: reference class indices.
Returns:
    wa: the metric.
Example:
    >>> metric = hf_ser.metrics.load("wa")
    >>> metric.compute(predictions=[0, 0, 1, 1], references=[0, 0, 0, 1])
"""


class Wa(evaluate.Metric):
    """Weighted accuracy (WA) as an `evaluate.Metric`."""

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
        return {"wa": wa(references, predictions)}
