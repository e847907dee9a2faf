"""Data augmentation for SER training: waveform presets, CopyPaste, speed perturbation, SpecAugment.

Every waveform augmentation is a callable ``augment(array, sampling_rate, label=None) -> array`` on
float32 mono arrays, so it plugs into :func:`hf_ser.data.with_decoded_audio` (``augment=``, training
split only) or :class:`hf_ser.data.SERDataCollator` (``augment=``, applied only while
``collator.training`` is True). None of them changes the label: CopyPaste keeps the emotional label by
construction (Pappagari et al., 2021).

Reproducibility: an :class:`Augmenter` keeps no sequential random state. Each call draws from a
generator derived from ``(seed, epoch, clip key)``, the key being a CRC32 of the clip's samples (as for
:class:`hf_ser.data.transforms.RandomCrop`), so a clip's augmentation depends only on the seed, the epoch
and the clip itself: a run resumed from a checkpoint, or a data loader with several workers, augments
exactly as an uninterrupted single-process run. Set ``augmenter.epoch`` each epoch (a ``RandomCrop``
holding the augmenter passes its own epoch on; with `Trainer`, ``hf_ser.training.CropEpochCallback``).
Speed perturbation, reverberation and CopyPaste draw from that generator; audiomentations draws from
Python's and numpy's global generators, which the augmenter seeds from it for the duration of the call and
restores afterwards.

Example:

```python
>>> import numpy as np
>>> from hf_ser.augment import build_augmentation
>>> augment = build_augmentation("default", seed=0)
>>> clip = np.sin(np.linspace(0, 2000, 16000)).astype(np.float32)
>>> augmented = augment(clip, 16000)
>>> augmented.dtype
dtype('float32')

```
"""

from __future__ import annotations

import abc
import contextlib
import random
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from .audio import DEFAULT_SAMPLING_RATE, change_speed, decode_example_audio
from .transforms import clip_key

PRESETS: dict[str, dict[str, Any]] = {
    "light": {
        "noise_snr_db": (20.0, 40.0),
        "gain_db": (-3.0, 3.0),
        "pitch_semitones": None,
        "stretch_rate": None,
        "band_pass": False,
        "p": 0.5,
    },
    "default": {
        "noise_snr_db": (10.0, 30.0),
        "gain_db": (-6.0, 6.0),
        "pitch_semitones": (-2.0, 2.0),
        "stretch_rate": (0.9, 1.1),
        "band_pass": True,
        "p": 0.5,
    },
    "strong": {
        "noise_snr_db": (5.0, 20.0),
        "gain_db": (-12.0, 12.0),
        "pitch_semitones": (-4.0, 4.0),
        "stretch_rate": (0.8, 1.25),
        "band_pass": True,
        "p": 0.7,
    },
}
"""Waveform augmentation presets for :func:`build_augmentation` (options can be overridden one by one)."""

COPY_PASTE_MODES = ("n-cp", "se-cp", "both")
REVERB_CHOICES = (False, True, "synthetic", "room")


