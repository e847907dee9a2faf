"""Deployment footprint of the small models: Wav2Small-style student next to ResLSTM-SA-h64.

For each model (random weights: size, memory and speed do not depend on training) it reports

- parameters;
- ONNX file sizes (float32 and dynamic int8, written by ``hf_ser.export.to_onnx``);
- peak resident memory (RSS) of a fresh inference process that imports only numpy + onnxruntime, loads
  the int8 model and runs it on 3 s of audio, and of the same process without the model (interpreter +
  onnxruntime baseline): the difference is the model's cost. The child reports its ``VmHWM`` (Linux
  ``/proc/self/status``) next to ``resource.getrusage(RUSAGE_SELF).ru_maxrss``: the latter also counts the
  high-water mark of the (large, torch-importing) parent it was forked from, so it overstates the child;
- latency per second of audio (median over repeats, 1 thread, batch of one 3 s clip) for PyTorch fp32,
  ONNX Runtime fp32 and int8, and the feature extraction done outside the model (MFCC + chroma in numpy
  for LSTM-SA; the student computes its log-mel inside the ONNX graph).

Run: ``python benchmarks/bench_small_models.py [--repeats 50] [--output results.json]``
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import torch

from hf_ser import (
    LSTMSAConfig,
    LSTMSAForAudioClassification,
    MfccChromaFeatureExtractor,
    Wav2SmallConfig,
    Wav2SmallForAudioClassification,
)
from hf_ser.export import OnnxSERModel, to_onnx

SECONDS = 3.0
SAMPLING_RATE = 16000

CHILD = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    import onnxruntime as ort
    path, values_file, mask_file = sys.argv[1:4]
    if path != "-":
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        feeds = {"input_values": np.load(values_file), "attention_mask": np.load(mask_file)}
        for _ in range(3):
            session.run(None, feeds)
    hwm = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:")]
    print(hwm[0] if hwm else -1, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """
)


def peak_rss_mb(onnx_path: str, values: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """``(VmHWM, ru_maxrss)`` in MB of a child process running ``onnx_path`` (``"-"``: no model)."""
    with tempfile.TemporaryDirectory() as directory:
        values_file, mask_file = f"{directory}/values.npy", f"{directory}/mask.npy"
        np.save(values_file, values)
        np.save(mask_file, mask)
        result = subprocess.run(
            [sys.executable, "-c", CHILD, onnx_path, values_file, mask_file],
            check=True,
            capture_output=True,
            text=True,
        )
    hwm_kb, maxrss_kb = result.stdout.strip().splitlines()[-1].split()  # both in KB on Linux
    return int(hwm_kb) / 1024.0, int(maxrss_kb) / 1024.0


def median_seconds(function, repeats: int) -> float:
    function()  # warm-up
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def benchmark(
    name: str, model: torch.nn.Module, extractor, clip: np.ndarray, repeats: int, workdir: Path
) -> dict:
    model.eval()
    out_dir = workdir / name
    int8_path = to_onnx(model, out_dir, quantize="int8", feature_extractor=extractor)
    fp32_path = out_dir / "model.onnx"
    inputs = extractor(
        [clip], sampling_rate=SAMPLING_RATE, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    values = inputs["input_values"].numpy().astype(np.float32)
    mask = inputs["attention_mask"].numpy().astype(np.int64)

    with torch.no_grad():
        torch_latency = median_seconds(lambda: model(**inputs), repeats)
    fp32 = OnnxSERModel.from_pretrained(out_dir, quantized=False, num_threads=1)
    int8 = OnnxSERModel.from_pretrained(out_dir, quantized=True, num_threads=1)
    fp32_latency = median_seconds(lambda: fp32(values, mask), repeats)
    int8_latency = median_seconds(lambda: int8(values, mask), repeats)
    features_latency = median_seconds(
        lambda: extractor([clip], sampling_rate=SAMPLING_RATE, padding=True, return_attention_mask=True),
        repeats,
    )
    (rss_model, maxrss_model), (rss_baseline, _) = (
        peak_rss_mb(str(int8_path), values, mask),
        peak_rss_mb("-", values, mask),
    )
    per_second = 1000.0 / SECONDS
    return {
        "model": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "onnx_fp32_kb": round(fp32_path.stat().st_size / 1024, 1),
        "onnx_int8_kb": round(int8_path.stat().st_size / 1024, 1),
        "peak_rss_mb": round(rss_model, 1),
        "peak_rss_baseline_mb": round(rss_baseline, 1),
        "peak_rss_model_mb": round(rss_model - rss_baseline, 1),
        "child_ru_maxrss_mb": round(maxrss_model, 1),
        "ms_per_audio_second_torch_fp32": round(torch_latency * per_second, 3),
        "ms_per_audio_second_onnx_fp32": round(fp32_latency * per_second, 3),
        "ms_per_audio_second_onnx_int8": round(int8_latency * per_second, 3),
        "ms_per_audio_second_features_outside_model": round(features_latency * per_second, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--output", help="write the rows as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    clip = (np.random.default_rng(0).standard_normal(int(SECONDS * SAMPLING_RATE)) * 0.1).astype(np.float32)
    from transformers import Wav2Vec2FeatureExtractor

    models = [
        (
            "wav2small_student_adv",
            Wav2SmallForAudioClassification(Wav2SmallConfig(task="regression")),
            Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True),
        ),
        (
            "reslstm_sa_h64_8cls",
            LSTMSAForAudioClassification(LSTMSAConfig(hidden_size=64, residual=True, num_labels=8)),
            MfccChromaFeatureExtractor(),
        ),
    ]
    with tempfile.TemporaryDirectory() as directory:
        rows = [
            benchmark(name, model, extractor, clip, args.repeats, Path(directory))
            for name, model, extractor in models
        ]
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row[key]) for key in keys) + " |")
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2))
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(3 s clip, 1 thread, median of {args.repeats}; RSS = child VmHWM, parent {parent_mb:.0f} MB)")


if __name__ == "__main__":
    main()
