"""Feature extraction speed: MFCC + chroma (LSTM-SA, the built-in model) and the student's log-mel.

Before / after, side by side in one process, on one long real recording (EmoDB clips concatenated to
``--minutes`` minutes, 16 kHz):

- ``mfcc_chroma before``: main's extractor computation (kept below as :func:`legacy_mfcc_chroma`: the
  whole clip framed at once in float64, transformers' filter banks);
- ``mfcc_chroma after``: :func:`hf_ser.models.audio_features.mfcc_chroma` (blocked, cached filter banks,
  float32 projection);
- the same two through the transformers extractor's ``__call__`` on 3-second clips, batch of 8
  (what the torch pipeline runs; ``before`` = main's file via ``git show``, when git is available);
- ``log-mel``: the student's torch front end (``LogMelFrontEnd``, 1 thread) vs
  :func:`hf_ser.models.audio_features.log_mel_batch` (numpy).

Every variant runs ``--repeats`` times, interleaved (so load changes on a shared machine hit all of
them alike); the table gives the median wall time and median CPU time of the process per second of
audio, and the speed-up (before / after).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_features.py [--minutes 10] [--repeats 7] [--output x.json]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
import soxr

from hf_ser.models import audio_features

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


def long_recording(minutes: float, data_dir: Path = DATA_DIR) -> np.ndarray:
    """EmoDB clips (16 kHz mono) concatenated until ``minutes`` minutes."""
    target, pieces, total = int(minutes * 60 * 16000), [], 0
    files = sorted((data_dir / "emodb").glob("*.flac"))
    while total < target:
        for path in files:
            audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
            pieces.append(soxr.resample(audio.mean(axis=1), rate, 16000).astype(np.float32))
            total += len(pieces[-1])
            if total >= target:
                break
    return np.concatenate(pieces)[:target]


def legacy_mfcc_chroma(waveform: np.ndarray) -> np.ndarray:
    """Main's ``MfccChromaFeatureExtractor._compute_raw_features`` before this change (reference)."""
    from transformers.audio_utils import chroma_filter_bank, mel_filter_bank

    n_fft, hop = 1024, 256
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    mel = mel_filter_bank(
        num_frequency_bins=513, num_mel_filters=128, min_frequency=0.0, max_frequency=8000.0,
        sampling_rate=16000, norm="slaney", mel_scale="slaney",
    )  # fmt: skip
    dct = audio_features.dct_ii_matrix(34, 128).T
    chroma = chroma_filter_bank(num_frequency_bins=n_fft, num_chroma=12, sampling_rate=16000).T
    waveform = np.asarray(waveform, dtype=np.float64)
    padded = np.pad(waveform, (n_fft // 2, n_fft // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][: 1 + len(waveform) // hop]
    power = np.abs(np.fft.rfft(frames * window, n=n_fft, axis=-1)) ** 2
    log_mel = 10.0 * np.log10(np.maximum(power @ mel, 1e-10))
    log_mel = np.maximum(log_mel, log_mel.max() - 80.0)
    chroma_energy = power @ chroma
    frame_max = chroma_energy.max(axis=-1, keepdims=True)
    tiny = np.finfo(np.float32).tiny
    chroma_norm = np.where(frame_max > tiny, chroma_energy / np.maximum(frame_max, tiny), 0.0)
    return np.concatenate([log_mel @ dct.T, chroma_norm], axis=-1)


def main_extractor_class() -> type | None:
    """main's ``MfccChromaFeatureExtractor`` (``git show main:...``), or None without git / main."""
    path = "hf_ser/models/feature_extraction_mfcc_chroma.py"
    repo = Path(__file__).resolve().parents[1]
    shown = subprocess.run(["git", "show", f"main:{path}"], cwd=repo, capture_output=True, text=True)
    if shown.returncode != 0 or "from .audio_features" in shown.stdout:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(shown.stdout)
    spec = importlib.util.spec_from_file_location("main_feature_extraction", handle.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.MfccChromaFeatureExtractor


def interleaved(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float]]:
    """``{name: (median wall s, median CPU s)}`` over ``repeats`` interleaved runs (after one warm-up)."""
    for function in variants.values():
        function()
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, function in variants.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            function()
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in variants}


def long_file_variants(audio: np.ndarray) -> dict[str, Callable[[], object]]:
    import torch

    from hf_ser import Wav2SmallConfig
    from hf_ser.models.modeling_student import LogMelFrontEnd

    torch.set_num_threads(1)
    config = Wav2SmallConfig()
    front_end = LogMelFrontEnd(config).eval()
    tensor, lengths = torch.from_numpy(audio)[None], torch.tensor([len(audio)])
    settings = audio_features.LogMelSettings(
        n_fft=config.n_fft, win_length=config.win_length, hop_length=config.hop_length,
        n_mels=config.n_mels, f_min=float(config.f_min), f_max=float(config.f_max),
    )  # fmt: skip

    def torch_log_mel() -> object:
        with torch.no_grad():
            return front_end(tensor, lengths)

    return {
        "mfcc_chroma before (long file)": lambda: legacy_mfcc_chroma(audio),
        "mfcc_chroma after (long file)": lambda: audio_features.mfcc_chroma(audio),
        "log-mel torch front end (long file)": torch_log_mel,
        "log-mel numpy (long file)": lambda: audio_features.log_mel_batch([audio], settings),
    }


def extractor_variants(audio: np.ndarray) -> dict[str, Callable[[], object]]:
    """The transformers extractor's ``__call__`` on 8 clips of 3 s (main's class vs this one)."""
    from hf_ser.models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor

    clips = [audio[i * 48000 : (i + 1) * 48000] for i in range(8)]
    kwargs = {"sampling_rate": 16000, "padding": True, "return_attention_mask": True}
    variants = {"extractor after (8 x 3 s)": lambda: MfccChromaFeatureExtractor()(clips, **kwargs)}
    legacy = main_extractor_class()
    if legacy is not None:
        variants = {"extractor before (8 x 3 s)": lambda: legacy()(clips, **kwargs), **variants}
    return variants


def per_audio_second(timings: dict[str, tuple[float, float]], seconds: float) -> list[dict]:
    """Table rows: wall and CPU milliseconds per second of audio (``seconds`` of audio per run)."""
    return [
        {
            "variant": name,
            "wall_ms_per_audio_s": 1e3 * wall / seconds,
            "cpu_ms_per_audio_s": 1e3 * cpu / seconds,
        }
        for name, (wall, cpu) in timings.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", help="write the rows as JSON here")
    args = parser.parse_args()
    audio = long_recording(args.minutes)
    reference = legacy_mfcc_chroma(audio[:160000])
    difference = np.abs(audio_features.mfcc_chroma(audio[:160000]) - reference)
    seconds = len(audio) / 16000
    rows = per_audio_second(interleaved(long_file_variants(audio), args.repeats), seconds)
    rows += per_audio_second(interleaved(extractor_variants(audio), args.repeats), 24.0)
    print(f"{seconds:.0f} s of audio, median of {args.repeats}; max |after - before| on 10 s: "
          f"MFCC {difference[:, :34].max():.2e}, chroma {difference[:, 34:].max():.2e}")  # fmt: skip
    print("| variant | wall ms / s audio | CPU ms / s audio |\n|---|---|---|")
    for row in rows:
        print(f"| {row['variant']} | {row['wall_ms_per_audio_s']:.3f} | {row['cpu_ms_per_audio_s']:.3f} |")
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
