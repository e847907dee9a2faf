"""Re-create the example clips of this folder with eSpeak NG (``apt-get install espeak-ng``).

    python examples/make_examples.py

Each clip is synthesised at eSpeak NG's native 22,050 Hz, resampled to 16 kHz with soxr, trimmed of
leading/trailing silence, peak-normalised to 0.9 and written as 16-bit PCM WAV.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

HERE = Path(__file__).resolve().parent

# file name -> (voice, pitch 0-99, words per minute, amplitude, text)
CLIPS = {
    "cheerful_en.wav": ("en-us", 75, 185, 160, "What a wonderful surprise! I can't believe we actually won!"),
    "gloomy_en.wav": ("en-us", 20, 115, 90, "I miss them so much. Nothing feels right any more."),
    "stern_de.wav": ("de", 45, 200, 200, "Das ist doch unglaublich! Hör sofort damit auf!"),
}


def synthesise(voice: str, pitch: int, speed: int, amplitude: int, text: str) -> np.ndarray:
    """Speak ``text`` with eSpeak NG and return 16 kHz float32 audio, trimmed and peak-normalised."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        command = ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-a", str(amplitude)]
        subprocess.run([*command, "-w", str(raw), text], check=True)
        audio, rate = sf.read(raw, dtype="float32")
    audio = soxr.resample(audio, rate, 16000, quality="HQ")
    voiced = np.flatnonzero(np.abs(audio) > 0.01)
    audio = audio[max(0, voiced[0] - 800) : voiced[-1] + 800]
    return 0.9 * audio / np.abs(audio).max()


def main() -> None:
    for name, settings in CLIPS.items():
        sf.write(HERE / name, synthesise(*settings), 16000, subtype="PCM_16")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
