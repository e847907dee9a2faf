"""openSMILE functionals (eGeMAPSv02, ComParE_2016) of clips, and a per-file disk cache for any clip features.

The field's standard hand-crafted features (Eyben et al. 2016; Schuller et al., ComParE 2016): one
fixed-length vector per clip (88 eGeMAPS or 6,373 ComParE functionals), the input of the classic
standardise + linear-SVM baseline (``recipes/svm_baseline.py``) and usable by any model that wants
utterance-level features. openSMILE is an optional extra: ``pip install "hf_ser[opensmile]"``; without it
:func:`opensmile_functionals` raises an ImportError that names the extra.

Clips are decoded with :func:`hf_ser.data.load_audio` at 16 kHz (mono), the rate every hf_ser model sees,
so features of corpora stored at different rates are comparable. :func:`cached_clip_features` computes a
feature function once per audio file and keeps it under ``cache_dir`` (an ``.npy`` per file, keyed by path,
size, modification time, feature name and rate), so a second run, or another model, reads it back.

Example:

```python
>>> from hf_ser.data import load_corpus  # doctest: +SKIP
>>> from hf_ser.data.opensmile_features import cached_clip_features, opensmile_functionals  # doctest: +SKIP
>>> emodb = load_corpus("emodb", "../shared/data/emodb")  # doctest: +SKIP
>>> X = cached_clip_features(emodb, opensmile_functionals, "egemaps", "cache")  # doctest: +SKIP
>>> X.shape  # doctest: +SKIP
(535, 88)
```
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from .audio import DEFAULT_SAMPLING_RATE, load_audio

FEATURE_SETS = {"egemaps": "eGeMAPSv02", "compare": "ComParE_2016"}
"""hf_ser names of the openSMILE functionals sets -> openSMILE's ``FeatureSet`` member names."""

ClipFeatures = Callable[[np.ndarray, int, str], np.ndarray]
"""``features(array, sampling_rate, name) -> 1-D float vector`` of one clip."""


def is_opensmile_available() -> bool:
    """Whether the optional ``opensmile`` package can be imported (checked without importing it)."""
    return importlib.util.find_spec("opensmile") is not None


@functools.cache
def _smile(feature_set: str) -> Any:
    """One ``opensmile.Smile`` per feature set (building it parses the config: do it once)."""
    if not is_opensmile_available():
        raise ImportError(
            f"openSMILE features ({feature_set!r}) need the optional `opensmile` package: "
            'pip install "hf_ser[opensmile]"'
        )
    import opensmile

    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, FEATURE_SETS[feature_set]),
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def opensmile_functionals(array: np.ndarray, sampling_rate: int, feature_set: str = "egemaps") -> np.ndarray:
    """The openSMILE functionals of one mono clip: 88 (``"egemaps"``) or 6,373 (``"compare"``) float32."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(
            f"Unknown openSMILE feature set {feature_set!r}; choose one of {sorted(FEATURE_SETS)}."
        )
    signal = np.asarray(array, dtype=np.float32).reshape(-1)
    values = _smile(feature_set).process_signal(signal, sampling_rate).to_numpy()
    return values.reshape(-1).astype(np.float32)


def _cache_key(path: str, name: str, sampling_rate: int) -> str:
    """A file's cache name: changes when the file (size, modification time), the features or the rate do."""
    stat = os.stat(path)
    text = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{name}|{sampling_rate}"
    return hashlib.sha1(text.encode()).hexdigest()


def _audio_path(value: Any) -> str:
    """The file path of a corpus' undecoded ``audio`` value (a path or ``{"path": ...}``)."""
    path = value.get("path") if isinstance(value, dict) else value
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"Per-file feature caching needs audio file paths, got {type(value).__name__}.")
    return str(path)


def cached_clip_features(
    dataset: Any,
    features: ClipFeatures,
    name: str,
    cache_dir: Union[str, Path, None] = None,
    sampling_rate: int = DEFAULT_SAMPLING_RATE,
) -> np.ndarray:
    """``(clips, dims)`` features of every row of a corpus (undecoded ``audio`` column of file paths).

    Args:
        dataset: a corpus from :func:`hf_ser.data.load_corpus` (or any table with an ``audio`` column).
        features: ``features(array, sampling_rate, name)``, e.g. :func:`opensmile_functionals`.
        name: the feature set's name, passed to ``features`` and part of the cache key.
        cache_dir: keep each file's vector here (``<cache_dir>/<name>/<key>.npy``); `None` = no cache.
        sampling_rate: the clips are decoded to this rate.
    """
    column = dataset.with_format(None)["audio"] if hasattr(dataset, "with_format") else dataset["audio"]
    directory = Path(cache_dir) / name if cache_dir is not None else None
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for value in column:
        path = _audio_path(value)
        cached = directory / f"{_cache_key(path, name, sampling_rate)}.npy" if directory is not None else None
        if cached is not None and cached.is_file():
            rows.append(np.load(cached))
            continue
        vector = np.asarray(features(load_audio(path, sampling_rate), sampling_rate, name), dtype=np.float32)
        if cached is not None:
            np.save(cached, vector)
        rows.append(vector)
    return np.stack(rows)
