"""Deprecated alias of :mod:`hf_ser.training.trainer_distillation` (kept for one release)."""

from ._deprecation import warn_moved
from .training import trainer_distillation as _moved
from .training.trainer_distillation import *  # noqa: F403

warn_moved("hf_ser.distill", "hf_ser.training.trainer_distillation")

__all__ = list(_moved.__all__)
