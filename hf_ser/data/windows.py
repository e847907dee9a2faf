"""Long audio: cut a clip into overlapping windows, read them lazily, and aggregate their predictions.

numpy + soundfile only: the torch pipeline (:mod:`hf_ser.inference`) and the torch-free runtime
(:mod:`hf_ser.runtime`) both use it, so a window means the same samples in both.

With ``chunk_length_s`` set, the pipeline classifies fixed-length windows instead of the whole clip.
Consecutive windows share ``stride_length_s`` seconds of context on each side (the transformers ASR
pipeline's convention), so the hop between window starts is ``chunk_length_s - 2 * stride_length_s``;
the last window is aligned to the end of the clip so that every window has the full length.

For file inputs each window is read from disk on demand (:func:`read_window`): a one-hour recording is
never decoded as a whole, so memory stays bounded by ``batch_size`` windows whatever the file length.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
import soundfile as sf

from .audio import AudioError, prepare_audio

LONG_CLIP_WARNING_S = 120.0
"""Clips longer than this without ``chunk_length_s`` get a warning: one forward pass over the whole clip
holds its decoded audio and the model's activations for every frame in memory (quadratic in length for a
transformer backbone)."""

RESAMPLE_MARGIN_S = 0.05
"""Extra audio read on each side of a window before resampling, then dropped, so that windows read from a
file match windows cut from the fully decoded clip (no resampling filter edge effects)."""


@dataclass(frozen=True)
class ChunkingConfig:
    """Window length and hop, in samples at the model's rate.

    Args:
        chunk_samples (`int`): window length.
        hop_samples (`int`): distance between the starts of consecutive windows.
    """

    chunk_samples: int
    hop_samples: int

    @classmethod
    def from_seconds(
        cls, chunk_length_s: float, stride_length_s: Optional[float], sampling_rate: int
    ) -> ChunkingConfig:
        """Validate the user's settings; ``stride_length_s`` defaults to ``chunk_length_s / 6``."""
        if isinstance(chunk_length_s, bool) or not isinstance(chunk_length_s, (int, float)):
            raise ValueError(f"chunk_length_s must be a number of seconds, got {chunk_length_s!r}.")
        if not math.isfinite(chunk_length_s) or chunk_length_s < 0.1:
            raise ValueError(f"chunk_length_s must be a finite number >= 0.1 s, got {chunk_length_s!r}.")
        if stride_length_s is None:
            stride_length_s = chunk_length_s / 6
        if isinstance(stride_length_s, bool) or not isinstance(stride_length_s, (int, float)):
            raise ValueError(f"stride_length_s must be a number of seconds, got {stride_length_s!r}.")
        if not 0 <= 2 * stride_length_s < chunk_length_s:
            raise ValueError(
                f"stride_length_s must satisfy 0 <= 2 * stride_length_s < chunk_length_s, got "
                f"stride_length_s={stride_length_s!r} with chunk_length_s={chunk_length_s!r}."
            )
        chunk_samples = int(round(chunk_length_s * sampling_rate))
        hop_samples = max(1, chunk_samples - 2 * int(round(stride_length_s * sampling_rate)))
        return cls(chunk_samples=chunk_samples, hop_samples=hop_samples)

    def windows(self, num_samples: int) -> list[tuple[int, int]]:
        """Return ``(start, end)`` sample ranges covering ``[0, num_samples)``.

        Example:

        ```python
        >>> ChunkingConfig(chunk_samples=10, hop_samples=6).windows(21)
        [(0, 10), (6, 16), (11, 21)]

        ```
        """
        if num_samples <= self.chunk_samples:
            return [(0, num_samples)]
        starts = list(range(0, num_samples - self.chunk_samples, self.hop_samples))
        starts.append(num_samples - self.chunk_samples)
        return [(start, start + self.chunk_samples) for start in starts]


def read_window(path: str, start: int, end: int, sampling_rate: int) -> np.ndarray:
    """Read samples ``[start, end)`` (at ``sampling_rate``) of an audio file without decoding the rest.

    The file is seeked to the matching native-rate frame, a margin of :data:`RESAMPLE_MARGIN_S` is read on
    both sides, the block is mixed to mono and resampled with :func:`hf_ser.data.audio.prepare_audio`, and
    the margin is cut off again. The result has exactly ``end - start`` samples (zero-padded if the file's
    header over-estimated its length).
    """
    try:
        with sf.SoundFile(path) as handle:
            native_rate, total = handle.samplerate, handle.frames
            ratio = native_rate / sampling_rate
            margin = int(math.ceil(RESAMPLE_MARGIN_S * native_rate)) if native_rate != sampling_rate else 0
            # start the read on a native sample that falls exactly on a target-rate sample, so the
            # window's offset in the resampled block is a whole number of samples (EmoDB: 22.05 kHz)
            grid = native_rate // math.gcd(native_rate, sampling_rate)
            read_start = max(0, int(math.floor(start * ratio)) - margin) // grid * grid
            read_end = min(total, int(math.ceil(end * ratio)) + margin)
            handle.seek(read_start)
            block = handle.read(read_end - read_start, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioError(f"Could not read {path} at samples [{start}, {end}): {error}") from error
    if block.shape[0] == 0:
        raise AudioError(f"{path}: no audio at samples [{start}, {end}) (file shorter than its header says).")
    try:
        audio = prepare_audio(block, native_rate, sampling_rate, channel_axis=1)  # (samples, channels)
    except AudioError as error:
        raise AudioError(f"{path} at {start / sampling_rate:.2f} s: {error}") from error
    offset = max(0, start - read_start * sampling_rate // native_rate)
    window = audio[offset : offset + (end - start)]
    if window.shape[0] < end - start:
        window = np.pad(window, (0, end - start - window.shape[0]))
    return np.ascontiguousarray(window)


def aggregate(values: list[np.ndarray], durations: list[float]) -> np.ndarray:
    """Duration-weighted mean of per-window vectors (class probabilities, A/D/V values or embeddings)."""
    weights = np.asarray(durations, dtype=np.float64)
    stacked = np.stack([np.asarray(value, dtype=np.float64) for value in values])
    return (stacked * weights[:, None]).sum(axis=0) / max(weights.sum(), 1e-12)


def warn_if_long(name: str, num_samples: int, sampling_rate: int, stacklevel: int = 3) -> None:
    """Warn that a clip longer than :data:`LONG_CLIP_WARNING_S` is run whole, naming ``chunk_length_s``
    (``stacklevel`` counts from this function, so the warning points at the user's call)."""
    if num_samples > LONG_CLIP_WARNING_S * sampling_rate:
        warnings.warn(
            f"{name} is {num_samples / sampling_rate:.0f} s long; pass "
            "chunk_length_s= (e.g. 10) to classify it in windows with bounded memory.",
            UserWarning,
            stacklevel=stacklevel,
        )


__all__ = [
    "LONG_CLIP_WARNING_S",
    "RESAMPLE_MARGIN_S",
    "ChunkingConfig",
    "aggregate",
    "read_window",
    "warn_if_long",
]
