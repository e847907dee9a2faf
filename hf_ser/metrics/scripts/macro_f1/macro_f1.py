"""Macro F1: unweighted mean of per-class F1 over classes seen in references or predictions.

Offline `evaluate` module of hf_ser, loaded with ``hf_ser.metrics.load("macro_f1")`` (or
``evaluate.load(<path to this folder>)``); the computation is :func:`hf_ser.metrics.macro_f1`.
"""

from hf_ser.metrics.functions import macro_f1
from hf_ser.metrics.offline import classification_metric

MacroF1 = classification_metric("macro_f1", __doc__, macro_f1)
