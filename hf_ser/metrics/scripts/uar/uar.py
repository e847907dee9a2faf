"""Unweighted average recall (UAR): mean per-class recall over the classes present in the
references, the standard SER metric for imbalanced corpora.

Offline `evaluate` module of hf_ser, loaded with ``hf_ser.metrics.load("uar")`` (or
``evaluate.load(<path to this folder>)``); the computation is :func:`hf_ser.metrics.uar`.
"""

from hf_ser.metrics.functions import uar
from hf_ser.metrics.offline import classification_metric

Uar = classification_metric("uar", __doc__, uar)
