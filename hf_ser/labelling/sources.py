"""Input sources of ``hf-ser label``: what to label, as a stream of :class:`Item` records.

A source is one of

- a folder tree of audio files (wav, flac, ogg, mp3; searched recursively; id = path relative to it);
- a CSV or JSON-lines manifest with a path column (relative paths are relative to the manifest) and an
  optional id column;
- a `datasets` dataset saved with ``save_to_disk`` (a directory; its audio column is read undecoded);
- a Hub dataset name, read with ``streaming=True`` (the audio column is read undecoded too);
- in Python, a `datasets.Dataset` or `datasets.IterableDataset` object.

Finite sources are sorted by id, so shard ``k`` holds the same clips however many processes run and
whatever order the file system lists them in. Streams keep their own (deterministic) order and are never
materialised: :meth:`Source.items` is a generator.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".json")


@dataclass(frozen=True)
class Item:
    """One clip to label: a stable ``id``, its ``path`` when it has one, and the audio value to decode
    (a path, or a `datasets` audio dict such as ``{"path": ..., "bytes": ...}``)."""

    id: str
    path: Optional[str]
    value: Any


@dataclass
class Source:
    """Where the clips come from.

    Args:
        kind (`str`): ``"folder"``, ``"manifest"``, ``"dataset"`` or ``"stream"``.
        description (`str`): what the run manifest records (a path or a dataset name), to refuse a resume
            over other data.
        finite_items (`list[Item]`, *optional*): the items of a finite source, sorted by id.
        stream (*optional*): a `datasets.IterableDataset` (streams only).
        audio_column, id_column (`str`): columns of dataset inputs.
    """

    kind: str
    description: str
    finite_items: Optional[list[Item]] = None
    stream: Any = None
    audio_column: str = "audio"
    id_column: Optional[str] = None

    @property
    def num_items(self) -> Optional[int]:
        """Number of clips, or ``None`` for a stream."""
        return None if self.finite_items is None else len(self.finite_items)

    def items(self) -> Iterator[Item]:
        """Every item in shard order (sorted by id; stream order for streams)."""
        if self.finite_items is not None:
            yield from self.finite_items
            return
        for index, row in enumerate(self.stream):
            yield row_item(row, index, self.audio_column, self.id_column)


def unique_sorted(items: list[Item], where: str) -> list[Item]:
    """``items`` sorted by id; raise when two share an id (rows would be ambiguous)."""
    ordered = sorted(items, key=lambda item: item.id)
    for first, second in zip(ordered, ordered[1:], strict=False):
        if first.id == second.id:
            raise ValueError(f"Duplicate id {first.id!r} in {where}; ids must be unique (pass an id column).")
    return ordered


def folder_source(directory: Path) -> Source:
    """Every audio file under ``directory`` (hidden files skipped); id = the posix path relative to it."""
    from ..data.corpora.base import audio_files

    directory = directory.resolve()
    files = audio_files(directory)
    if not files:
        raise ValueError(f"{str(directory)!r} holds no wav/flac/ogg/mp3 files.")
    items = [Item(path.relative_to(directory).as_posix(), str(path), str(path)) for path in files]
    return Source("folder", str(directory), unique_sorted(items, str(directory)))


def read_manifest_rows(path: Path) -> list[dict]:
    """The rows of a CSV (header line) or JSON-lines manifest."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def manifest_source(path: Path, path_column: str = "path", id_column: Optional[str] = None) -> Source:
    """Clips listed in a CSV / JSON-lines manifest; id = the ``id_column`` value, else the path as written."""
    rows = read_manifest_rows(path)
    if rows and path_column not in rows[0]:
        raise ValueError(f"Manifest {str(path)!r} has no {path_column!r} column; columns: {sorted(rows[0])}.")
    if id_column is not None and rows and id_column not in rows[0]:
        raise ValueError(
            f"Manifest {str(path)!r} has no id column {id_column!r}; columns: {sorted(rows[0])}."
        )
    items = []
    for row in rows:
        written = str(row[path_column])
        resolved = os.path.abspath(written if os.path.isabs(written) else path.parent / written)
        item_id = str(row[id_column]) if id_column else written
        items.append(Item(item_id, resolved, resolved))
    return Source("manifest", str(path.resolve()), unique_sorted(items, str(path)))


def undecoded(dataset: Any, audio_column: str) -> Any:
    """``dataset`` with its `Audio` column cast to ``decode=False`` (hf_ser decodes with soundfile + soxr)."""
    if audio_column not in (dataset.column_names or []):
        raise ValueError(
            f"Dataset has no audio column {audio_column!r}; columns are {dataset.column_names}. "
            "Pass audio_column=."
        )
    feature = dataset.features[audio_column] if dataset.features else None
    if type(feature).__name__ == "Audio" and getattr(feature, "decode", False):
        return dataset.cast_column(audio_column, type(feature)(decode=False))
    return dataset


def row_item(row: dict, index: int, audio_column: str, id_column: Optional[str]) -> Item:
    """One dataset row as an :class:`Item`: id = ``id_column``, else the audio path, else the row index."""
    value = row[audio_column]
    path = value.get("path") if isinstance(value, dict) else (value if isinstance(value, str) else None)
    if id_column is not None:
        item_id = str(row[id_column])
    else:
        item_id = path if path else f"{index:010d}"
    return Item(item_id, path, value)


def dataset_source(
    dataset: Any, description: str, audio_column: str = "audio", id_column: Optional[str] = None
) -> Source:
    """A `datasets.Dataset` (finite, sorted by id) or `datasets.IterableDataset` (a stream)."""
    dataset = undecoded(dataset, audio_column)
    if type(dataset).__name__ == "IterableDataset":
        return Source("stream", description, stream=dataset, audio_column=audio_column, id_column=id_column)
    rows = dataset.with_format(None)
    items = [row_item(row, index, audio_column, id_column) for index, row in enumerate(rows)]
    return Source("dataset", description, unique_sorted(items, description), audio_column=audio_column)


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a directory written by ``Dataset.save_to_disk``."""
    return path.is_dir() and (path / "state.json").is_file() and (path / "dataset_info.json").is_file()


def open_source(
    source: Any,
    *,
    audio_column: str = "audio",
    path_column: str = "path",
    id_column: Optional[str] = None,
    split: str = "train",
) -> Source:
    """Turn what the user passed (a path, a Hub name or a `datasets` object) into a :class:`Source`."""
    if hasattr(source, "column_names") and hasattr(source, "features"):
        return dataset_source(source, type(source).__name__, audio_column, id_column)
    path = Path(os.fspath(source))
    if is_saved_dataset(path):
        import datasets

        return dataset_source(
            datasets.load_from_disk(str(path)), str(path.resolve()), audio_column, id_column
        )
    if path.is_dir():
        return folder_source(path)
    if path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
        return manifest_source(path, path_column, id_column)
    if path.exists():
        raise ValueError(f"{str(path)!r} is neither a folder, a saved dataset nor a .csv/.jsonl manifest.")
    return hub_source(str(source), split, audio_column, id_column)


def hub_source(name: str, split: str, audio_column: str, id_column: Optional[str]) -> Source:
    """A Hub dataset read with ``streaming=True`` (nothing is downloaded up front)."""
    import datasets

    stream = datasets.load_dataset(name, split=split, streaming=True)
    return dataset_source(stream, f"hub:{name}:{split}", audio_column, id_column)


__all__ = ["Item", "Source", "open_source"]
