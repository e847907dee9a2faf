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

With ``errors="return"`` a bad item does not stop the others: it becomes an :class:`AudioSource` whose
``error`` holds the reason (the pipeline turns it into ``{"error": ..., "input": ...}``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from ..data.audio import (
    DEFAULT_SAMPLING_RATE,
    AudioError,
    decode_example_audio,
    file_num_samples,
    load_audio,
    pad_short_audio,
    prepare_audio,
    validate_audio,
)

ERROR_MODES = ("raise", "return")
"""``errors=`` of the pipeline: raise on the first bad item, or return an error entry in its place."""


class UnsupportedInputError(AudioError):
    """Raised when the pipeline receives an input of a type it cannot read as audio."""


def check_errors_mode(errors: Any) -> str:
    """Return ``errors`` if it is one of :data:`ERROR_MODES`, else raise a ValueError naming them."""
    if errors not in ERROR_MODES:
        raise ValueError(f"errors={errors!r} is not one of {list(ERROR_MODES)}.")
    return errors


@dataclass
class AudioSource:
    """One clip to classify, not necessarily decoded yet.

    Args:
        name (`str`): how error messages and the CLI refer to the clip (a path or ``"input[3]"``).
        num_samples (`int`): length at the model's sampling rate (from the file header for paths).
        path (`str`, *optional*): audio file to stream from; set for file inputs only.
        array (`np.ndarray`, *optional*): decoded float32 mono audio at the model's rate.
        sampling_rate (`int`, *optional*, defaults to 16000): the model's rate.
        error (`str`, *optional*): why the clip cannot be used (``errors="return"`` only); it is then
            skipped and reported instead of classified.
        text (`str`, *optional*): the clip's transcript, for models with text as a second input (see
            :mod:`hf_ser.inference.texts`).
    """

    name: str
    num_samples: int
    path: Optional[str] = None
    array: Optional[np.ndarray] = None
    sampling_rate: int = DEFAULT_SAMPLING_RATE
    error: Optional[str] = None
    text: Optional[str] = None

    def load(self) -> np.ndarray:
        """Decode the clip to float32 mono at the model's rate, padded to :data:`MIN_DURATION_S`."""
        if self.array is not None:
            audio = self.array
        else:
            audio = load_audio(self.path, self.sampling_rate)
        return pad_short_audio(audio, self.sampling_rate, self.name)


def _is_array_like(value: Any) -> bool:
    return isinstance(value, np.ndarray) or (hasattr(value, "detach") and hasattr(value, "numpy"))


def is_dataset(value: Any) -> bool:
    """Whether ``value`` is a `datasets.Dataset` (checked by shape, so `datasets` need not be imported)."""
    return type(value).__name__ == "Dataset" and hasattr(value, "column_names") and hasattr(value, "features")


def _path_source(path: Any, sampling_rate: int) -> AudioSource:
    name = os.fspath(path)
    num_samples = file_num_samples(name, sampling_rate)
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


def _dataset_sources(
    dataset: Any, sampling_rate: int, audio_column: str, errors: str = "raise"
) -> list[AudioSource]:
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
    return collect_sources(
        column, lambda index, value: _dataset_row_source(value, index, sampling_rate), errors
    )


def _dataset_row_source(value: Any, index: int, sampling_rate: int) -> AudioSource:
    """The source of one row of a dataset's audio column (files by path, without decoding)."""
    if (
        isinstance(value, dict)
        and value.get("array") is None
        and value.get("bytes") is None
        and value.get("path")
    ):
        return _path_source(value["path"], sampling_rate)
    return source_from_value(value, sampling_rate, name=f"dataset[{index}]")


def failed_source(value: Any, index: int, error: AudioError) -> AudioSource:
    """A placeholder for an unusable item: its path when it has one (else ``input[index]``) and the reason."""
    path = value.get("path") if isinstance(value, dict) else value
    path = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    return AudioSource(name=path or f"input[{index}]", num_samples=0, path=path, error=str(error))


def collect_sources(
    items: Any, make: Callable[[int, Any], AudioSource], errors: str = "raise"
) -> list[AudioSource]:
    """``make(index, item)`` for every item; with ``errors="return"`` an `AudioError` becomes a
    :func:`failed_source` in the item's place instead of stopping the whole call."""
    sources = []
    for index, item in enumerate(items):
        try:
            sources.append(make(index, item))
        except AudioError as error:
            if errors == "raise":
                raise
            sources.append(failed_source(item, index, error))
    return sources


def normalize_inputs(
    inputs: Any,
    *,
    sampling_rate: Any = None,
    target_sampling_rate: int = DEFAULT_SAMPLING_RATE,
    audio_column: str = "audio",
    errors: str = "raise",
) -> tuple[list[AudioSource], bool]:
    """Turn pipeline inputs into a list of :class:`AudioSource` and whether a single clip was given.

    Args:
        inputs: see the module docstring for the accepted forms.
        sampling_rate (`int`, *optional*): rate of array/tensor inputs (ignored for files and dicts).
        target_sampling_rate (`int`, *optional*, defaults to 16000): the model's rate.
        audio_column (`str`, *optional*, defaults to `"audio"`): column to read from a `datasets.Dataset`.
        errors (`str`, *optional*, defaults to `"raise"`): ``"return"`` keeps going past bad items, each
            becoming a source with ``error`` set (see :func:`collect_sources`).

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
    check_errors_mode(errors)
    if sampling_rate is not None:
        validate_audio(np.zeros(1, dtype=np.float32), sampling_rate)  # rate check only
    if is_dataset(inputs):
        return _dataset_sources(inputs, target_sampling_rate, audio_column, errors), False
    single = not isinstance(inputs, (list, tuple))
    items = [inputs] if single else inputs
    if len(items) == 0:
        raise AudioError("Empty list of inputs: nothing to classify.")
    if not single and all(
        isinstance(item, (int, float, np.number)) and not isinstance(item, bool) for item in items
    ):
        raise UnsupportedInputError(
            "A flat list of numbers is ambiguous; pass np.asarray(samples) with sampling_rate= for one "
            "clip, or a list of arrays / paths for several."
        )

    def make(index: int, item: Any) -> AudioSource:
        name = "input" if single else f"input[{index}]"
        return source_from_value(item, target_sampling_rate, input_rate=sampling_rate, name=name)

    return collect_sources(items, make, errors), single


__all__ = [
    "ERROR_MODES",
    "AudioSource",
    "UnsupportedInputError",
    "check_errors_mode",
    "collect_sources",
    "normalize_inputs",
    "source_from_value",
]
