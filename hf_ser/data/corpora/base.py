"""Shared machinery for corpus loaders: canonical emotion names, the registry, layout errors, and the
conversion of per-file records into a `datasets.Dataset`.

A corpus loader is a function ``(data_dir: Path, **options) -> list[dict]`` registered with
:func:`register_corpus`. Each record holds ``path``, ``label`` (a canonical emotion name), ``speaker``,
``sex`` and the corpus' extra columns; :func:`records_to_dataset` turns the records into a `Dataset`
whose ``audio`` column is a `datasets.Audio(decode=False)` feature pointing at the files, so nothing is
decoded until :func:`hf_ser.data.with_decoded_audio` or the collator asks for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import datasets

CANONICAL_EMOTIONS: tuple[str, ...] = (
    "anger",
    "boredom",
    "calm",
    "disgust",
    "fear",
    "happiness",
    "neutral",
    "sadness",
    "surprise",
)
"""Emotion names every corpus maps to (alphabetical; a dataset keeps only those it has)."""

EMOTION_ALIASES: dict[str, str] = {
    **{name: name for name in CANONICAL_EMOTIONS},
    "angry": "anger", "ang": "anger", "wut": "anger", "mad": "anger",
    "bored": "boredom", "langeweile": "boredom",
    "disgusted": "disgust", "dis": "disgust", "ekel": "disgust",
    "fearful": "fear", "afraid": "fear", "fea": "fear", "angst": "fear",
    "happy": "happiness", "hap": "happiness", "joy": "happiness", "freude": "happiness",
    "neu": "neutral",
    "sad": "sadness", "trauer": "sadness",
    "surprised": "surprise", "sur": "surprise", "ps": "surprise", "pleasant_surprise": "surprise",
    "pleasant_surprised": "surprise",
}  # fmt: skip
"""Common spellings of emotion names in corpora and folder trees, mapped to canonical names."""

AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3")


class CorpusLayoutError(ValueError):
    """A corpus directory does not follow the published layout (missing, empty or unknown file name)."""


class CorpusNotFoundError(CorpusLayoutError, FileNotFoundError):
    """The corpus directory (or a required file inside it) does not exist."""


@dataclass
class CorpusSpec:
    """A registered corpus: its loader, published layout (for error messages) and extra columns."""

    name: str
    loader: Callable[..., list[dict]]
    layout: str
    example: str
    extra_features: dict[str, datasets.features.features.FeatureType] = field(default_factory=dict)


CORPORA: dict[str, CorpusSpec] = {}
"""Registry of corpus loaders, filled by the modules in ``hf_ser.data.corpora``."""


def register_corpus(
    name: str,
    *,
    layout: str,
    example: str,
    extra_features: Optional[dict] = None,
) -> Callable[[Callable[..., list[dict]]], Callable[..., list[dict]]]:
    """Decorator registering a loader under ``name`` (idempotent: re-registering replaces it)."""

    def decorator(loader: Callable[..., list[dict]]) -> Callable[..., list[dict]]:
        CORPORA[name] = CorpusSpec(name, loader, layout, example, dict(extra_features or {}))
        return loader

    return decorator


def canonical_emotion(name: str, label_map: Optional[dict[str, str]] = None) -> Optional[str]:
    """Map a corpus' emotion spelling to a canonical name; ``None`` if it has no canonical equivalent."""
    if label_map is not None and name in label_map:
        return label_map[name]
    return EMOTION_ALIASES.get(name.strip().lower().replace(" ", "_").replace("-", "_"))


def layout_error(corpus: str, path: Path, reason: str) -> CorpusLayoutError:
    """Build the error for a file that does not follow ``corpus``' layout, quoting layout and example."""
    spec = CORPORA[corpus]
    return CorpusLayoutError(
        f"Unexpected file {str(path)!r} for corpus {corpus!r}: {reason}. Expected layout "
        f"{spec.layout}, e.g. {spec.example!r}. Pass strict=False to skip such files."
    )


def require_dir(corpus: str, directory: Path, what: str = "corpus directory") -> Path:
    """Return ``directory`` if it exists; otherwise raise :class:`CorpusNotFoundError` quoting the layout."""
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        spec = CORPORA[corpus]
        raise CorpusNotFoundError(
            f"The {what} {str(directory)!r} for corpus {corpus!r} does not exist. Expected layout "
            f"{spec.layout}, e.g. {spec.example!r}."
        )
    return directory


def audio_files(directory: Path, pattern: str = "**/*") -> list[Path]:
    """Audio files (by extension) under ``directory`` matching the glob, sorted, hidden files skipped."""
    return sorted(
        path
        for path in directory.glob(pattern)
        if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file() and not path.name.startswith(".")
    )


def match_name(corpus: str, regex: re.Pattern, path: Path, strict: bool) -> Optional[re.Match]:
    """Match a file stem against ``regex``; raise a layout error (strict) or return ``None`` (skip)."""
    match = regex.fullmatch(path.stem)
    if match is None and strict:
        raise layout_error(corpus, path, "the file name does not match the corpus naming scheme")
    return match


def records_to_dataset(
    records: list[dict],
    corpus: str,
    sampling_rate: Optional[int],
    emotions: Optional[Sequence[str]] = None,
) -> datasets.Dataset:
    """Build the `Dataset` (``audio``, ``label``, ``speaker``, ``sex``, ``corpus`` + extras) from records.

    Records whose ``label`` is ``None`` (e.g. an MSP-Podcast clip without a canonical class) get label -1.
    ``emotions`` keeps only those canonical classes. Label names are the canonical names present.
    """
    spec = CORPORA[corpus]
    if emotions is not None:
        unknown = sorted(set(emotions) - set(CANONICAL_EMOTIONS))
        if unknown:
            raise ValueError(f"Unknown emotions {unknown}; allowed: {list(CANONICAL_EMOTIONS)}.")
        records = [record for record in records if record["label"] in set(emotions)]
    if not records:
        raise CorpusLayoutError(
            f"No usable audio files found for corpus {corpus!r}. Expected layout {spec.layout}, "
            f"e.g. {spec.example!r}."
        )
    present = {record["label"] for record in records if record["label"] is not None}
    names = [name for name in CANONICAL_EMOTIONS if name in present]
    index = {name: i for i, name in enumerate(names)}
    columns: dict[str, list] = {
        "audio": [{"bytes": None, "path": str(record["path"])} for record in records],
        "label": [index[r["label"]] if r["label"] is not None else -1 for r in records],
        "speaker": [None if r.get("speaker") is None else str(r["speaker"]) for r in records],
        "sex": [r.get("sex") for r in records],
        "corpus": [corpus] * len(records),
    }
    for column in spec.extra_features:
        columns[column] = [record.get(column) for record in records]
    features = datasets.Features(
        {
            # Audio.encode_example needs torchcodec even for paths, so the column is written as the
            # Audio storage struct and cast to Audio afterwards.
            "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
            "label": datasets.ClassLabel(names=names),
            "speaker": datasets.Value("string"),
            "sex": datasets.Value("string"),
            "corpus": datasets.Value("string"),
            **spec.extra_features,
        }
    )
    dataset = datasets.Dataset.from_dict(columns, features=features)
    return dataset.cast_column("audio", datasets.Audio(sampling_rate=sampling_rate, decode=False))
