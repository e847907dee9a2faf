"""TESS (Toronto emotional speech set): ``<SPEAKER>_<word>_<emotion>.wav``, e.g. ``OAF_back_angry.wav``.

Two female speakers, OAF (older) and YAF (younger); emotions angry, disgust, fear, happy, neutral,
ps (pleasant surprise) and sad. Files may sit in per-speaker/emotion folders (``OAF_angry/...``) or flat.
"""

from __future__ import annotations

import re
from pathlib import Path

import datasets

from .base import audio_files, match_name, register_corpus, require_dir

TESS_EMOTIONS = {
    "angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
    "neutral": "neutral", "ps": "surprise", "sad": "sadness",
}  # fmt: skip
_NAME = re.compile(r"(OAF|YAF)_(.+)_(angry|disgust|fear|happy|neutral|ps|sad)", re.IGNORECASE)


@register_corpus(
    "tess",
    layout="<data_dir>/[<folder>/]<OAF|YAF>_<word>_<angry|disgust|fear|happy|neutral|ps|sad>.wav",
    example="OAF_angry/OAF_back_angry.wav",
    extra_features={"word": datasets.Value("string")},
)
def load_tess(data_dir: Path, *, strict: bool = True) -> list[dict]:
    """Records for TESS; both speakers are female, ``word`` is the spoken target word."""
    root = require_dir("tess", data_dir)
    records = []
    for path in audio_files(root, "**/*"):
        match = match_name("tess", _NAME, path, strict)
        if match is None:
            continue
        speaker, word, emotion = match.groups()
        records.append(
            {
                "path": path,
                "label": TESS_EMOTIONS[emotion.lower()],
                "speaker": speaker.upper(),
                "sex": "female",
                "word": word,
            }
        )
    return records
