"""Macro F1: unweighted mean of per-class F1 over classes seen in references or predictions.

Offline `evaluate` module of hf_ser, loaded with ``hf_ser.metrics.load("macro_f1")`` (or
``evaluate.load(<path to this folder>)``); the computation is :func:`hf_ser.metrics.macro_f1`.
"""

import datasets
import evaluate

from hf_ser.metrics.functions import macro_f1

_DESCRIPTION = """Macro F1: unweighted mean of per-class F1 over classes seen in references or predictions."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted class indices.
    references: reference class indices.
Returns:
    macro_f1: the metric.
Example:
    >>> metric = hf_ser.metrics.load("macro_f1")
    >>> metric.compute(predictions=[0, 0, 1, 1], references=[0, 0, 0, 1])
"""


class MacroF1(evaluate.Metric):
    """Macro F1 as an `evaluate.Metric`."""

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
        return {"macro_f1": macro_f1(references, predictions)}
