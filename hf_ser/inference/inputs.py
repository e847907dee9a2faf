"""Pipeline inputs: turn anything a user may pass into a list of :class:`AudioSource` items.

Accepted inputs (see :func:`normalize_inputs`):

- a file path (``str`` / ``os.PathLike``) or a list of them;
- a numpy array or torch tensor with ``sampling_rate=`` (mono ``(samples,)`` or multichannel
  ``(samples, channels)`` / ``(channels, samples)``, integer or float PCM);
- a dict ``{"array": ..., "sampling_rate": ...}`` (the `datasets` decoded form; ``"raw"`` is accepted as
  in transformers' pipeline) or ``{"path": ...}`` / ``{"bytes": ...}``;
- raw encoded ``bytes`` of a WAV/FLAC/OGG/MP3 file;
- a list mixing any of the above;
- a `datasets.Dataset` with an audio column.

Decoding, down-mixing, resampling and validation are done by :mod:`hf_ser.data.audio`, so the
pipeline applies exactly the same rules as training. File paths are *not* decoded here: only their
header is read (to fail early on missing or unreadable files and to know their length for batching),
so a list of thousands of files, or a one-hour file that will be chunked, costs no memory up front.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import soundfile as sf

from ..data.audio import (
    DEFAULT_SAMPLING_RATE,
    AudioError,
    decode_example_audio,
    load_audio,
    prepare_audio,
    validate_audio,
)

MIN_DURATION_S = 0.1
"""Clips shorter than this are zero-padded (with a warning): convolutional front ends need a few frames."""


class UnsupportedInputError(AudioError):
    """Raised when the pipeline receives an input of a type it cannot read as audio."""


@dataclass
class AudioSource:
    """One clip to classify, not necessarily decoded yet.

    Args:
        name (`str`): how error messages and the CLI refer to the clip (a path or ``"input[3]"``).
        num_samples (`int`): length at the model's sampling rate (from the file header for paths).
        path (`str`, *optional*): audio file to stream from; set for file inputs only.
        array (`np.ndarray`, *optional*): decoded float32 mono audio at the model's rate.
        sampling_rate (`int`, *optional*, defaults to 16000): the model's rate.
    """

    name: str
    num_samples: int
    path: Optional[str] = None
    array: Optional[np.ndarray] = None
    sampling_rate: int = DEFAULT_SAMPLING_RATE

    def load(self) -> np.ndarray:
        """Decode the clip to float32 mono at the model's rate, padded to :data:`MIN_DURATION_S`."""
        if self.array is not None:
            audio = self.array
        else:
            audio = load_audio(self.path, self.sampling_rate)
        return pad_short_audio(audio, self.sampling_rate, self.name)


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


def _is_array_like(value: Any) -> bool:
    return isinstance(value, np.ndarray) or (hasattr(value, "detach") and hasattr(value, "numpy"))


def _is_dataset(value: Any) -> bool:
    return type(value).__name__ == "Dataset" and hasattr(value, "column_names") and hasattr(value, "features")


def _path_source(path: Any, sampling_rate: int) -> AudioSource:
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
    num_samples = int(np.ceil(info.frames * sampling_rate / info.samplerate))
    return AudioSource(name=name, num_samples=num_samples, path=name, sampling_rate=sampling_rate)


def prepare_named_audio(array: Any, input_rate: Any, sampling_rate: int, name: str) -> np.ndarray:
    """:func:`hf_ser.data.prepare_audio`, with every error an `AudioError` that starts with ``name``
    (the input's position or path, so a batch or a stream says which item is bad)."""
    try:
        return prepare_audio(array, input_rate, sampling_rate)
    except AudioError as error:
        raise type(error)(f"{name}: {error}") from error
    except (TypeError, ValueError) as error:  # e.g. np.asarray on ragged nested lists
        raise AudioError(f"{name}: cannot read as audio: {error}") from error


def _array_source(array: Any, input_rate: Any, sampling_rate: int, name: str) -> AudioSource:
    if input_rate is None:
        raise AudioError(
            f"{name}: a sampling rate is required for array inputs; call pipe(array, sampling_rate=16000) "
            'or pass {"array": array, "sampling_rate": 16000}.'
        )
    audio = prepare_named_audio(array, input_rate, sampling_rate, name)
    return AudioSource(name=name, num_samples=int(audio.shape[0]), array=audio, sampling_rate=sampling_rate)


def _dict_source(value: dict, sampling_rate: int, name: str) -> AudioSource:
    array = value.get("array", value.get("raw"))
    if array is not None:
        return _array_source(array, value.get("sampling_rate"), sampling_rate, name)
    if value.get("bytes") is not None or value.get("path") is not None:
        try:
            audio = decode_example_audio(value, sampling_rate)
        except AudioError as error:
            raise AudioError(f"{name}: {error}") from error
        return AudioSource(
            name=value.get("path") or name, num_samples=len(audio), array=audio, sampling_rate=sampling_rate
        )
    raise AudioError(
        f"{name}: a dict input needs 'array' (or 'raw') and 'sampling_rate', or 'path', or 'bytes'; "
        f"got keys {sorted(map(str, value))}."
    )


