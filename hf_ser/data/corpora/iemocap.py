"""IEMOCAP (released tree): ``Session1..5/dialog/EmoEvaluation/*.txt`` + ``Session*/sentences/wav/``.

Each evaluation file has one line per turn::

    [6.2901 - 8.2357]	Ses01F_impro01_F000	neu	[2.5000, 2.5000, 2.5000]

(categorical label, then valence, arousal, dominance on 1-5). The audio of turn ``Ses01F_impro01_F000``
is ``Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav``. The speaker is the session plus
the sex letter of the turn (``Ses01F``), so every session holds one female and one male speaker and
``group="session"`` gives the usual leave-one-session-out protocol.

By default the common 4-class setting is used: neutral, happiness (happy + excited merged), anger,
sadness; other turns are dropped. ``four_class=False`` also keeps surprise, fear and disgust (the
labels with a canonical name; frustration, other and no-agreement turns are always dropped).
Transcripts from ``dialog/transcriptions/`` fill the ``text`` column when present.
"""

from __future__ import annotations

import re
from pathlib import Path

import datasets

from .base import layout_error, register_corpus, require_dir

IEMOCAP_FOUR_CLASS = {
    "neu": "neutral",
    "hap": "happiness",
    "exc": "happiness",
    "ang": "anger",
    "sad": "sadness",
}
IEMOCAP_EXTRA_CLASSES = {"sur": "surprise", "fea": "fear", "dis": "disgust"}
_EVALUATION_LINE = re.compile(
    r"\[(?P<start>[\d.]+) - (?P<end>[\d.]+)\]\s+(?P<turn>\S+)\s+(?P<emotion>\S+)\s+"
    r"\[(?P<v>[\d.]+), (?P<a>[\d.]+), (?P<d>[\d.]+)\]"
)
_TURN = re.compile(r"(Ses(\d{2})[FM]_.+)_([FM])[^_]*")
_TRANSCRIPT_LINE = re.compile(r"(\S+) \[[^\]]*\]: ?(.*)")


def _read_transcripts(directory: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.txt")):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                match = _TRANSCRIPT_LINE.fullmatch(line.strip())
                if match:
                    texts[match.group(1)] = match.group(2)
    return texts


@register_corpus(
    "iemocap",
    layout="<data_dir>/Session{1..5}/dialog/EmoEvaluation/<dialog>.txt and "
    "<data_dir>/Session{1..5}/sentences/wav/<dialog>/<turn>.wav",
    example="Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav",
    extra_features={
        "session": datasets.Value("int32"),
        "arousal": datasets.Value("float32"),
        "dominance": datasets.Value("float32"),
        "valence": datasets.Value("float32"),
        "original_label": datasets.Value("string"),
        "text": datasets.Value("string"),
    },
)
def load_iemocap(data_dir: Path, *, four_class: bool = True, strict: bool = True) -> list[dict]:
    """Records for IEMOCAP; ``original_label`` keeps the evaluators' code (e.g. ``exc``)."""
    root = require_dir("iemocap", data_dir)
    sessions = sorted(path for path in root.glob("Session*") if path.is_dir())
    if not sessions:
        require_dir("iemocap", root / "Session1", "session folder")
    mapping = dict(IEMOCAP_FOUR_CLASS) if four_class else {**IEMOCAP_FOUR_CLASS, **IEMOCAP_EXTRA_CLASSES}
    records = []
    for session_dir in sessions:
        evaluation_dir = require_dir(
            "iemocap", session_dir / "dialog" / "EmoEvaluation", "EmoEvaluation folder"
        )
        texts = _read_transcripts(session_dir / "dialog" / "transcriptions")
        for evaluation in sorted(evaluation_dir.glob("*.txt")):
            for line in evaluation.read_text(encoding="utf-8", errors="replace").splitlines():
                match = _EVALUATION_LINE.match(line.strip())
                if match is None or match.group("emotion") not in mapping:
                    continue
                turn = match.group("turn")
                turn_match = _TURN.fullmatch(turn)
                if turn_match is None:
                    if strict:
                        raise layout_error(
                            "iemocap", evaluation, f"turn name {turn!r} is not SesNN[FM]_..._[FM]NNN"
                        )
                    continue
                dialog, session, sex = turn_match.groups()
                wav = session_dir / "sentences" / "wav" / dialog / f"{turn}.wav"
                if not wav.is_file():
                    if strict:
                        raise layout_error(
                            "iemocap", wav, f"turn {turn} is labelled in {evaluation.name} but has no audio"
                        )
                    continue
                records.append(
                    {
                        "path": wav,
                        "label": mapping[match.group("emotion")],
                        "speaker": f"Ses{session}{sex}",
                        "sex": "female" if sex == "F" else "male",
                        "session": int(session),
                        "valence": float(match.group("v")),
                        "arousal": float(match.group("a")),
                        "dominance": float(match.group("d")),
                        "original_label": match.group("emotion"),
                        "text": texts.get(turn),
                    }
                )
    return records
