"""Rows of the output: pipeline results (or failures) as one Arrow table per shard, with a fixed schema.

Columns: ``id``, ``path``, ``window`` (0 for a whole clip; 0, 1, ... for the windows of a clip labelled
with ``chunk_length_s``), ``start`` / ``end`` (seconds), ``label``, one ``score_<class>`` column per class
(probabilities), one column per regression target (e.g. ``arousal``, ``dominance``, ``valence``) for
models that have them, ``embedding`` (the pooled vector, only with ``return_embeddings``) and ``error``
(the reason a clip could not be labelled; null otherwise). Every shard has the same schema, a shard of
failures included, so ``datasets.load_dataset("parquet", data_files=...)`` reads them as one dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import pyarrow as pa

from .decoding import DecodedClip

SCORE_PREFIX = "score_"


@dataclass(frozen=True)
class Columns:
    """What the model outputs: its class names (in id order), regression targets, and whether the pooled
    embedding is kept."""

    classes: tuple[str, ...]
    targets: tuple[str, ...]
    embeddings: bool = False

    @classmethod
    def of(cls, pipe: Any, embeddings: bool = False) -> Columns:
        """The columns of ``pipe`` (an `SERPipeline`)."""
        classes = () if pipe.task == "regression" else tuple(pipe.id2label[i] for i in sorted(pipe.id2label))
        return cls(classes, tuple(pipe.regression_targets), embeddings)

    def schema(self) -> pa.Schema:
        """The Arrow schema every shard is written with."""
        fields = [
            pa.field("id", pa.string()),
            pa.field("path", pa.string()),
            pa.field("window", pa.int32()),
            pa.field("start", pa.float64()),
            pa.field("end", pa.float64()),
            pa.field("label", pa.string()),
        ]
        fields += [pa.field(SCORE_PREFIX + name, pa.float64()) for name in self.classes]
        fields += [pa.field(name, pa.float64()) for name in self.targets]
        if self.embeddings:
            fields.append(pa.field("embedding", pa.list_(pa.float32())))
        fields.append(pa.field("error", pa.string()))
        return pa.schema(fields)


def value_columns(result: dict, columns: Columns) -> dict:
    """The label, score and target values of one (clip or window) result."""
    scores = result.get("scores", {})
    row: dict = {"label": result.get("label")}
    row.update({SCORE_PREFIX + name: scores.get(name) for name in columns.classes})
    row.update({name: result.get(name) for name in columns.targets})
    if columns.embeddings:
        embedding = result.get("embedding")
        row["embedding"] = None if embedding is None else [float(v) for v in embedding]
    return row


def failure_row(clip: DecodedClip, reason: str, columns: Columns) -> dict:
    """The single row of a clip that could not be labelled."""
    row = {"id": clip.item.id, "path": clip.item.path, "window": 0, "start": None, "end": None}
    row.update(value_columns({}, columns))
    row["error"] = reason
    return row


def result_rows(clip: DecodedClip, result: dict, columns: Columns) -> list[dict]:
    """One row per window of a chunked result, else one row for the whole clip."""
    base = {"id": clip.item.id, "path": clip.item.path}
    windows = result.get("segments") or [dict(result, start=0.0, end=round(clip.seconds, 3))]
    rows = []
    for index, window in enumerate(windows):
        row = dict(base, window=index, start=float(window["start"]), end=float(window["end"]))
        row.update(value_columns(window, columns))
        row["error"] = None
        rows.append(row)
    return rows


def clip_rows(clip: DecodedClip, outcome: Any, columns: Columns) -> list[dict]:
    """Rows of one clip given its outcome: a result dict, or an error text."""
    if isinstance(outcome, str):
        return [failure_row(clip, outcome, columns)]
    return result_rows(clip, outcome, columns)


def shard_table(rows: list[dict], columns: Columns) -> pa.Table:
    """The rows of a shard as an Arrow table with the run's schema."""
    return pa.Table.from_pylist(rows, schema=columns.schema())


def error_of(rows: list[dict]) -> Optional[str]:
    """The failure reason of a clip's rows (``None`` when it was labelled)."""
    return rows[0]["error"] if rows else None


__all__ = ["SCORE_PREFIX", "Columns", "clip_rows", "shard_table"]
