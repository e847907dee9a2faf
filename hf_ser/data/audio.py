"""Audio decoding and checking: the one place where raw audio becomes a float32 mono 16 kHz array.

Everything in hf_ser that reads audio (corpus loaders, the collator, the pipeline, recipes) goes
through this module so that the same rules apply everywhere:

* decoding uses `soundfile` (libsndfile ships in its wheel and reads WAV, FLAC, OGG and MP3), so no
  ffmpeg or torchcodec is needed;
* multichannel audio is averaged to mono and the result is resampled with `soxr` (high quality);
* bad input (empty, NaN/Inf, impossible sampling rate, ambiguous shape, too long) raises
  :class:`AudioError`, a ``ValueError`` whose message names the problem (and the file, when there is one).

Input rules (written here once; the pipeline, the CLI, the Space and training all use them):

* **Integer PCM** is scaled by its dtype's range to ``[-1, 1)``: int8 / 128, int16 / 32768, int32 / 2**31;
  unsigned PCM is centred first (uint8: ``(x - 128) / 128``, likewise uint16 and uint32). int64 (what
  ``np.array([...])`` of Python ints gives) is read as 32-bit PCM when every value fits the int32 range,
  and rejected otherwise, naming the dtype (uint64 likewise as uint32).
* **Float audio** is expected in about ``[-1, 1]``. Peaks above :data:`MAX_FLOAT_PEAK` (64) are accepted
  with a warning: such audio is almost always integer PCM stored as floats, which the model never saw in
  training. Finite float64 values beyond float32's range are rejected as overflowing float32; NaN or Inf
  values are rejected as such.
* **Sampling rates** must be whole numbers of Hz in [:data:`MIN_SAMPLING_RATE`, :data:`MAX_SAMPLING_RATE`];
  NaN, Inf, zero, negative, fractional or huge rates raise :class:`AudioError`.
* **Channels**: decoded files are ``(samples, channels)`` and are down-mixed whatever the channel count.
  For arrays the shorter axis is taken as the channel axis when it has at most :data:`MAX_CHANNELS`
  entries (``(samples, channels)`` or ``(channels, samples)``); beyond that the layout is ambiguous and
  rejected unless ``prepare_audio(..., channel_axis=)`` states it.

Example:

```python
>>> import numpy as np
>>> from hf_ser.data.audio import prepare_audio
>>> stereo_int16 = (np.ones((48000, 2)) * 16384).astype(np.int16)   # 1 s at 48 kHz
>>> mono = prepare_audio(stereo_int16, 48000)
>>> mono.dtype, mono.shape, round(float(mono[8000]), 3)
(dtype('float32'), (16000,), 0.5)

```
"""

from __future__ import annotations

import io
import math
import os
import warnings
from typing import Any, Optional, Union

import numpy as np
import soundfile as sf
import soxr

DEFAULT_SAMPLING_RATE = 16000
"""Sampling rate expected by the SSL backbones (wav2vec2, HuBERT, WavLM) and every hf_ser model."""

MAX_CHANNELS = 32
"""Arrays (not files) whose shorter dimension exceeds this are not guessed to be audio channels."""

MAX_FLOAT_PEAK = 64.0
"""Float audio peaking above this gets a warning: it is almost surely unscaled integer PCM."""

FLOAT32_MAX = float(np.finfo(np.float32).max)

MIN_SAMPLING_RATE = 1000
MAX_SAMPLING_RATE = 768000

PathLike = Union[str, "os.PathLike[str]"]


class AudioError(ValueError):
    """Raised for audio that cannot be used: undecodable file, empty, NaN/Inf, bad rate, too long."""


