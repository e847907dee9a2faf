"""Lazy decoding of a corpus' ``audio`` column with soundfile + soxr (no torchcodec, no ffmpeg).

:func:`with_decoded_audio` attaches a `datasets` transform (``with_transform``), so a clip is decoded
only when a row is read: a 100k-clip corpus costs nothing up front. An optional ``augment`` callable
runs after decoding; attach it to the training split only, e.g.
``train = with_decoded_audio(train, augment=build_augmentation("default"))``; the evaluation split,
decoded without it, is never changed.
"""

from __future__ import annotations

from typing import Callable, Optional

import datasets
import numpy as np

from .audio import DEFAULT_SAMPLING_RATE, decode_audio_value

AudioAugment = Callable[..., np.ndarray]
"""``augment(array, sampling_rate, label=None) -> array`` (see :mod:`hf_ser.data.augment`)."""


def decode_batch(
    batch: dict,
    sampling_rate: Optional[int] = DEFAULT_SAMPLING_RATE,
    column: str = "audio",
    augment: Optional[AudioAugment] = None,
    label_column: str = "label",
) -> dict:
    """Replace ``batch[column]`` values by ``{"array", "sampling_rate", "path"}`` dicts, keep the rest."""
    if column not in batch:
        return batch
    labels = batch.get(label_column) or [None] * len(batch[column])
    decoded = []
    for value, label in zip(batch[column], labels, strict=True):
        array, rate = decode_audio_value(value, sampling_rate)
        if augment is not None:
            array = augment(array, rate, label=label)
        path = value.get("path") if isinstance(value, dict) else None
        decoded.append({"array": array, "sampling_rate": rate, "path": path})
    return {**batch, column: decoded}


def with_decoded_audio(
    dataset: datasets.Dataset,
    sampling_rate: Optional[int] = DEFAULT_SAMPLING_RATE,
    *,
    column: str = "audio",
    augment: Optional[AudioAugment] = None,
    label_column: str = "label",
) -> datasets.Dataset:
    """Return ``dataset`` with ``column`` decoded lazily to float32 mono arrays at ``sampling_rate``.

    Rows then look like ``{"audio": {"array": np.ndarray, "sampling_rate": 16000, "path": ...}, ...}``,
    the same shape as datasets' classic decoded audio.

    Args:
        dataset (`datasets.Dataset`): e.g. from :func:`hf_ser.data.load_corpus`.
        sampling_rate (`int`, *optional*, defaults to 16000): output rate (``None`` = native rate).
        column (`str`, *optional*, defaults to `"audio"`): the audio column.
        augment (`Callable`, *optional*): ``augment(array, sampling_rate, label=...)`` applied after
            decoding; use it for the training split only.
        label_column (`str`, *optional*, defaults to `"label"`): passed to ``augment`` as ``label``.

    Note: reading any column of the returned dataset runs the transform; read lengths or labels from
    the dataset *before* this call (the collator can decode instead: see
    :class:`hf_ser.data.SERDataCollator`).

    Example:

    ```python
    >>> from hf_ser.data import load_corpus, with_decoded_audio
    >>> emodb = with_decoded_audio(load_corpus("emodb", "../shared/data/emodb"))  # doctest: +SKIP
    >>> emodb[0]["audio"]["array"].shape  # doctest: +SKIP
    (32000,)

    ```
    """
    if column not in dataset.column_names:
        raise ValueError(f"Column {column!r} not in dataset columns {dataset.column_names}.")

    def transform(batch: dict) -> dict:
        return decode_batch(batch, sampling_rate, column, augment, label_column)

    return dataset.with_transform(transform)


__all__ = ["decode_batch", "with_decoded_audio"]
