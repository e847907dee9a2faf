"""Deprecated alias of :mod:`hf_ser.data.augment` (kept for one release, with a `FutureWarning`)."""

from ._deprecation import warn_moved
from .data import augment as _augment
from .data.augment import *  # noqa: F403

warn_moved("hf_ser.augment", "hf_ser.data.augment")

__all__ = list(_augment.__all__)
