"""Per-clip waveform transforms: the one random-crop (+ augmentation) and centre-crop implementation.

Both are plain callables ``transform(array, sampling_rate, label=None) -> array``, the hook signature
of :func:`hf_ser.data.with_decoded_audio` and of :mod:`hf_ser.augment`, so the same object crops in a
dataset transform (the recipes) or in :class:`hf_ser.data.SERDataCollator`.

Random crops are *reproducible*: the offset is drawn from ``(seed, epoch, CRC32 of the clip's
samples)``, not from a generator advanced by every draw. A new epoch gives new crops, yet a run resumed
from a checkpoint, or a data loader with several workers, sees exactly the same crops as an uninterrupted
single-process run. Set ``transform.epoch`` at each epoch (with `Trainer`:
``hf_ser.training.CropEpochCallback(transform)``).

Example:

```python
>>> import numpy as np
>>> from hf_ser.data.transforms import RandomCrop
>>> crop = RandomCrop(max_seconds=0.5, seed=0)
>>> clip = np.arange(16000, dtype=np.float32)
>>> first = crop(clip, 16000)
>>> first.shape, bool(np.array_equal(first, crop(clip, 16000)))  # same epoch: same crop
((8000,), True)
>>> crop.epoch = 1
>>> bool(np.array_equal(first, crop(clip, 16000)))  # next epoch: another window
False

```
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, Optional

import numpy as np


def clip_key(array: np.ndarray) -> int:
    """CRC32 of a clip's samples: the per-clip part of the random seeds (a stand-in for the row index,
    which a `datasets` transform does not see), stable across processes, workers and resumes."""
    return zlib.crc32(np.ascontiguousarray(array).tobytes())


def _max_samples(max_seconds: Optional[float], sampling_rate: int) -> Optional[int]:
    return None if max_seconds is None else int(round(max_seconds * sampling_rate))


def _check_max_seconds(max_seconds: Optional[float]) -> None:
    if max_seconds is not None and not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive (or None: no crop), got {max_seconds!r}.")


class RandomCrop:
    """Training clips: crop longer clips to ``max_seconds`` (a reproducible random window), then augment.

    Args:
        max_seconds (`float`, *optional*): crop length; `None` = never crop (augmentation only).
        seed (`int`, *optional*, defaults to 0): seed of the crop offsets.
        augment (`Callable`, *optional*): ``augment(array, sampling_rate, label=...)`` applied after the
            crop (cheaper than before it: the augmentation sees only the kept window).
        random (`bool`, *optional*, defaults to `True`): `False` keeps the first ``max_seconds``.

    ``epoch`` (attribute, default 0) selects the crops of an epoch.
    """

    def __init__(
        self,
        max_seconds: Optional[float],
        seed: int = 0,
        augment: Optional[Callable[..., np.ndarray]] = None,
        random: bool = True,
    ) -> None:
        _check_max_seconds(max_seconds)
        self.max_seconds = max_seconds
        self.seed = seed
        self.augment = augment
        self.random = random
        self.epoch = 0

    @property
    def epoch(self) -> int:
        """The epoch whose crops (and augmentations) are drawn; passed on to ``augment`` when it has an
        ``epoch`` too (:class:`hf_ser.data.augment.Augmenter`)."""
        return self._epoch

    @epoch.setter
    def epoch(self, epoch: int) -> None:
        self._epoch = int(epoch)
        if hasattr(self.augment, "epoch"):
            self.augment.epoch = self._epoch

    def offset(self, array: np.ndarray, size: int) -> int:
        """Start of the window of ``size`` samples kept from ``array`` in the current epoch."""
        if not self.random:
            return 0
        rng = np.random.default_rng([self.seed, self.epoch, clip_key(array)])
        return int(rng.integers(0, len(array) - size + 1))

    def __call__(self, array: np.ndarray, sampling_rate: int, label: Any = None) -> np.ndarray:
        size = _max_samples(self.max_seconds, sampling_rate)
        if size is not None and len(array) > size:
            start = self.offset(array, size)
            array = array[start : start + size]
        if self.augment is not None:
            array = self.augment(array, sampling_rate, label=label)
        return array


class CenterCrop:
    """Evaluation clips: crop longer clips to their central ``max_seconds`` (deterministic), nothing else.

    ``max_seconds=None`` returns clips unchanged.
    """

    def __init__(self, max_seconds: Optional[float]) -> None:
        _check_max_seconds(max_seconds)
        self.max_seconds = max_seconds

    def __call__(self, array: np.ndarray, sampling_rate: int, label: Any = None) -> np.ndarray:
        size = _max_samples(self.max_seconds, sampling_rate)
        if size is not None and len(array) > size:
            start = (len(array) - size) // 2
            array = array[start : start + size]
        return array