def _check_sampling_rate(sampling_rate: Any, what: str = "sampling_rate") -> int:
    """The rate as an int; `AudioError` for non-numbers, NaN/Inf, fractions and rates out of range."""
    if isinstance(sampling_rate, (bool, np.bool_)) or not isinstance(
        sampling_rate, (int, float, np.integer, np.floating)
    ):
        raise AudioError(f"{what} must be a positive integer, got {sampling_rate!r}.")
    if not math.isfinite(float(sampling_rate)):
        raise AudioError(f"{what} must be a finite number of Hz, got {sampling_rate!r}.")
    if not MIN_SAMPLING_RATE <= sampling_rate <= MAX_SAMPLING_RATE:
        raise AudioError(
            f"{what}={sampling_rate!r} Hz is outside the supported range "
            f"[{MIN_SAMPLING_RATE}, {MAX_SAMPLING_RATE}] Hz."
        )
    if float(sampling_rate) != int(sampling_rate):
        raise AudioError(f"{what} must be a whole number of Hz, got {sampling_rate!r}.")
    return int(sampling_rate)


def _pcm_range(dtype: np.dtype, array: np.ndarray) -> tuple[float, float]:
    """``(offset, scale)`` turning integer PCM of ``dtype`` into ``[-1, 1)``: the dtype's range, 64-bit
    integers read as 32-bit PCM when their values fit (else `AudioError` naming the dtype)."""
    bits = 8 * dtype.itemsize
    if bits == 64:
        low, high = (-(2**31), 2**31 - 1) if dtype.kind == "i" else (0, 2**32 - 1)
        if array.size and (int(array.min()) < low or int(array.max()) > high):
            raise AudioError(
                f"Audio of dtype {dtype} has values outside the 32-bit range [{low}, {high}]; 64-bit integer "
                "audio is read as 32-bit PCM. Pass int16/int32 PCM or floats in [-1, 1]."
            )
        bits = 32
    half = float(2 ** (bits - 1))
    return (half if dtype.kind == "u" else 0.0), half


def _to_float(array: np.ndarray) -> np.ndarray:
    """Scale integer PCM to float32 in [-1, 1) (see the module's input rules); check and cast floats."""
    if array.dtype == np.bool_ or array.dtype.kind not in "iuf":
        raise AudioError(f"Audio must hold integer PCM or floats, got dtype {array.dtype}.")
    if array.dtype.kind == "f":
        return _float_to_float32(array)
    offset, scale = _pcm_range(array.dtype, array)
    return ((array.astype(np.float64) - offset) / scale).astype(np.float32)


def _float_to_float32(array: np.ndarray) -> np.ndarray:
    """Cast float audio to float32: reject values float32 cannot hold, warn about peaks far above 1."""
    peak = float(np.max(np.abs(array))) if array.size else 0.0
    if peak > FLOAT32_MAX:
        raise AudioError(
            f"Audio of dtype {array.dtype} has a peak of {peak:.3g}, which overflows float32 "
            f"(max {FLOAT32_MAX:.3g}); float audio should lie in [-1, 1]."
        )
    if peak > MAX_FLOAT_PEAK:
        warnings.warn(
            f"Float audio peaks at {peak:.3g}, far above 1.0: it looks like integer PCM stored as floats "
            "(e.g. int16 values in a float array). Scale it to [-1, 1] (divide by 32768 for 16-bit) or pass "
            "the integer array; predictions on unscaled audio are unreliable.",
            UserWarning,
            stacklevel=4,
        )
    return array.astype(np.float32, copy=False)


