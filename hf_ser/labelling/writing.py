"""Shard files, markers and the run manifest: the on-disk state that makes a run resumable, exactly once.

Layout of an output directory::

    shard-000000.parquet  shard-000001.parquet  ...     the rows (load them all with datasets)
    _state/run.json                                     what was labelled, how (a resume must match)
    _state/shard-000000.json  ...                       marker: the shard is complete (rows, failures)
    _state/progress-<process>.json                      live counters for the aggregate progress line

A shard is written to a hidden temporary file and renamed into place with :func:`os.replace` (atomic on
POSIX and Windows), then its marker is written the same way. A shard counts as done only when both exist,
so a process killed at any point leaves either a complete shard or none: a re-run relabels exactly the
shards without a marker, and because the file name is the shard index, a relabelled shard replaces
rather than duplicates.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

STATE_DIRNAME = "_state"
RUN_FILENAME = "run.json"
RESUME_KEYS = (
    "source",
    "num_items",
    "shard_size",
    "model",
    "chunk_length_s",
    "stride_length_s",
    "embeddings",
)
"""Run-manifest keys that must match for a re-run to resume (anything else may change, e.g. processes)."""


def shard_path(output_dir: Path, index: int) -> Path:
    """The Parquet file of shard ``index``."""
    return output_dir / f"shard-{index:06d}.parquet"


def marker_path(output_dir: Path, index: int) -> Path:
    """The completion marker of shard ``index``."""
    return output_dir / STATE_DIRNAME / f"shard-{index:06d}.json"


def atomic_write(path: Path, write: Any) -> None:
    """Call ``write(temporary_path)``, then rename the temporary file onto ``path`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON, atomically."""
    atomic_write(path, lambda target: target.write_text(json.dumps(data, indent=1, sort_keys=True)))


def write_shard(output_dir: Path, index: int, table: pa.Table, marker: dict) -> None:
    """Write shard ``index`` and then its marker (each atomically), in that order."""
    atomic_write(shard_path(output_dir, index), lambda target: pq.write_table(table, target))
    write_json(marker_path(output_dir, index), dict(marker, shard=index, rows=table.num_rows))


def finished_shards(output_dir: Path) -> set[int]:
    """Indices of the shards whose Parquet file and marker both exist."""
    state = output_dir / STATE_DIRNAME
    if not state.is_dir():
        return set()
    indices = {int(path.stem.split("-")[1]) for path in state.glob("shard-*.json")}
    return {index for index in indices if shard_path(output_dir, index).is_file()}


def read_markers(output_dir: Path) -> list[dict]:
    """The markers of every finished shard, in shard order."""
    return [
        json.loads(marker_path(output_dir, index).read_text())
        for index in sorted(finished_shards(output_dir))
    ]


def check_or_write_run(output_dir: Path, run: dict) -> None:
    """Record ``run`` in ``_state/run.json``; when one is there, raise unless it describes the same run."""
    path = output_dir / STATE_DIRNAME / RUN_FILENAME
    if not path.is_file():
        write_json(path, run)
        return
    recorded = json.loads(path.read_text())
    changed = {
        key: (recorded.get(key), run.get(key)) for key in RESUME_KEYS if recorded.get(key) != run.get(key)
    }
    if changed:
        details = ", ".join(f"{key}: {old!r} -> {new!r}" for key, (old, new) in changed.items())
        raise ValueError(
            f"{str(output_dir)!r} holds another run's labels ({details}); resume with the same settings or "
            "choose a new output directory."
        )


def data_files(output_dir: Path) -> str:
    """The glob to load every shard: ``datasets.load_dataset("parquet", data_files=data_files(dir))``."""
    return str(output_dir / "shard-*.parquet")


__all__ = [
    "check_or_write_run",
    "data_files",
    "finished_shards",
    "marker_path",
    "read_markers",
    "shard_path",
    "write_json",
    "write_shard",
]
