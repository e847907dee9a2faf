"""TurEV-DB (Turkish emotional voice database): ``<Emotion>/<speaker>_<xx>_<word>.wav``.

Emotion folders are Angry, Calm, Happy and Sad; the speaker is the leading number of the file name.
44.1 kHz. The release does not record speaker sex, so ``sex`` is ``None``.
"""

from __future__ import annotations

import re
from pathlib import Path

import datasets

from .base import audio_files, match_name, register_corpus, require_dir

TUREV_FOLDERS = {"Angry": "anger", "Calm": "calm", "Happy": "happiness", "Sad": "sadness"}
_NAME = re.compile(r"(\d+)_([^_]+)_(.+)")


@register_corpus(
    "turev",
    layout="<data_dir>/{Angry,Calm,Happy,Sad}/<speaker>_<xx>_<word>.wav",
    example="Angry/1_12_kapi.wav",
    extra_features={"word": datasets.Value("string")},
)
def load_turev(data_dir: Path, *, strict: bool = True) -> list[dict]:
    """Records for TurEV-DB; the ``word`` column holds the spoken word from the file name."""
    root = require_dir("turev", data_dir)
    folders = [root / name for name in TUREV_FOLDERS if (root / name).is_dir()]
    if not folders:
        require_dir("turev", root / "Angry", "emotion folder")
    records = []
    for folder in folders:
        for path in audio_files(folder, "*"):
            match = match_name("turev", _NAME, path, strict)
            if match is None:
                continue
            speaker, _, word = match.groups()
            records.append(
                {
                    "path": path,
                    "label": TUREV_FOLDERS[folder.name],
                    "speaker": speaker,
                    "sex": None,
                    "word": word,
                }
            )
    return records