def _to_mono(array: np.ndarray, channel_axis: Optional[int] = None) -> np.ndarray:
    """Average channels; accepts ``(samples,)``, ``(samples, channels)`` and ``(channels, samples)``.

    ``channel_axis`` states the layout (decoded files: 1, any channel count); without it the shorter
    axis is the channel axis when it has at most :data:`MAX_CHANNELS` entries."""
    if array.ndim == 1:
        return array
    if array.ndim != 2:
        raise AudioError(
            f"Audio must be 1-D (samples,) or 2-D (samples, channels) / (channels, samples), got shape "
            f"{tuple(array.shape)}."
        )
    if channel_axis is None:
        if 1 in array.shape:
            return array.reshape(-1)
        # The channel axis is the short one: soundfile gives (samples, channels), torch (channels, samples).
        channel_axis = 0 if array.shape[0] < array.shape[1] else 1
        if array.shape[channel_axis] > MAX_CHANNELS:
            raise AudioError(
                f"Cannot tell samples from channels in an array of shape {tuple(array.shape)}: the shorter "
                f"dimension has {array.shape[channel_axis]} entries, more than {MAX_CHANNELS} channels. "
                "Pass mono audio, or state the layout with prepare_audio(..., channel_axis=)."
            )
    return array.mean(axis=channel_axis, dtype=np.float64).astype(np.float32)


def validate_audio(array: Any, sampling_rate: Any, *, max_seconds: Optional[float] = None) -> None:
    """Check that ``array`` is usable audio at ``sampling_rate``; raise :class:`AudioError` if not.

    Checks: numeric dtype, at most 2 dimensions, at least one sample, finite values, a sampling rate in
    [1 kHz, 768 kHz] and, when ``max_seconds`` is given, a duration of at most ``max_seconds``.

    Args:
        array (`np.ndarray`): audio, mono or multichannel.
        sampling_rate (`int`): its sampling rate in Hz.
        max_seconds (`float`, *optional*): reject longer audio (protects memory in services).
    """
    rate = _check_sampling_rate(sampling_rate)
    array = np.asarray(array)
    if array.dtype == np.bool_ or array.dtype.kind not in "iuf":
        raise AudioError(f"Audio must hold integer PCM or floats, got dtype {array.dtype}.")
    if array.ndim == 0 or array.ndim > 2:
        raise AudioError(f"Audio must be 1-D or 2-D, got shape {tuple(array.shape)}.")
    if array.size == 0:
        raise AudioError("Audio is empty (0 samples).")
    num_samples = max(array.shape) if array.ndim == 2 else array.shape[0]
    if max_seconds is not None and num_samples / rate > max_seconds:
        raise AudioError(f"Audio is {num_samples / rate:.1f} s long, more than max_seconds={max_seconds} s.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise AudioError("Audio contains NaN or Inf values.")


def prepare_audio(
    array: Any,
    sampling_rate: Any,
    target_sampling_rate: Optional[int] = DEFAULT_SAMPLING_RATE,
    *,
    max_seconds: Optional[float] = None,
    channel_axis: Optional[int] = None,
) -> np.ndarray:
    """Turn any in-memory audio into a validated float32 mono array at ``target_sampling_rate``.

    Args:
        array (`np.ndarray`, `torch.Tensor` or list): samples; integer PCM is scaled to floats;
            ``(samples, channels)`` or ``(channels, samples)`` is averaged to mono.
        sampling_rate (`int`): rate of ``array`` in Hz.
        target_sampling_rate (`int`, *optional*, defaults to 16000): output rate;
            ``None`` keeps the input rate.
        max_seconds (`float`, *optional*): reject audio longer than this (before resampling).
        channel_axis (`int`, *optional*): the channel axis of a 2-D array (any channel count); by default
            the shorter axis, up to :data:`MAX_CHANNELS` channels (see the module's input rules).

    Returns:
        `np.ndarray` of dtype float32 and shape ``(samples,)``.

    Example:

    ```python
    >>> import numpy as np
    >>> from hf_ser.data.audio import prepare_audio
    >>> prepare_audio(np.zeros(44100, dtype=np.float64), 44100).shape
    (16000,)

    ```
    """
    if hasattr(array, "detach"):  # torch tensor
        array = array.detach().cpu().numpy()
    array = np.asarray(array)
    validate_audio(array, sampling_rate, max_seconds=max_seconds)
    rate = int(sampling_rate)
    mono = _to_mono(_to_float(array), channel_axis)
    if target_sampling_rate is not None:
        target = _check_sampling_rate(target_sampling_rate, "target_sampling_rate")
        if target != rate:
            mono = soxr.resample(mono, rate, target, quality="HQ").astype(np.float32, copy=False)
            if mono.size == 0:
                raise AudioError(
                    f"Audio is too short to resample from {rate} Hz to {target} Hz ({array.shape} samples)."
                )
    return np.ascontiguousarray(mono, dtype=np.float32)


def _name(source: Any) -> str:
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<in-memory audio>"


def read_audio(source: Any, *, max_seconds: Optional[float] = None) -> tuple[np.ndarray, int]:
    """Decode a file path, bytes or file-like object with soundfile; return ``(array, native_rate)``.

    The array is float32 ``(samples, channels)`` as stored. Errors name the file.
    """
    name = _name(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)) and not os.path.isfile(source):
        raise AudioError(f"Audio file not found: {name}")
    try:
        with sf.SoundFile(source) as handle:
            rate = handle.samplerate
            if max_seconds is not None and handle.frames / rate > max_seconds:
                raise AudioError(
                    f"{name} is {handle.frames / rate:.1f} s long, more than max_seconds={max_seconds} s."
                )
            data = handle.read(dtype="float32", always_2d=True)
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioError(
            f"Could not decode audio {name}: {str(error).rstrip('.')}. soundfile reads WAV, FLAC, OGG and "
            "MP3; convert other formats first."
        ) from error
    return data, rate


