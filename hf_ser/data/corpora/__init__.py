"""Corpus loaders: each published SER corpus layout as a `datasets.Dataset` (see :func:`load_corpus`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import datasets
from tqdm.auto import tqdm

from ..audio import DEFAULT_SAMPLING_RATE, AudioError, read_audio
from . import crema_d, emodb, folder, iemocap, msp_podcast, ravdess, tess, turev, urdu  # noqa: F401
from .base import (
    CANONICAL_EMOTIONS,
    CORPORA,
    EMOTION_ALIASES,
    CorpusLayoutError,
    CorpusNotFoundError,
    canonical_emotion,
    records_to_dataset,
    register_corpus,
)


def list_corpora() -> list[str]:
    """Names accepted by :func:`load_corpus`."""
    return sorted(CORPORA)


def _check_decodable(records: list[dict]) -> list[float]:
    """Decode every file (soundfile) and return durations; raise one error naming all bad paths."""
    durations, bad = [], []
    for record in tqdm(records, desc="Checking audio", unit="file", leave=False):
        try:
            data, rate = read_audio(record["path"])
        except AudioError as error:
            bad.append(str(error))
            continue
        durations.append(len(data) / rate)
    if bad:
        listed = "\n  ".join(bad[:20]) + ("\n  ..." if len(bad) > 20 else "")
        raise AudioError(f"{len(bad)} audio file(s) cannot be decoded:\n  {listed}")
    return durations


def load_corpus(
    name: str,
    data_dir: Union[str, Path],
    sampling_rate: Optional[int] = DEFAULT_SAMPLING_RATE,
    *,
    emotions: Optional[Sequence[str]] = None,
    check_audio: bool = False,
    **options,
) -> datasets.Dataset:
    """Load a corpus from its published layout as a `datasets.Dataset` (audio is not decoded).

    Args:
        name (`str`): one of :func:`list_corpora` (``emodb``, ``urdu``, ``ravdess``, ``turev``,
            ``crema_d``, ``tess``, ``iemocap``, ``msp_podcast``, ``folder``).
        data_dir (`str` or `Path`): where the corpus was unpacked (for ``folder`` also a CSV file).
        sampling_rate (`int`, *optional*, defaults to 16000): sampling rate of the ``audio`` feature, used
            by :func:`hf_ser.data.with_decoded_audio` and by datasets' own decoding after
            ``cast_column("audio", Audio(sampling_rate))``.
        emotions (`Sequence[str]`, *optional*): keep only these canonical emotions.
        check_audio (`bool`, *optional*, defaults to `False`): decode every file once, raise an
            :class:`~hf_ser.data.AudioError` listing undecodable paths and add a ``duration`` column (s).
        options: corpus options, e.g. ``strict=False`` (skip files with unknown names), ravdess
            ``vocal_channel="speech"|"song"|"both"``, iemocap ``four_class=True``, msp_podcast
            ``drop_unlabelled=True``, folder ``csv_file=``, ``label_map=``, ``speaker_regex=``.

    Returns:
        `datasets.Dataset` with columns ``audio`` (`datasets.Audio(decode=False)` pointing at the file),
        ``label`` (`ClassLabel` with the canonical names present, alphabetical), ``speaker``, ``sex``
        (``"female"``, ``"male"`` or None), ``corpus`` and the corpus' extras.

    Example:

    ```python
    >>> from hf_ser.data import load_corpus
    >>> emodb = load_corpus("emodb", "../shared/data/emodb")  # doctest: +SKIP
    >>> emodb.features["label"].names  # doctest: +SKIP
    ['anger', 'boredom', 'disgust', 'fear', 'happiness', 'neutral', 'sadness']

    ```
    """
    if name not in CORPORA:
        raise ValueError(f"Unknown corpus {name!r}; available: {list_corpora()}.")
    records = CORPORA[name].loader(Path(data_dir).expanduser(), **options)
    dataset = records_to_dataset(records, name, sampling_rate, emotions)
    if check_audio:
        paths = [{"path": value["path"]} for value in dataset["audio"]]
        dataset = dataset.add_column("duration", _check_decodable(paths))
    return dataset


__all__ = [
    "CANONICAL_EMOTIONS",
    "CORPORA",
    "EMOTION_ALIASES",
    "CorpusLayoutError",
    "CorpusNotFoundError",
    "canonical_emotion",
    "list_corpora",
    "load_corpus",
    "register_corpus",
]
