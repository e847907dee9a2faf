"""Concordance correlation coefficient (CCC) between predicted and reference dimensional
scores (arousal, dominance, valence); 0 when the denominator is 0 (constant, equal inputs).

Offline `evaluate` module of hf_ser, loaded with ``hf_ser.metrics.load("ccc")`` (or
``evaluate.load(<path to this folder>)``); the computation is :func:`hf_ser.metrics.ccc`.
"""

import datasets
import numpy as np

from hf_ser.metrics.functions import ccc
from hf_ser.metrics.offline import metric_class

_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted scores (one float per item, or a list per item for several targets).
    references: reference scores, same shape as predictions.
Returns:
    ccc: the metric (mean over targets for 2-D inputs; ccc_per_target lists each target).
Example:
    >>> metric = hf_ser.metrics.load("ccc")
    >>> metric.compute(predictions=[1.0, 2.0, 3.0], references=[1.0, 2.0, 3.5])
"""

_FEATURES = [
    datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}),
    datasets.Features(
        {
            "predictions": datasets.Sequence(datasets.Value("float64")),
            "references": datasets.Sequence(datasets.Value("float64")),
        }
    ),
]


def _compute(predictions, references):
    value = ccc(
        predictions=np.asarray(predictions, dtype=np.float64),
        references=np.asarray(references, dtype=np.float64),
    )
    if np.ndim(value) == 0:
        return {"ccc": float(value)}
    return {"ccc": float(np.mean(value)), "ccc_per_target": [float(v) for v in value]}


Ccc = metric_class("ccc", __doc__, _KWARGS_DESCRIPTION, _FEATURES, _compute)