def load_audio(
    path: Any,
    sampling_rate: Optional[int] = DEFAULT_SAMPLING_RATE,
    *,
    max_seconds: Optional[float] = None,
) -> np.ndarray:
    """Decode an audio file to a float32 mono array at ``sampling_rate`` (``None`` = native rate).

    Args:
        path (`str`, `os.PathLike`, `bytes` or file-like): the audio.
        sampling_rate (`int`, *optional*, defaults to 16000): output rate.
        max_seconds (`float`, *optional*): reject longer files without decoding them.

    Raises:
        AudioError: the file is missing, cannot be decoded, is empty, contains NaN/Inf or is too long;
            the message includes the path.
    """
    data, rate = read_audio(path, max_seconds=max_seconds)
    try:
        return prepare_audio(data, rate, sampling_rate, channel_axis=1)  # soundfile: (samples, channels)
    except AudioError as error:
        raise AudioError(f"{_name(path)}: {error}") from error


def change_speed(array: np.ndarray, sampling_rate: int, factor: float) -> np.ndarray:
    """``array`` played ``factor`` times faster (tempo and pitch together, Kaldi-style speed perturbation).

    The clip is read as if recorded at ``sampling_rate * factor`` and resampled back to ``sampling_rate``,
    so it keeps its rate and gets ``len(array) / factor`` samples. Used for training augmentation
    (:class:`hf_ser.data.augment.SpeedPerturbation`) and test-time averaging (``test_time_speeds``).

    Example:

    ```python
    >>> import numpy as np
    >>> from hf_ser.data.audio import change_speed
    >>> len(change_speed(np.zeros(16000, dtype=np.float32), 16000, 1.25))
    12800
    ```
    """
    if not factor > 0:
        raise ValueError(f"speed factor must be > 0, got {factor!r}.")
    if factor == 1.0:
        return array
    return soxr.resample(array, sampling_rate * factor, sampling_rate).astype(np.float32, copy=False)


MIN_DURATION_S = 0.1
"""Clips shorter than this are zero-padded (with a warning): convolutional front ends need a few frames."""