@contextlib.contextmanager
def _seeded_global_random(seed: int):
    """Seed Python's and numpy's global generators (used by audiomentations), then restore them."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


class WaveformAugmentation(abc.ABC):
    """Base of hf_ser's own waveform augmentations: ``__call__(array, sampling_rate, label=None, rng=None)``.

    ``rng`` is the `numpy.random.Generator` the :class:`Augmenter` passes for reproducibility.
    """

    @abc.abstractmethod
    def __call__(self, array: np.ndarray, sampling_rate: int, label=None, rng=None) -> np.ndarray:
        """Return the augmented float32 mono array (same label)."""


class SpeedPerturbation(WaveformAugmentation):
    """Kaldi-style speed perturbation: resample so playback is ``factor`` times faster (tempo and pitch).

    Args:
        factors (`Sequence[float]`, *optional*, defaults to `(0.9, 1.0, 1.1)`): speeds to choose from.
        p (`float`, *optional*, defaults to 1.0): probability of applying it.
    """

    def __init__(self, factors: Sequence[float] = (0.9, 1.0, 1.1), p: float = 1.0):
        if not factors or any(f <= 0 for f in factors):
            raise ValueError(f"factors must be positive speeds, got {factors!r}.")
        self.factors = tuple(float(f) for f in factors)
        self.p = p

    def __call__(self, array: np.ndarray, sampling_rate: int, label=None, rng=None) -> np.ndarray:
        rng = rng if rng is not None else np.random.default_rng()
        if rng.random() >= self.p:
            return array
        return change_speed(array, sampling_rate, self.factors[rng.integers(len(self.factors))])


class SyntheticReverb(WaveformAugmentation):
    """Room reverberation from a synthetic impulse response (exponentially decaying noise), no IR files.

    Args:
        rt60 (`tuple[float, float]`, *optional*, defaults to `(0.2, 0.8)`): reverberation time range (s).
        wet (`tuple[float, float]`, *optional*, defaults to `(0.1, 0.5)`): share of reverberant signal.
        p (`float`, *optional*, defaults to 0.5): probability of applying it.
    """

    def __init__(self, rt60: tuple[float, float] = (0.2, 0.8), wet: tuple[float, float] = (0.1, 0.5), p=0.5):
        self.rt60, self.wet, self.p = rt60, wet, p

    def __call__(self, array: np.ndarray, sampling_rate: int, label=None, rng=None) -> np.ndarray:
        from scipy.signal import fftconvolve

        rng = rng if rng is not None else np.random.default_rng()
        if rng.random() >= self.p:
            return array
        rt60 = rng.uniform(*self.rt60)
        time = np.arange(int(rt60 * sampling_rate)) / sampling_rate
        impulse = rng.standard_normal(time.size) * np.exp(-6.9 * time / rt60)  # -60 dB at rt60
        impulse /= np.sqrt(np.sum(impulse**2)) + 1e-12
        reverberant = fftconvolve(array, impulse)[: array.size]
        wet = rng.uniform(*self.wet)
        mixed = (1 - wet) * array + wet * reverberant
        peak = np.max(np.abs(mixed)) + 1e-12
        return (mixed * min(1.0, np.max(np.abs(array)) / peak)).astype(np.float32)


class RoomReverb(WaveformAugmentation):
    """Shoebox-room reverberation simulated by audiomentations' `RoomSimulator` (image source method).

    Needs the optional ``pyroomacoustics`` package (``pip install pyroomacoustics``). Ray tracing is off
    and the reflection order limited (``max_order``) so a 2 s clip takes ~20 ms. The output is scaled
    back to the input's peak level.

    Args:
        p (`float`, *optional*, defaults to 0.5): probability of applying it.
        max_order (`int`, *optional*, defaults to 6): image-source reflection order.
    """

    def __init__(self, p: float = 0.5, max_order: int = 6):
        import importlib.util

        if importlib.util.find_spec("pyroomacoustics") is None:
            raise ImportError(
                "reverb='room' needs pyroomacoustics: pip install pyroomacoustics (or use 'synthetic')."
            )
        import audiomentations as am

        self.p = p
        self.simulator = am.RoomSimulator(
            use_ray_tracing=False, max_order=max_order, leave_length_unchanged=True, p=1.0
        )

    def __call__(self, array: np.ndarray, sampling_rate: int, label=None, rng=None) -> np.ndarray:
        rng = rng if rng is not None else np.random.default_rng()
        if rng.random() >= self.p:
            return array
        # RoomSimulator draws its room from numpy's global generator (seeded by the Augmenter).
        reverberant = self.simulator(samples=array, sample_rate=sampling_rate)
        peak = np.max(np.abs(reverberant)) + 1e-12
        return (reverberant * (np.max(np.abs(array)) / peak)).astype(np.float32)


class CopyPaste(WaveformAugmentation):
    """CopyPaste (Pappagari et al., 2021): join a training clip with a chunk of another clip.

    * ``"n-cp"``: the partner is a neutral clip; the result keeps the emotional clip's label (emotion
      is perceived even when only part of a clip carries it).
    * ``"se-cp"``: the partner has the same emotion.
    * ``"both"``: one of the two, chosen at random per clip.

    Args:
        dataset (`datasets.Dataset`): the *training* pool with an audio column (paths) and a `ClassLabel`
            label column, e.g. from :func:`hf_ser.data.load_corpus`. Partners are decoded on demand.
        mode (`str`, *optional*, defaults to `"both"`): ``"n-cp"``, ``"se-cp"`` or ``"both"``.
        probability (`float`, *optional*, defaults to 0.5): share of clips that are augmented.
        chunk_seconds (`float`, *optional*, defaults to 2.0): length of the partner chunk (random offset);
            ``None`` pastes the whole partner.
        neutral_label (`str`, *optional*, defaults to `"neutral"`): name of the neutral class.
        audio_column / label_column (`str`): column names.
    """

    def __init__(
        self,
        dataset,
        mode: str = "both",
        probability: float = 0.5,
        chunk_seconds: Optional[float] = 2.0,
        neutral_label: str = "neutral",
        audio_column: str = "audio",
        label_column: str = "label",
    ):
        if mode not in COPY_PASTE_MODES:
            raise ValueError(f"mode={mode!r} is not one of {list(COPY_PASTE_MODES)}.")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability={probability!r} must lie in [0, 1].")
        raw = dataset.with_format(None)  # paths and labels, without any decoding transform
        names = list(raw.features[label_column].names)
        if mode in ("n-cp", "both") and neutral_label not in names:
            raise ValueError(f"mode={mode!r} needs a {neutral_label!r} class; the dataset has {names}.")
        self.mode, self.probability, self.chunk_seconds = mode, probability, chunk_seconds
        self.audio = list(raw[audio_column])
        labels = np.asarray(raw[label_column])
        self.by_label = {label: np.flatnonzero(labels == label) for label in np.unique(labels)}
        self.neutral = names.index(neutral_label) if neutral_label in names else None

    def __call__(self, array: np.ndarray, sampling_rate: int, label=None, rng=None) -> np.ndarray:
        if label is None:
            raise ValueError("CopyPaste needs the clip's label (pass label=...).")
        rng = rng if rng is not None else np.random.default_rng()
        if rng.random() >= self.probability:
            return array
        mode = self.mode if self.mode != "both" else ("n-cp", "se-cp")[rng.integers(2)]
        partner_label = self.neutral if mode == "n-cp" else int(label)
        candidates = self.by_label.get(partner_label, np.empty(0, dtype=int))
        if candidates.size == 0:
            return array
        partner = decode_example_audio(self.audio[rng.choice(candidates)], sampling_rate)
        if self.chunk_seconds is not None:
            size = int(self.chunk_seconds * sampling_rate)
            if partner.size > size:
                start = rng.integers(partner.size - size + 1)
                partner = partner[start : start + size]
        pieces = (array, partner) if rng.random() < 0.5 else (partner, array)
        return np.concatenate(pieces).astype(np.float32)


class Augmenter:
    """Apply waveform augmentations in order, reproducibly under ``(seed, epoch, clip)``.

    Args:
        transforms (`Sequence[Callable]`): audiomentations transforms (called as
            ``t(samples=..., sample_rate=...)``) and/or :class:`WaveformAugmentation` instances
            (:class:`SpeedPerturbation`, :class:`SyntheticReverb`, :class:`RoomReverb`, :class:`CopyPaste`).
        seed (`int`, *optional*, defaults to 0).

    ``epoch`` (attribute, default 0) selects the augmentations of an epoch; the same clip in the same
    epoch is always augmented the same way, whatever was augmented before it.
    """

    def __init__(self, transforms: Sequence[Callable], seed: int = 0):
        self.transforms = list(transforms)
        self.seed = seed
        self.epoch = 0

    def reset(self, seed: Optional[int] = None) -> None:
        """Go back to epoch 0 (with ``seed``, or the construction seed)."""
        self.seed = self.seed if seed is None else seed
        self.epoch = 0

    def generator(self, array: np.ndarray, key: Optional[int] = None) -> np.random.Generator:
        """The generator of one call: derived from seed, epoch and ``key`` (default: the clip's CRC32),
        never from earlier calls, so resumed and multi-worker runs draw the same numbers."""
        key = clip_key(array) if key is None else int(key)
        return np.random.default_rng([int(self.seed), int(self.epoch), key])

    def __call__(
        self,
        array: np.ndarray,
        sampling_rate: int = DEFAULT_SAMPLING_RATE,
        label=None,
        key: Optional[int] = None,
    ) -> np.ndarray:
        array = np.asarray(array, dtype=np.float32)
        rng = self.generator(array, key)
        with _seeded_global_random(int(rng.integers(2**63 - 1))):
            for transform in self.transforms:
                if isinstance(transform, WaveformAugmentation):
                    array = transform(array, sampling_rate, label=label, rng=rng)
                else:
                    array = transform(samples=array, sample_rate=sampling_rate)
                array = np.asarray(array, dtype=np.float32)
        return array

    def __repr__(self) -> str:
        return f"Augmenter(transforms={self.transforms!r}, seed={self.seed})"


def build_augmentation(
    preset: str = "default",
    *,
    seed: int = 0,
    reverb: Union[bool, str] = False,
    speed_factors: Optional[Sequence[float]] = None,
    copy_paste: Optional[CopyPaste] = None,
    **overrides,
) -> Augmenter:
    """Build an :class:`Augmenter` from a preset of audiomentations transforms.

    Args:
        preset (`str`, *optional*, defaults to `"default"`): ``"light"``, ``"default"`` or ``"strong"``.
        seed (`int`, *optional*, defaults to 0): reproducibility seed.
        reverb (`bool` or `str`, *optional*, defaults to `False`): ``True`` / ``"synthetic"`` adds
            :class:`SyntheticReverb` (no files, no extra package); ``"room"`` adds :class:`RoomReverb`
            (simulated shoebox room, needs pyroomacoustics).
        speed_factors (`Sequence[float]`, *optional*): add :class:`SpeedPerturbation` with these factors.
        copy_paste (:class:`CopyPaste`, *optional*): applied first, before the signal transforms.
        overrides: preset options to change: ``noise_snr_db``, ``gain_db``, ``pitch_semitones``,
            ``stretch_rate`` (tuples, or None to drop the transform), ``band_pass`` (bool), ``p``
            (probability of each transform).
    """
    import audiomentations as am

    if preset not in PRESETS:
        raise ValueError(f"Unknown augmentation preset {preset!r}; available: {list(PRESETS)}.")
    unknown = sorted(set(overrides) - set(PRESETS[preset]))
    if unknown:
        raise ValueError(f"Unknown augmentation options {unknown}; allowed: {sorted(PRESETS[preset])}.")
    if reverb not in REVERB_CHOICES:
        raise ValueError(f"reverb={reverb!r} is not one of {list(REVERB_CHOICES)}.")
    options = {**PRESETS[preset], **overrides}
    p = options["p"]
    transforms: list[Callable] = [copy_paste] if copy_paste is not None else []
    if speed_factors is not None:
        transforms.append(SpeedPerturbation(speed_factors, p=p))
    if options["stretch_rate"] is not None:
        low, high = options["stretch_rate"]
        transforms.append(am.TimeStretch(min_rate=low, max_rate=high, leave_length_unchanged=False, p=p))
    if options["pitch_semitones"] is not None:
        low, high = options["pitch_semitones"]
        transforms.append(am.PitchShift(min_semitones=low, max_semitones=high, p=p))
    if options["band_pass"]:
        transforms.append(am.BandPassFilter(min_center_freq=300.0, max_center_freq=3000.0, p=p))
    if reverb in (True, "synthetic"):
        transforms.append(SyntheticReverb(p=p))
    elif reverb == "room":
        transforms.append(RoomReverb(p=p))
    if options["gain_db"] is not None:
        low, high = options["gain_db"]
        transforms.append(am.Gain(min_gain_db=low, max_gain_db=high, p=p))
    if options["noise_snr_db"] is not None:
        low, high = options["noise_snr_db"]
        transforms.append(am.AddGaussianSNR(min_snr_db=low, max_snr_db=high, p=p))
    return Augmenter(transforms, seed=seed)


@dataclass
class SpecAugmentConfig:
    """Options of :class:`SpecAugment` (Park et al., 2019)."""

    num_freq_masks: int = 2
    freq_mask_width: int = 8
    num_time_masks: int = 2
    time_mask_width: int = 20
    mask_value: float = 0.0


class SpecAugment(nn.Module):
    """SpecAugment frequency and time masks for feature-based models (MFCC / filterbank inputs).

    Active only in training mode (``module.train()``); in eval mode it returns its input unchanged, so
    evaluation features are never masked. Masks are written out of place. Time masks stay inside each
    clip's real frames when ``mask`` (``(batch, frames)``, True = real) is given.

    Args:
        num_freq_masks, freq_mask_width, num_time_masks, time_mask_width (`int`): mask counts and maximum
            widths (each width is drawn uniformly in ``[0, max]``).
        mask_value (`float`, *optional*, defaults to 0.0).
        seed (`int`, *optional*): seed of the module's own `torch.Generator` (reproducible masks).

    Example:

    ```python
    >>> import torch
    >>> from hf_ser.augment import SpecAugment
    >>> spec_augment = SpecAugment(seed=0).train()
    >>> features = torch.ones(2, 100, 40)  # (batch, frames, features)
    >>> bool((spec_augment(features) == 0).any()), bool((spec_augment.eval()(features) == 1).all())
    (True, True)

    ```
    """

    def __init__(
        self,
        num_freq_masks: int = 2,
        freq_mask_width: int = 8,
        num_time_masks: int = 2,
        time_mask_width: int = 20,
        mask_value: float = 0.0,
        seed: Optional[int] = None,
    ):
        super().__init__()
        self.config = SpecAugmentConfig(
            num_freq_masks, freq_mask_width, num_time_masks, time_mask_width, mask_value
        )
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    def _draw(self, high: int) -> int:
        return int(torch.randint(0, max(high, 0) + 1, (1,), generator=self.generator))

    def forward(self, features: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Mask ``features`` of shape ``(batch, frames, features)`` (training mode only)."""
        if not self.training:
            return features
        if features.dim() != 3:
            raise ValueError(
                f"SpecAugment expects (batch, frames, features), got shape {tuple(features.shape)}."
            )
        config = self.config
        batch, frames, dims = features.shape
        lengths = mask.long().sum(dim=-1).tolist() if mask is not None else [frames] * batch
        keep = torch.ones_like(features, dtype=torch.bool)
        for row in range(batch):
            for _ in range(config.num_freq_masks):
                width = min(self._draw(config.freq_mask_width), dims)
                start = self._draw(dims - width)
                keep[row, :, start : start + width] = False
            for _ in range(config.num_time_masks):
                width = min(self._draw(config.time_mask_width), int(lengths[row]))
                start = self._draw(int(lengths[row]) - width)
                keep[row, start : start + width, :] = False
        return features.masked_fill(~keep, config.mask_value)


__all__ = [
    "COPY_PASTE_MODES",
    "PRESETS",
    "REVERB_CHOICES",
    "Augmenter",
    "CopyPaste",
    "RoomReverb",
    "SpecAugment",
    "SpecAugmentConfig",
    "SpeedPerturbation",
    "SyntheticReverb",
    "WaveformAugmentation",
    "build_augmentation",
]
