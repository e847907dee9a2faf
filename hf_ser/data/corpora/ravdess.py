"""RAVDESS (audio-only release): ``Actor_XX/03-01-EE-II-SS-RR-AA.wav``.

Fields: modality (03 = audio-only), vocal channel (01 speech, 02 song), emotion (01 neutral, 02 calm,
03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised), intensity (01 normal, 02 strong),
statement (01 "Kids are talking by the door", 02 "Dogs are sitting by the door"), repetition (01/02)
and actor (01-24; odd = male, even = female). 48 kHz, a few files stereo (mixed to mono on decoding).
The ``Actor_XX`` folders may sit directly in ``data_dir`` or one level down (e.g. inside
``Audio_Speech_Actors_01-24/``).
"""

from __future__ import annotations

import re
from pathlib import Path

import datasets

from .base import audio_files, layout_error, match_name, register_corpus, require_dir

RAVDESS_EMOTIONS = {
    "01": "neutral", "02": "calm", "03": "happiness", "04": "sadness",
    "05": "anger", "06": "fear", "07": "disgust", "08": "surprise",
}  # fmt: skip
RAVDESS_INTENSITY = {"01": "normal", "02": "strong"}
RAVDESS_CHANNELS = {"01": "speech", "02": "song"}
_NAME = re.compile(r"(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})")
VOCAL_CHANNEL_CHOICES = ("speech", "song", "both")


@register_corpus(
    "ravdess",
    layout="<data_dir>/Actor_XX/03-01-EE-II-SS-RR-AA.wav (modality-channel-emotion-intensity-statement-"
    "repetition-actor)",
    example="Actor_01/03-01-05-02-01-01-01.wav",
    extra_features={
        "intensity": datasets.Value("string"),
        "statement": datasets.Value("string"),
        "repetition": datasets.Value("string"),
        "vocal_channel": datasets.Value("string"),
    },
)
def load_ravdess(data_dir: Path, *, vocal_channel: str = "speech", strict: bool = True) -> list[dict]:
    """Records for RAVDESS; ``vocal_channel`` is ``"speech"`` (default), ``"song"`` or ``"both"``."""
    if vocal_channel not in VOCAL_CHANNEL_CHOICES:
        raise ValueError(f"vocal_channel={vocal_channel!r} is not one of {list(VOCAL_CHANNEL_CHOICES)}.")
    root = require_dir("ravdess", data_dir)
    paths = audio_files(root, "Actor_*/*") + audio_files(root, "*/Actor_*/*")
    if not paths:
        require_dir("ravdess", root / "Actor_01", "actor folder")
    records = []
    for path in paths:
        match = match_name("ravdess", _NAME, path, strict)
        if match is None:
            continue
        modality, channel, emotion, intensity, statement, repetition, actor = match.groups()
        if modality != "03" or channel not in RAVDESS_CHANNELS or emotion not in RAVDESS_EMOTIONS:
            if strict:
                raise layout_error(
                    "ravdess", path, "modality must be 03, vocal channel 01/02 and emotion 01-08"
                )
            continue
        if vocal_channel != "both" and RAVDESS_CHANNELS[channel] != vocal_channel:
            continue
        records.append(
            {
                "path": path,
                "label": RAVDESS_EMOTIONS[emotion],
                "speaker": actor,
                "sex": "male" if int(actor) % 2 == 1 else "female",
                "intensity": RAVDESS_INTENSITY.get(intensity, intensity),
                "statement": statement,
                "repetition": repetition,
                "vocal_channel": RAVDESS_CHANNELS[channel],
            }
        )
    return records
