"""Writers for tiny synthetic corpora that follow each published layout (file names exactly as released).

Clips are short sine tones (default 0.1 s) so a whole layout is written in milliseconds. Each writer
returns the corpus root and writes what the loader needs (folders, CSVs, evaluation files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import soundfile as sf


def write_clip(
    path: Path,
    seconds: float = 0.1,
    sampling_rate: int = 16000,
    channels: int = 1,
    frequency: float = 220.0,
    subtype: Optional[str] = None,
) -> Path:
    """Write a sine tone (``channels`` identical channels scaled 0.5) with soundfile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    time = np.arange(int(seconds * sampling_rate)) / sampling_rate
    tone = (0.5 * np.sin(2 * np.pi * frequency * time)).astype(np.float32)
    data = np.repeat(tone[:, None], channels, axis=1) if channels > 1 else tone
    sf.write(str(path), data, sampling_rate, subtype=subtype)
    return path


def write_ravdess(root: Path) -> Path:
    """2 actors (01 male, 02 female), speech (8 emotions, one stereo file) and 2 song files; 48 kHz."""
    for actor in ("01", "02"):
        for emotion in range(1, 9):
            intensity = "01" if emotion == 1 else "02"  # neutral has no strong intensity in RAVDESS
            name = f"03-01-{emotion:02d}-{intensity}-01-01-{actor}.wav"
            write_clip(root / f"Actor_{actor}" / name, sampling_rate=48000, channels=2 if emotion == 3 else 1)
        write_clip(root / f"Actor_{actor}" / f"03-02-05-01-02-02-{actor}.wav", sampling_rate=48000)
    return root


def write_turev(root: Path) -> Path:
    """Folders Angry/Calm/Happy/Sad, speakers 1 and 2; 44.1 kHz."""
    for folder in ("Angry", "Calm", "Happy", "Sad"):
        for speaker in ("1", "2"):
            write_clip(root / folder / f"{speaker}_07_kapi.wav", sampling_rate=44100)
    return root


def write_crema_d(root: Path, demographics: bool = True) -> Path:
    """Actors 1001 (male) and 1002 (female), six emotions, levels XX/HI; optional VideoDemographics.csv."""
    for actor in ("1001", "1002"):
        for emotion, level in zip(
            ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD"), ("XX", "HI", "LO", "MD", "XX", "HI"), strict=True
        ):
            write_clip(root / "AudioWAV" / f"{actor}_DFA_{emotion}_{level}.wav")
    if demographics:
        (root / "VideoDemographics.csv").write_text(
            "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
            "1002,21,Female,Caucasian,Not Hispanic\n"
        )
    return root


def write_tess(root: Path) -> Path:
    """OAF and YAF, seven emotions, in per-speaker/emotion folders as released."""
    for speaker in ("OAF", "YAF"):
        for emotion in ("angry", "disgust", "fear", "happy", "neutral", "ps", "sad"):
            write_clip(root / f"{speaker}_{emotion}" / f"{speaker}_back_{emotion}.wav", sampling_rate=24414)
    return root


IEMOCAP_TURNS = [
    # (session, turn, label, [V, A, D])
    (1, "Ses01F_impro01_F000", "neu", (2.5, 2.5, 2.5)),
    (1, "Ses01F_impro01_M000", "exc", (4.0, 3.5, 3.0)),
    (1, "Ses01F_impro01_F001", "fru", (2.0, 3.5, 3.5)),
    (1, "Ses01M_script01_1_M000", "ang", (1.5, 4.0, 4.0)),
    (2, "Ses02F_impro02_F000", "sad", (1.5, 2.0, 2.0)),
    (2, "Ses02F_impro02_M000", "hap", (4.5, 3.0, 3.0)),
    (2, "Ses02F_impro02_M001", "sur", (3.5, 4.0, 3.0)),
]


def write_iemocap(root: Path) -> Path:
    """Two sessions with EmoEvaluation files, transcriptions and sentence wavs (incl. fru and sur turns)."""
    for session in (1, 2):
        turns = [t for t in IEMOCAP_TURNS if t[0] == session]
        dialogs = sorted({turn.rsplit("_", 1)[0] for _, turn, _, _ in turns})
        for dialog in dialogs:
            lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
            transcript = []
            for index, (_, turn, label, (v, a, d)) in enumerate(t for t in turns if t[1].startswith(dialog)):
                lines += [f"[{index}.0000 - {index}.5000]\t{turn}\t{label}\t[{v:.4f}, {a:.4f}, {d:.4f}]",
                          "C-E1:\tNeutral;\t()", ""]  # fmt: skip
                transcript.append(f"{turn} [{index:03d}.0000-{index:03d}.5000]: Hello number {index}.")
                write_clip(root / f"Session{session}" / "sentences" / "wav" / dialog / f"{turn}.wav")
            evaluation = root / f"Session{session}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
            evaluation.parent.mkdir(parents=True, exist_ok=True)
            evaluation.write_text("\n".join(lines))
            transcription = root / f"Session{session}" / "dialog" / "transcriptions" / f"{dialog}.txt"
            transcription.parent.mkdir(parents=True, exist_ok=True)
            transcription.write_text("\n".join(transcript) + "\n")
    return root


MSP_PODCAST_ROWS = [
    # FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set
    ("MSP-PODCAST_0001_0001.wav", "A", "5.2", "2.0", "4.8", "127", "Male", "Train"),
    ("MSP-PODCAST_0001_0002.wav", "N", "3.8", "4.0", "4.2", "127", "Male", "Train"),
    ("MSP-PODCAST_0002_0001.wav", "H", "4.6", "5.8", "4.4", "15", "Female", "Development"),
    ("MSP-PODCAST_0003_0001.wav", "C", "4.0", "3.0", "4.0", "Unknown", "Unknown", "Test1"),
    ("MSP-PODCAST_0004_0001.wav", "S", "2.4", "2.6", "3.0", "33", "Female", "Test2"),
]


MSP_PODCAST_TRANSCRIPTS = {
    "MSP-PODCAST_0001_0001": "I can not believe  this.",
    "MSP-PODCAST_0002_0001": "Great news",
}
"""Transcripts/<stem>.txt of some clips (the others have none)."""


def write_msp_podcast(root: Path) -> Path:
    """Audios/ + Labels/labels_consensus.csv with one contempt row (no canonical class), and Transcripts/
    for two of the clips."""
    header = "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    (root / "Labels" / "labels_consensus.csv").write_text(
        "\n".join([header] + [",".join(row) for row in MSP_PODCAST_ROWS]) + "\n"
    )
    for row in MSP_PODCAST_ROWS:
        write_clip(root / "Audios" / row[0])
    (root / "Transcripts").mkdir(exist_ok=True)
    for stem, text in MSP_PODCAST_TRANSCRIPTS.items():
        (root / "Transcripts" / f"{stem}.txt").write_text(text + "\n")
    return root


def write_folder_tree(root: Path) -> Path:
    """``<label>/<file>`` tree with non-canonical spellings (angry, Happy, neu) and speaker prefixes."""
    for label in ("angry", "Happy", "neu"):
        for speaker in ("s1", "s2"):
            write_clip(root / label / f"{speaker}_{label.lower()}.wav")
    return root


def write_emodb_flat(root: Path) -> Path:
    """Three EmoDB-named wav files in the original release's ``wav/`` folder."""
    for name in ("03a01Wa", "08a02Lb", "16b10Nc"):
        write_clip(root / "wav" / f"{name}.wav", sampling_rate=16000)
    return root
