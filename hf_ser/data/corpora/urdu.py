"""URDU-Dataset: ``<Emotion>/SGX_FYY_EZZ.wav`` with folders Angry, Happy, Neutral, Sad.

G = sex (M/F), X = speaker id, YY = the speaker's file number, E = emotion letter (A, H, N, S).
The speaker is ``SGX`` (e.g. ``SM1``); the protocol is speaker-independent folds grouped by it.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import audio_files, layout_error, match_name, register_corpus, require_dir

URDU_FOLDERS = {"Angry": "anger", "Happy": "happiness", "Neutral": "neutral", "Sad": "sadness"}
URDU_LETTERS = {"A": "anger", "H": "happiness", "N": "neutral", "S": "sadness"}
_NAME = re.compile(r"(S([MF])\d+)_F\d+_([AHNS])\d+")


@register_corpus(
    "urdu",
    layout="<data_dir>/{Angry,Happy,Neutral,Sad}/SGX_FYY_EZZ.wav (G sex M/F, X speaker, E emotion AHNS)",
    example="Angry/SM1_F01_A012.wav",
)
def load_urdu(data_dir: Path, *, strict: bool = True) -> list[dict]:
    """Records for URDU; the emotion letter in the name must agree with the folder."""
    root = require_dir("urdu", data_dir)
    folders = [root / name for name in URDU_FOLDERS if (root / name).is_dir()]
    if not folders:
        require_dir("urdu", root / "Angry", "emotion folder")
    records = []
    for folder in folders:
        for path in audio_files(folder, "*"):
            match = match_name("urdu", _NAME, path, strict)
            if match is None:
                continue
            speaker, sex, letter = match.groups()
            label = URDU_FOLDERS[folder.name]
            if URDU_LETTERS[letter] != label:
                if strict:
                    raise layout_error("urdu", path, f"emotion letter {letter!r} disagrees with folder")
                continue
            records.append(
                {"path": path, "label": label, "speaker": speaker, "sex": "male" if sex == "M" else "female"}
            )
    return records
