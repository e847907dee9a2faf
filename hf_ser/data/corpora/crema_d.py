"""CREMA-D: ``AudioWAV/<actor>_<sentence>_<EMO>_<level>.wav``, e.g. ``1001_DFA_ANG_XX.wav``.

Emotions ANG, DIS, FEA, HAP, NEU, SAD; levels LO, MD, HI or XX (unspecified). Actor sex comes from
``VideoDemographics.csv`` (columns ActorID, ..., Sex) when it is present next to ``AudioWAV/``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import datasets

from .base import audio_files, layout_error, match_name, register_corpus, require_dir

CREMA_D_EMOTIONS = {
    "ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral", "SAD": "sadness",
}  # fmt: skip
CREMA_D_LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
_NAME = re.compile(r"(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})")


def read_crema_d_demographics(path: Path) -> dict[str, str]:
    """Map actor id to ``"female"``/``"male"`` from ``VideoDemographics.csv``."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return {
            row["ActorID"].strip(): row["Sex"].strip().lower()
            for row in csv.DictReader(handle)
            if row.get("ActorID") and row.get("Sex")
        }


@register_corpus(
    "crema_d",
    layout="<data_dir>/AudioWAV/<actor>_<sentence>_<EMO>_<level>.wav (+ optional VideoDemographics.csv)",
    example="AudioWAV/1001_DFA_ANG_XX.wav",
    extra_features={"intensity": datasets.Value("string"), "statement": datasets.Value("string")},
)
def load_crema_d(data_dir: Path, *, strict: bool = True) -> list[dict]:
    """Records for CREMA-D; ``intensity`` is low/medium/high/unspecified, ``statement`` the sentence code."""
    root = require_dir("crema_d", data_dir)
    audio_dir = require_dir("crema_d", root / "AudioWAV", "AudioWAV folder")
    demographics = root / "VideoDemographics.csv"
    sexes = read_crema_d_demographics(demographics) if demographics.is_file() else {}
    records = []
    for path in audio_files(audio_dir, "*"):
        match = match_name("crema_d", _NAME, path, strict)
        if match is None:
            continue
        actor, sentence, emotion, level = match.groups()
        if emotion not in CREMA_D_EMOTIONS or level not in CREMA_D_LEVELS:
            if strict:
                raise layout_error(
                    "crema_d",
                    path,
                    f"emotion must be one of {sorted(CREMA_D_EMOTIONS)} and level one of "
                    f"{sorted(CREMA_D_LEVELS)}",
                )
            continue
        records.append(
            {
                "path": path,
                "label": CREMA_D_EMOTIONS[emotion],
                "speaker": actor,
                "sex": sexes.get(actor),
                "intensity": CREMA_D_LEVELS[level],
                "statement": sentence,
            }
        )
    return records
