"""Public alias of :mod:`hf_ser.data.augment` (``from hf_ser.augment import build_augmentation``).

It re-exports exactly ``hf_ser.data.augment.__all__``, so the public list is written once, there.
"""

from .data import augment as _augment
from .data.augment import *  # noqa: F403

__all__ = list(_augment.__all__)
