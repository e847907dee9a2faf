"""The feature extractors of hf_ser exports, rebuilt from ``preprocessor_config.json`` with numpy only.

- ``MfccChromaFeatureExtractor`` (LSTM-SA, the built-in model): MFCC + chroma frames from
  :mod:`hf_ser.models.audio_features` (the same code the transformers extractor runs), normalised,
  with a frame mask;
- ``Wav2Vec2FeatureExtractor`` (Wav2Small student, SSL models: the graph takes raw audio): the
  waveform, zero-mean unit-variance per clip when ``do_normalize``, with a sample mask.

Both return right-padded ``(input_values, attention_mask)`` batches like the transformers extractors
called with ``padding=True, return_attention_mask=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..models.audio_features import MfccChromaSettings, mfcc_chroma_batch, normalize_features

Batch = tuple[np.ndarray, np.ndarray]


def pad_batch(rows: Sequence[np.ndarray], padding_value: float = 0.0) -> Batch:
    """Right-pad ``(length, ...)`` arrays into one float32 batch and an int64 ``(batch, length)`` mask."""
    longest = max(row.shape[0] for row in rows)
    values = np.full((len(rows), longest, *rows[0].shape[1:]), padding_value, dtype=np.float32)
    mask = np.zeros((len(rows), longest), dtype=np.int64)
    for index, row in enumerate(rows):
        values[index, : row.shape[0]] = row
        mask[index, : row.shape[0]] = 1
    return values, mask


@dataclass(frozen=True)
class MfccChromaFeatures:
    """MFCC + chroma frames (see :class:`hf_ser.models.MfccChromaFeatureExtractor`)."""

    settings: MfccChromaSettings
    normalization: str = "utterance"
    mean: Optional[tuple[float, ...]] = None
    std: Optional[tuple[float, ...]] = None
    padding_value: float = 0.0

    @classmethod
    def from_config(cls, config: dict) -> MfccChromaFeatures:
        """Build from a parsed ``preprocessor_config.json`` (extractor defaults for absent keys)."""
        names = MfccChromaSettings.__dataclass_fields__
        settings = MfccChromaSettings(**{key: config[key] for key in names if key in config})
        mean, std = config.get("mean"), config.get("std")
        return cls(
            settings=settings,
            normalization=config.get("normalization", "utterance"),
            mean=None if mean is None else tuple(mean),
            std=None if std is None else tuple(std),
            padding_value=float(config.get("padding_value", 0.0)),
        )

    def frames(self, clips: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Normalised ``(frames, features)`` float32 matrices, one per clip."""
        raw = mfcc_chroma_batch(clips, self.settings)
        return [normalize_features(features, self.normalization, self.mean, self.std) for features in raw]

    def __call__(self, clips: Sequence[np.ndarray]) -> Batch:
        return pad_batch(self.frames(clips), self.padding_value)


@dataclass(frozen=True)
class WaveformFeatures:
    """Raw audio for graphs that compute their own features (``Wav2Vec2FeatureExtractor``)."""

    do_normalize: bool = True
    padding_value: float = 0.0

    @classmethod
    def from_config(cls, config: dict) -> WaveformFeatures:
        return cls(bool(config.get("do_normalize", True)), float(config.get("padding_value", 0.0)))

    def __call__(self, clips: Sequence[np.ndarray]) -> Batch:
        values, mask = pad_batch([np.asarray(clip, dtype=np.float32) for clip in clips], self.padding_value)
        if self.do_normalize:
            for row, clip in zip(values, clips, strict=True):
                real = row[: len(clip)]
                row[:] = (row - real.mean()) / np.sqrt(real.var() + 1e-7)
                row[len(clip) :] = self.padding_value
        return values, mask


FEATURE_TYPES = {
    "MfccChromaFeatureExtractor": MfccChromaFeatures,
    "Wav2Vec2FeatureExtractor": WaveformFeatures,
}


def features_from_config(config: dict) -> MfccChromaFeatures | WaveformFeatures:
    """The numpy feature computation for a parsed ``preprocessor_config.json``."""
    kind = config.get("feature_extractor_type")
    if kind not in FEATURE_TYPES:
        raise ValueError(
            f"The torch-free runtime has no numpy version of feature extractor {kind!r}; supported: "
            f"{', '.join(FEATURE_TYPES)}. Use hf_ser.pipeline(..., backend='onnx') instead."
        )
    return FEATURE_TYPES[kind].from_config(config)


__all__ = ["FEATURE_TYPES", "MfccChromaFeatures", "WaveformFeatures", "features_from_config", "pad_batch"]
