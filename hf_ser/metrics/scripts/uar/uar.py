"""Unweighted average recall (UAR): mean per-class recall over the classes present in the
references, the standard SER metric for imbalanced corpora.

Offline `evaluate` module of hf_ser, loaded with ``hf_ser.metrics.load("uar")`` (or
``evaluate.load(<path to this folder>)``); the computation is :func:`hf_ser.metrics.uar`.
"""

import datasets
import evaluate

from hf_ser.metrics.functions import uar

_DESCRIPTION = """Unweighted average recall (UAR): mean per-class recall over the classes present in the
references, the standard SER metric for imbalanced corpora."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class indices.
    references: reference class indices.
Returns:
    uar: the metric.
Example:
    >>> metric = hf_ser.metrics.load("uar")
    >>> metric.compute(predictions=[0, 0, 1, 1], references=[0, 0, 0, 1])
"""


class Uar(evaluate.Metric):
    """Unweighted average recall (UAR) as an `evaluate.Metric`."""

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
        return {"uar": uar(references, predictions)}
