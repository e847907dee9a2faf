"""Any corpus as a ``<label>/<file>`` tree or a CSV with ``path``, ``label`` [, ``speaker``, ``sex``] columns.

Folder or CSV label names are mapped to canonical emotion names through common spellings (``angry``,
``Happy``, ``sad``, ``ps`` ...) and an optional ``label_map``. Speakers come from the CSV's ``speaker``
column or from ``speaker_regex`` applied to the file name (first group), e.g. ``r"^(\\d+)_"``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Optional, Union

from .base import (
    CANONICAL_EMOTIONS,
    CorpusLayoutError,
    audio_files,
    canonical_emotion,
    layout_error,
    register_corpus,
    require_dir,
)


def _label(name: str, where: Path, label_map: Optional[dict[str, str]]) -> str:
    label = canonical_emotion(name, label_map)
    if label not in CANONICAL_EMOTIONS:
        raise CorpusLayoutError(
            f"Label {name!r} (from {str(where)!r}) has no canonical emotion name. Canonical names: "
            f"{list(CANONICAL_EMOTIONS)}; map it with label_map={{{name!r}: 'neutral', ...}}."
        )
    return label


def _speaker(path: Path, speaker_regex: Optional[re.Pattern], strict: bool) -> Optional[str]:
    if speaker_regex is None:
        return None
    match = speaker_regex.search(path.name)
    if match is None:
        if strict:
            raise layout_error("folder", path, f"speaker_regex {speaker_regex.pattern!r} does not match")
        return None
    return match.group(1) if match.groups() else match.group(0)


def _sex(value: Optional[str]) -> Optional[str]:
    value = (value or "").strip().lower()
    return {"f": "female", "female": "female", "m": "male", "male": "male"}.get(value)


def _csv_path(data_dir: Path, csv_file: Union[str, Path]) -> Path:
    """The CSV file: absolute, or relative to ``data_dir`` (unless ``data_dir`` is the CSV itself)."""
    csv_path = Path(csv_file) if Path(csv_file).is_absolute() or data_dir.is_file() else data_dir / csv_file
    if not csv_path.is_file():
        require_dir("folder", csv_path, "CSV file")
    return csv_path


def _csv_record(
    row: dict[str, str],
    csv_path: Path,
    label_map: Optional[dict[str, str]],
    regex: Optional[re.Pattern],
    strict: bool,
) -> Optional[dict]:
    """The record of one CSV row (``None`` for a missing file when not ``strict``)."""
    path = Path(row["path"])
    path = path if path.is_absolute() else csv_path.parent / path
    if not path.is_file():
        if strict:
            raise layout_error("folder", path, f"listed in {csv_path.name} but missing")
        return None
    speaker = row.get("speaker") or _speaker(path, regex, strict)
    return {
        "path": path,
        "label": _label(row["label"], csv_path, label_map),
        "speaker": speaker,
        "sex": _sex(row.get("sex")),
    }


def _csv_records(
    csv_path: Path, label_map: Optional[dict[str, str]], regex: Optional[re.Pattern], strict: bool
) -> list[dict]:
    """Records of a CSV with ``path``, ``label`` [, ``speaker``, ``sex``] columns."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not {"path", "label"} <= set(reader.fieldnames or []):
            raise layout_error(
                "folder", csv_path, f"the CSV needs columns path,label; has {reader.fieldnames}"
            )
        records = [_csv_record(row, csv_path, label_map, regex, strict) for row in reader]
    return [record for record in records if record is not None]


def _tree_records(
    data_dir: Path, label_map: Optional[dict[str, str]], regex: Optional[re.Pattern], strict: bool
) -> list[dict]:
    """Records of a ``<label>/<file>`` tree (hidden and empty label folders are skipped)."""
    root = require_dir("folder", data_dir)
    records = []
    for label_dir in sorted(
        path for path in root.iterdir() if path.is_dir() and not path.name.startswith(".")
    ):
        files = audio_files(label_dir, "**/*")
        if not files:
            continue
        label = _label(label_dir.name, label_dir, label_map)
        for path in files:
            records.append(
                {"path": path, "label": label, "speaker": _speaker(path, regex, strict), "sex": None}
            )
    return records


@register_corpus(
    "folder",
    layout="<data_dir>/<label>/<file>.wav, or a CSV file with columns path,label[,speaker,sex]",
    example="angry/clip_001.wav",
)
def load_folder(
    data_dir: Path,
    *,
    csv_file: Optional[Union[str, Path]] = None,
    label_map: Optional[dict[str, str]] = None,
    speaker_regex: Optional[str] = None,
    strict: bool = True,
) -> list[dict]:
    """Records from a label-folder tree or a CSV (``csv_file``, or ``data_dir`` itself if it is a file).

    CSV paths are relative to the CSV's directory unless absolute.
    """
    data_dir = Path(data_dir)
    regex = re.compile(speaker_regex) if speaker_regex else None
    if csv_file is None and data_dir.is_file():
        csv_file = data_dir
    if csv_file is not None:
        return _csv_records(_csv_path(data_dir, csv_file), label_map, regex, strict)
    return _tree_records(data_dir, label_map, regex, strict)
