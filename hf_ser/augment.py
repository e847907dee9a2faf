"""Public alias of :mod:`hf_ser.data.augment` (``from hf_ser.augment import build_augmentation``)."""

from .data.augment import (
    COPY_PASTE_MODES,
    PRESETS,
    REVERB_CHOICES,
    Augmenter,
    CopyPaste,
    RoomReverb,
    SpecAugment,
    SpecAugmentConfig,
    SpeedPerturbation,
    SyntheticReverb,
    WaveformAugmentation,
    build_augmentation,
)

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
