"""Weighted accuracy (WA): the share of correct predictions.

Offline `evaluate` module of hf_ser, loaded with ``hf_ser.metrics.load("wa")`` (or
``evaluate.load(<path to this folder>)``); the computation is :func:`hf_ser.metrics.wa`.
"""

from hf_ser.metrics.functions import wa
from hf_ser.metrics.offline import classification_metric

Wa = classification_metric("wa", __doc__, wa)
