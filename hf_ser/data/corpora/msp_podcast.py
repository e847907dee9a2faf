"""MSP-Podcast: ``Audios/<FileName>`` + ``Labels/labels_consensus.csv`` (+ ``Transcripts/`` when present).

The CSV has one row per clip with ``FileName``, ``EmoClass`` (A anger, S sadness, H happiness,
U surprise, F fear, D disgust, C contempt, N neutral, O other, X no agreement), ``EmoAct``, ``EmoVal``,
``EmoDom`` (1-7 consensus scores), ``SpkrID``, ``Gender`` and ``Split_Set`` (Train, Development,
Test1, Test2, ...). Clips whose class has no canonical name (contempt, other, no agreement) get label
-1 with ``drop_unlabelled=False`` (useful for dimensional training) and are dropped otherwise. The
official partition is kept in the ``split`` column; :func:`hf_ser.data.official_splits` turns it into
a `DatasetDict`.

Releases that ship ``Transcripts/<FileName stem>.txt`` (one automatic transcript per clip) fill the
``text`` column (the name IEMOCAP's transcripts and the CTC / text-fusion collators use); clips without a
transcript file, and releases without the folder, get ``None``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import datasets

from .base import CorpusNotFoundError, layout_error, register_corpus, require_dir

MSP_PODCAST_CLASSES = {
    "A": "anger", "S": "sadness", "H": "happiness", "U": "surprise",
    "F": "fear", "D": "disgust", "N": "neutral",
}  # fmt: skip
MSP_PODCAST_COLUMNS = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")


def _float(value: str):
    return float(value) if value not in ("", None) else None


def _read_transcript(directory: Path, file_name: str) -> Optional[str]:
    """The clip's transcript from ``Transcripts/<stem>.txt`` (whitespace collapsed), or None."""
    path = directory / f"{Path(file_name).stem}.txt"
    if not path.is_file():
        return None
    return " ".join(path.read_text(encoding="utf-8", errors="replace").split())


@register_corpus(
    "msp_podcast",
    layout="<data_dir>/Audios/<FileName> and <data_dir>/Labels/labels_consensus.csv with columns "
    + ", ".join(MSP_PODCAST_COLUMNS)
    + " (optional: <data_dir>/Transcripts/<FileName stem>.txt)",
    example="Audios/MSP-PODCAST_0001_0008.wav",
    extra_features={
        "arousal": datasets.Value("float32"),
        "dominance": datasets.Value("float32"),
        "valence": datasets.Value("float32"),
        "split": datasets.Value("string"),
        "original_label": datasets.Value("string"),
        "text": datasets.Value("string"),
    },
)
def load_msp_podcast(data_dir: Path, *, drop_unlabelled: bool = True, strict: bool = True) -> list[dict]:
    """Records for MSP-Podcast; speaker ids ``Unknown`` are kept as given."""
    root = require_dir("msp_podcast", data_dir)
    audio_dir = require_dir("msp_podcast", root / "Audios", "Audios folder")
    labels = root / "Labels" / "labels_consensus.csv"
    if not labels.is_file():
        raise CorpusNotFoundError(
            f"{str(labels)!r} does not exist: corpus 'msp_podcast' needs Labels/labels_consensus.csv."
        )
    available = {path.name for path in audio_dir.iterdir()}
    records = []
    with open(labels, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in MSP_PODCAST_COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            raise layout_error("msp_podcast", labels, f"the CSV lacks columns {missing}")
        for row in reader:
            label = MSP_PODCAST_CLASSES.get(row["EmoClass"].strip())
            if label is None and drop_unlabelled:
                continue
            if row["FileName"] not in available:
                if strict:
                    raise layout_error(
                        "msp_podcast", audio_dir / row["FileName"], "listed in the CSV but missing"
                    )
                continue
            gender = row["Gender"].strip().lower()
            records.append(
                {
                    "path": audio_dir / row["FileName"],
                    "label": label,
                    "speaker": row["SpkrID"].strip(),
                    "sex": gender if gender in ("female", "male") else None,
                    "arousal": _float(row["EmoAct"]),
                    "dominance": _float(row["EmoDom"]),
                    "valence": _float(row["EmoVal"]),
                    "split": row["Split_Set"].strip(),
                    "original_label": row["EmoClass"].strip(),
                    "text": _read_transcript(root / "Transcripts", row["FileName"]),
                }
            )
    return records
