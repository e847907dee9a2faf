"""Audio for the torch-free runtime: soundfile decoding, mono mix and soxr resampling (numpy only).

The same steps as :mod:`hf_ser.data.audio` (``load_audio``) and :func:`hf_ser.inference.chunking.read_window`
— float32 samples, channels averaged in float64, soxr ``"HQ"`` resampling — so that the runtime sees the
same samples as the torch pipeline (``tests/test_runtime.py`` compares them). They are repeated here
because importing :mod:`hf_ser.data` pulls in ``datasets`` and torch.
"""

from __future__ import annotations

import math
import os
from typing import Any, Optional, Union

import numpy as np
import soundfile as sf
import soxr

RESAMPLE_MARGIN_S = 0.05
"""Audio read on each side of a window before resampling, then dropped (as the torch pipeline does)."""

MIN_DURATION_S = 0.1
"""Shorter clips are zero-padded to this length (as the torch pipeline does)."""


class RuntimeAudioError(ValueError):
    """Unusable audio: undecodable file, empty, NaN/Inf, bad sampling rate."""


def to_mono(array: np.ndarray, channel_axis: Optional[int] = None) -> np.ndarray:
    """float32 mono: ``(samples,)`` as is, 2-D averaged over ``channel_axis`` (decoded files: 1; arrays:
    by default the shorter axis, ``(samples, channels)`` or ``(channels, samples)``)."""
    array = np.asarray(array)
    if array.dtype.kind in "iu":
        raise RuntimeAudioError("Pass float audio to the runtime (integer PCM: divide by its full scale).")
    if array.ndim == 2 and channel_axis is None and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim == 2:
        if channel_axis is None:
            channel_axis = 0 if array.shape[0] < array.shape[1] else 1
        array = array.mean(axis=channel_axis, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise RuntimeAudioError(
            f"Expected non-empty mono or (samples, channels) audio, got shape {array.shape}."
        )
    return np.ascontiguousarray(array, dtype=np.float32)


def resample(array: np.ndarray, rate: int, target: int) -> np.ndarray:
    """float32 mono ``array`` at ``rate`` -> ``target`` Hz (soxr high quality); unchanged at equal rates."""
    if int(rate) != int(target):
        array = soxr.resample(array, int(rate), int(target), quality="HQ").astype(np.float32, copy=False)
    if array.size == 0 or not np.isfinite(array).all():
        raise RuntimeAudioError("Audio is empty after resampling or contains NaN / Inf values.")
    return np.ascontiguousarray(array, dtype=np.float32)


def prepare(array: Any, sampling_rate: int, target: int, channel_axis: Optional[int] = None) -> np.ndarray:
    """A clip at ``sampling_rate`` -> float32 mono at ``target`` (see :func:`to_mono`)."""
    return resample(to_mono(array, channel_axis), sampling_rate, target)


def load_file(path: Union[str, os.PathLike], target: int) -> np.ndarray:
    """Decode a whole file to float32 mono at ``target`` Hz."""
    try:
        data, rate = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise RuntimeAudioError(f"Could not decode audio {path}: {error}") from error
    return prepare(data, rate, target, channel_axis=1)


def num_samples(path: Union[str, os.PathLike], target: int) -> int:
    """Length of the file in samples at ``target`` Hz (from the header; nothing is decoded)."""
    info = sf.info(os.fspath(path))
    return int(math.ceil(info.frames * target / info.samplerate))


def read_window(path: Union[str, os.PathLike], start: int, end: int, target: int) -> np.ndarray:
    """Samples ``[start, end)`` (at ``target`` Hz) of a file without decoding the rest.

    As :func:`hf_ser.inference.chunking.read_window`: the read starts on a native sample that falls on
    a target-rate sample, a margin of :data:`RESAMPLE_MARGIN_S` on both sides is resampled and cut off
    again, and the window is zero-padded when the header over-estimated the length.
    """
    with sf.SoundFile(os.fspath(path)) as handle:
        native, total = handle.samplerate, handle.frames
        margin = int(math.ceil(RESAMPLE_MARGIN_S * native)) if native != target else 0
        grid = native // math.gcd(native, target)
        read_start = max(0, int(math.floor(start * native / target)) - margin) // grid * grid
        read_end = min(total, int(math.ceil(end * native / target)) + margin)
        handle.seek(read_start)
        block = handle.read(read_end - read_start, dtype="float32", always_2d=True)
    audio = prepare(block, native, target, channel_axis=1)
    offset = max(0, start - read_start * target // native)
    window = audio[offset : offset + (end - start)]
    if window.shape[0] < end - start:
        window = np.pad(window, (0, end - start - window.shape[0]))
    return np.ascontiguousarray(window)


def pad_short(array: np.ndarray, sampling_rate: int) -> np.ndarray:
    """Zero-pad clips shorter than :data:`MIN_DURATION_S` at the end (as the torch pipeline, which warns)."""
    min_samples = int(round(MIN_DURATION_S * sampling_rate))
    return array if array.shape[0] >= min_samples else np.pad(array, (0, min_samples - array.shape[0]))


def change_speed(array: np.ndarray, sampling_rate: int, factor: float) -> np.ndarray:
    """``array`` played ``factor`` times faster (as :func:`hf_ser.data.audio.change_speed`)."""
    return soxr.resample(array, sampling_rate * factor, sampling_rate).astype(np.float32, copy=False)


__all__ = [
    "MIN_DURATION_S",
    "RuntimeAudioError",
    "change_speed",
    "load_file",
    "num_samples",
    "pad_short",
    "prepare",
    "read_window",
    "resample",
    "to_mono",
]