def pad_short_audio(audio: np.ndarray, sampling_rate: int, name: str = "clip") -> np.ndarray:
    """Zero-pad audio shorter than :data:`MIN_DURATION_S` at the end, with a warning naming the clip."""
    min_samples = int(round(MIN_DURATION_S * sampling_rate))
    if audio.shape[0] >= min_samples:
        return audio
    warnings.warn(
        f"{name} is only {audio.shape[0] / sampling_rate:.3f} s long; zero-padded to {MIN_DURATION_S} s. "
        "Predictions on such short clips are unreliable.",
        UserWarning,
        stacklevel=3,
    )
    return np.pad(audio, (0, min_samples - audio.shape[0]))


def file_num_samples(path: PathLike, sampling_rate: int) -> int:
    """Length of an audio file in samples at ``sampling_rate``, from its header (nothing is decoded).

    Raises:
        AudioError: the file is missing, unreadable, empty or its header has a non-positive rate.
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise AudioError(f"Audio file not found: {name}")
    try:
        info = sf.info(name)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioError(
            f"Could not read audio file {name}: {error}. soundfile reads WAV, FLAC, OGG and MP3; "
            "convert other formats first."
        ) from error
    if info.frames <= 0:
        raise AudioError(f"{name}: audio is empty (0 samples).")
    if info.samplerate <= 0:
        raise AudioError(f"{name}: non-positive sampling rate {info.samplerate} in the file header.")
    return int(np.ceil(info.frames * sampling_rate / info.samplerate))


def audio_duration(path: PathLike) -> float:
    """Duration of an audio file in seconds, read from its header (no decoding)."""
    try:
        info = sf.info(os.fspath(path))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"Could not read audio header of {os.fspath(path)}: {error}") from error
    return info.frames / info.samplerate


def decode_audio_value(
    value: Any, sampling_rate: Optional[int] = DEFAULT_SAMPLING_RATE
) -> tuple[np.ndarray, int]:
    """Decode one value of a `datasets` audio column; return ``(float32 mono array, its rate)``.

    Accepts what a `datasets.Audio(decode=False)` column stores (``{"path": ..., "bytes": ...}``), an
    already decoded ``{"array": ..., "sampling_rate": ...}`` dict, a path or bytes, or a torchcodec
    ``AudioDecoder`` (anything with ``get_all_samples()``). ``sampling_rate=None`` keeps the native rate.
    """
    if isinstance(value, dict):
        if value.get("array") is not None:
            array, rate = value["array"], value["sampling_rate"]
        elif value.get("bytes") is not None or value.get("path") is not None:
            source = value["bytes"] if value.get("bytes") is not None else value["path"]
            return decode_audio_value(source, sampling_rate)
        else:
            raise AudioError(f"Audio value has neither 'array', 'bytes' nor 'path': keys {sorted(value)}.")
    elif isinstance(value, (str, os.PathLike, bytes)):
        array, rate = read_audio(value)
        try:
            return prepare_audio(array, rate, sampling_rate, channel_axis=1), int(sampling_rate or rate)
        except AudioError as error:
            raise AudioError(f"{_name(value)}: {error}") from error
    elif hasattr(value, "get_all_samples"):
        samples = value.get_all_samples()
        array, rate = samples.data, samples.sample_rate
    else:
        raise AudioError(f"Cannot decode audio value of type {type(value).__name__}.")
    return prepare_audio(array, rate, sampling_rate), int(sampling_rate or rate)


def decode_example_audio(value: Any, sampling_rate: Optional[int] = DEFAULT_SAMPLING_RATE) -> np.ndarray:
    """Like :func:`decode_audio_value`, returning only the array."""
    return decode_audio_value(value, sampling_rate)[0]


__all__ = [
    "DEFAULT_SAMPLING_RATE",
    "MAX_CHANNELS",
    "MAX_FLOAT_PEAK",
    "MIN_DURATION_S",
    "AudioError",
    "audio_duration",
    "change_speed",
    "decode_audio_value",
    "decode_example_audio",
    "file_num_samples",
    "load_audio",
    "pad_short_audio",
    "prepare_audio",
    "read_audio",
    "validate_audio",
]
