"""EmoDB (Berlin Database of Emotional Speech): ``SSTTTEV.wav`` files, e.g. ``03a01Fa.wav``.

SS = speaker, TTT = text id, E = German initial of the emotion, V = version. The original release keeps
the files in ``wav/``; a flat directory works too. 10 actors, 7 emotions, leave-one-speaker-out protocol.
"""

from __future__ import annotations

import re
from pathlib import Path

import datasets

from .base import audio_files, match_name, register_corpus, require_dir

EMODB_EMOTIONS = {
    "W": "anger",  # Wut
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happiness",  # Freude
    "T": "sadness",  # Trauer
    "N": "neutral",
}
EMODB_SEX = {
    "03": "male", "08": "female", "09": "female", "10": "male", "11": "male",
    "12": "male", "13": "female", "14": "female", "15": "male", "16": "female",
}  # fmt: skip
_NAME = re.compile(r"(\d{2})([a-z]\d{2})([WLEAFTN])([a-z])")


@register_corpus(
    "emodb",
    layout="<data_dir>[/wav]/SSTTTEV.wav (SS speaker, TTT text, E emotion letter in WLEAFTN, V version)",
    example="03a01Fa.wav",
    extra_features={"statement": datasets.Value("string")},
)
def load_emodb(data_dir: Path, *, strict: bool = True) -> list[dict]:
    """Records for EmoDB; the ``statement`` column holds the text id (``a01`` ... ``b10``)."""
    root = require_dir("emodb", data_dir)
    if (root / "wav").is_dir():
        root = root / "wav"
    records = []
    for path in audio_files(root, "*"):
        match = match_name("emodb", _NAME, path, strict)
        if match is None:
            continue
        speaker, text, emotion, _ = match.groups()
        records.append(
            {
                "path": path,
                "label": EMODB_EMOTIONS[emotion],
                "speaker": speaker,
                "sex": EMODB_SEX.get(speaker),
                "statement": text,
            }
        )
    return records