def source_from_value(
    value: Any, sampling_rate: int, *, input_rate: Any = None, name: str = "input"
) -> AudioSource:
    """Build one :class:`AudioSource` from a single clip given in any supported form."""
    if isinstance(value, (str, os.PathLike)):
        return _path_source(value, sampling_rate)
    if isinstance(value, (bytes, bytearray, memoryview)):
        if len(value) == 0:
            raise AudioError(f"{name}: empty bytes input.")
        try:
            audio = load_audio(bytes(value), sampling_rate)
        except AudioError as error:
            raise AudioError(f"{name}: {error}") from error
        return AudioSource(name=name, num_samples=len(audio), array=audio, sampling_rate=sampling_rate)
    if isinstance(value, dict):
        return _dict_source(value, sampling_rate, name)
    if _is_array_like(value):
        return _array_source(value, input_rate, sampling_rate, name)
    raise UnsupportedInputError(
        f"{name}: unsupported input type {type(value).__name__}. Pass a file path, bytes, a numpy array or "
        'torch tensor with sampling_rate=, a dict {"array", "sampling_rate"}, a list of these, or a '
        "datasets.Dataset with an audio column."
    )


def _dataset_sources(dataset: Any, sampling_rate: int, audio_column: str) -> list[AudioSource]:
    if audio_column not in dataset.column_names:
        raise AudioError(
            f"Dataset has no audio column {audio_column!r}; columns are {dataset.column_names}. "
            "Pass audio_column= to choose one."
        )
    feature = dataset.features[audio_column]
    if type(feature).__name__ == "Audio" and getattr(feature, "decode", False):
        # Decode with soundfile + soxr (hf_ser.data.audio), never through datasets' torchcodec backend.
        dataset = dataset.cast_column(audio_column, type(feature)(decode=False))
    column = dataset.with_format(None)[audio_column] if len(dataset) else []
    sources = []
    for index, value in enumerate(column):
        name = f"dataset[{index}]"
        if (
            isinstance(value, dict)
            and value.get("array") is None
            and value.get("bytes") is None
            and value.get("path")
        ):
            sources.append(_path_source(value["path"], sampling_rate))
        else:
            sources.append(source_from_value(value, sampling_rate, name=name))
    return sources


def normalize_inputs(
    inputs: Any,
    *,
    sampling_rate: Any = None,
    target_sampling_rate: int = DEFAULT_SAMPLING_RATE,
    audio_column: str = "audio",
) -> tuple[list[AudioSource], bool]:
    """Turn pipeline inputs into a list of :class:`AudioSource` and whether a single clip was given.

    Args:
        inputs: see the module docstring for the accepted forms.
        sampling_rate (`int`, *optional*): rate of array/tensor inputs (ignored for files and dicts).
        target_sampling_rate (`int`, *optional*, defaults to 16000): the model's rate.
        audio_column (`str`, *optional*, defaults to `"audio"`): column to read from a `datasets.Dataset`.

    Returns:
        `(sources, is_single)`: ``is_single`` is True when ``inputs`` was one clip, so the pipeline
        returns one result instead of a list.

    Raises:
        AudioError: (a ``ValueError``) for empty, NaN/Inf, missing or unreadable audio, or a bad rate.
        UnsupportedInputError: (an ``AudioError``) for inputs of an unsupported type.

    Example:

    ```python
    >>> import numpy as np
    >>> sources, single = normalize_inputs(np.zeros(8000, dtype=np.int16), sampling_rate=8000)
    >>> single, sources[0].num_samples
    (True, 16000)

    ```
    """
    if sampling_rate is not None:
        validate_audio(np.zeros(1, dtype=np.float32), sampling_rate)  # rate check only
    if _is_dataset(inputs):
        return _dataset_sources(inputs, target_sampling_rate, audio_column), False
    if isinstance(inputs, (list, tuple)):
        if len(inputs) == 0:
            raise AudioError("Empty list of inputs: nothing to classify.")
        if all(isinstance(item, (int, float, np.number)) and not isinstance(item, bool) for item in inputs):
            raise UnsupportedInputError(
                "A flat list of numbers is ambiguous; pass np.asarray(samples) with sampling_rate= for one "
                "clip, or a list of arrays / paths for several."
            )
        sources = [
            source_from_value(item, target_sampling_rate, input_rate=sampling_rate, name=f"input[{index}]")
            for index, item in enumerate(inputs)
        ]
        return sources, False
    return [source_from_value(inputs, target_sampling_rate, input_rate=sampling_rate)], True


__all__ = [
    "MIN_DURATION_S",
    "AudioSource",
    "UnsupportedInputError",
    "normalize_inputs",
    "pad_short_audio",
    "source_from_value",
]
