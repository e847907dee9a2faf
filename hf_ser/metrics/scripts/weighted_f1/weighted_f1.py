"""Weighted F1: per-class F1 weighted by the number of references of each class.

Offline `evaluate` module of hf_ser, loaded with ``hf_ser.metrics.load("weighted_f1")`` (or
``evaluate.load(<path to this folder>)``); the computation is :func:`hf_ser.metrics.weighted_f1`.
"""

from hf_ser.metrics.functions import weighted_f1
from hf_ser.metrics.offline import classification_metric

WeightedF1 = classification_metric("weighted_f1", __doc__, weighted_f1)
