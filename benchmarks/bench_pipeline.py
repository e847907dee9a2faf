"""Throughput of ``hf_ser.pipeline`` vs ``transformers.pipeline("audio-classification")``, same model.

    python benchmarks/bench_pipeline.py               # both parts -> benchmarks/results/pipeline.json
    python benchmarks/bench_pipeline.py --skip-long   # without the one-hour file
    python benchmarks/bench_pipeline.py --threads 2 --clips 48 --long-seconds 3600

Part 1 (throughput): one wav2vec2-base-sized hf_ser model (hidden 768, 12 layers, attentive statistics
pooling, random weights: compute is what counts) classifies the same real clips of mixed length from
``../shared/data`` (EmoDB 2.0 s + URDU 1-3 s, decoded to 16 kHz arrays once, so decoding is not timed)
through both pipelines, side by side in one process. transformers' pipeline runs the hf_ser model
itself (``import hf_ser`` registers it with the Auto classes), so both use identical weights. Reported:
clips per second (median of ``--repeats`` interleaved rounds after a warm-up pass), speed-up (median over the
rounds of the per-round ratio), and top-1
agreement with the transformers pipeline.

Part 2 (long audio): a one-hour 16 kHz FLAC synthesised from real clips is classified with
``chunk_length_s=30`` in a fresh subprocess per model (``--long-models``: the built-in default model,
as ``hf-ser predict --chunk-length 30`` runs it, and/or the base-sized model); reported: wall time and
peak resident memory of that process (``ru_maxrss``), next to the size of the decoded file alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HF_SER_DATA_DIR", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results" / "pipeline.json"
LABELS = ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"]


def base_sized_model(seed: int = 0):
    """hf_ser model with a wav2vec2-base-sized backbone (random weights) and its feature extractor.

    The head is a single linear layer (``projector_size=None``) so that :func:`fit_head` can fit it.
    """
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

    from hf_ser import SERConfig, SERModelForAudioClassification

    torch.manual_seed(seed)
    # Layer-normalised conv encoder (as in wav2vec2-large / XLS-R / WavLM): padding-invariant, so
    # batching cannot change a clip's result.
    backbone = Wav2Vec2Config(feat_extract_norm="layer", do_stable_layer_norm=True)
    config = SERConfig(
        backbone_config=backbone,
        id2label=dict(enumerate(LABELS)),
        pooling="attentive_stats",
        projector_size=None,
    )
    model = SERModelForAudioClassification(config).eval()
    extractor = Wav2Vec2FeatureExtractor(sampling_rate=16000, return_attention_mask=True, do_normalize=True)
    return model, extractor


EMODB_LETTERS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness",
                 "N": "neutral"}  # fmt: skip
URDU_FOLDERS = {"Angry": "anger", "Happy": "happiness", "Neutral": "neutral", "Sad": "sadness"}


def real_clips(count: int, offset: int = 0) -> list[tuple[str, str, np.ndarray]]:
    """``count`` real clips ``(path, emotion, 16 kHz float32)``: half EmoDB (2.0 s), half URDU (1-3 s, all
    four emotions); ``offset`` skips that many files per corpus (disjoint sets for fitting and timing)."""
    from hf_ser.data.audio import load_audio

    emodb = sorted((DATA_DIR / "emodb").glob("*.flac"))[::5][offset : offset + count // 2]  # every 5th: mixed
    urdu = []
    for folder in URDU_FOLDERS:
        per_folder = (count - len(emodb) + 3) // 4
        urdu += sorted((DATA_DIR / "urdu" / folder).glob("*.flac"))[::3][
            offset // 4 : offset // 4 + per_folder
        ]
    paths = (emodb + urdu)[:count]
    labels = [
        URDU_FOLDERS[p.parent.name] if p.parent.name in URDU_FOLDERS else EMODB_LETTERS[p.name[5]]
        for p in paths
    ]
    return [(str(path), label, load_audio(path)) for path, label in zip(paths, labels, strict=True)]


def fit_head(model, extractor, clips: list[tuple[str, str, np.ndarray]]) -> None:
    """Fit the random model's linear head to real emotion labels on ``clips`` (logistic regression on the
    pooled fp32 embeddings), so that it predicts varied classes with realistic margins: top-1 agreement
    between fp32 and bf16 is then a meaningful check, not the agreement of a model that always says one class.
    """
    import torch
    from sklearn.linear_model import LogisticRegression

    from hf_ser import pipeline

    pipe = pipeline(model, feature_extractor=extractor, dtype="float32")
    results = pipe(
        [{"array": audio, "sampling_rate": 16000} for _, _, audio in clips], return_embeddings=True
    )
    pooled = np.stack([result["embedding"] for result in results])
    targets = [LABELS.index(label) for _, label, _ in clips]
    probe = LogisticRegression(max_iter=2000).fit(pooled, targets)
    if len(probe.classes_) < 3:
        raise ValueError(f"The fit clips cover only {len(probe.classes_)} emotions; use more --fit-clips.")
    weight = np.zeros((len(LABELS), pooled.shape[1]), dtype=np.float32)
    bias = np.full(len(LABELS), -10.0, dtype=np.float32)  # classes absent from the fit set stay unlikely
    weight[probe.classes_], bias[probe.classes_] = probe.coef_, probe.intercept_
    with torch.no_grad():
        model.classifier.out_proj.weight.copy_(torch.from_numpy(weight))
        model.classifier.out_proj.bias.copy_(torch.from_numpy(bias))


def time_call(function, repeats: int = 1) -> tuple[float, object]:
    """Best wall time over ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def throughput(args: argparse.Namespace) -> dict:
    import torch
    from transformers import pipeline as hf_pipeline
    from transformers.utils import logging

    from hf_ser import pipeline

    logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    clips = real_clips(args.clips)
    arrays = [audio for _, _, audio in clips]
    audio_seconds = sum(len(audio) for audio in arrays) / 16000
    model, extractor = base_sized_model()
    fit_head(model, extractor, real_clips(args.fit_clips, offset=args.clips))

    theirs = hf_pipeline("audio-classification", model=model, feature_extractor=extractor, top_k=1)
    ours_fp32 = pipeline(model, feature_extractor=extractor, dtype="float32", batch_size=args.batch_size)
    ours = pipeline(model, feature_extractor=extractor, dtype="auto", batch_size=args.batch_size)

    def run_theirs():
        return [theirs(audio)[0]["label"] for audio in arrays]

    def run_ours(pipe):
        return [result["label"] for result in pipe([{"array": a, "sampling_rate": 16000} for a in arrays])]

    # Warm-up (the first call also runs ours' dtype="auto" decision on the packaged calibration clips).
    calibration_time, _ = time_call(lambda: run_ours(ours))
    time_call(lambda: theirs(arrays[0]))
    time_call(lambda: run_ours(ours_fp32))
    candidates = {
        "transformers.pipeline (fp32, one clip at a time)": run_theirs,
        "hf_ser.pipeline dtype=float32": lambda: run_ours(ours_fp32),
        f"hf_ser.pipeline dtype=auto (-> {ours.dtype})": lambda: run_ours(ours),
    }
    rows = {name: {"runs": []} for name in candidates}
    # Interleaved rounds: within a round the pipelines run back to back under the same load, so the
    # speed-up is taken per round and the median over rounds is reported (the shared machine's load
    # changes between rounds far more than within one).
    for round_index in range(args.repeats):
        for name, function in candidates.items():
            seconds, labels = time_call(function)
            rows[name]["labels"] = labels
            rows[name]["runs"].append(seconds)
            speed = len(arrays) / seconds
            print(f"round {round_index}: {name}: {seconds:.2f} s, {speed:.2f} clips/s", flush=True)
    reference = next(iter(rows.values()))
    table = []
    for name, row in rows.items():
        agreement = float(np.mean([a == b for a, b in zip(row["labels"], reference["labels"], strict=True)]))
        seconds = statistics.median(row["runs"])
        ratios = [theirs / ours for theirs, ours in zip(reference["runs"], row["runs"], strict=True)]
        table.append(
            {
                "pipeline": name,
                "seconds": round(seconds, 3),
                "seconds_per_round": [round(value, 3) for value in row["runs"]],
                "clips_per_s": round(len(arrays) / seconds, 3),
                "real_time_factor": round(audio_seconds / seconds, 2),
                "speedup_vs_transformers": round(statistics.median(ratios), 2),
                "speedup_per_round": [round(value, 2) for value in ratios],
                "top1_agreement_with_transformers": agreement,
            }
        )
    return {
        "model": "SERModelForAudioClassification, wav2vec2-base-sized backbone (hidden 768, 12 layers, "
        "layer-norm conv encoder), attentive statistics pooling, random weights; linear 7-class head fitted "
        "by logistic regression on the pooled embeddings of --fit-clips other real clips",
        "clips": len(arrays),
        "clip_seconds": {
            "total": round(audio_seconds, 1),
            "min": round(min(len(a) for a in arrays) / 16000, 2),
            "max": round(max(len(a) for a in arrays) / 16000, 2),
        },
        "batch_size": args.batch_size,
        "threads": args.threads,
        "first_call_with_bf16_calibration_s": round(calibration_time, 2),
        "resolved_dtype": ours.dtype,
        # Agreement only means something if the model does not predict one class for everything.
        "transformers_label_histogram": {
            label: reference["labels"].count(label) for label in sorted(set(reference["labels"]))
        },
        "rows": table,
    }


def synthesise_long_file(path: Path, seconds: float) -> None:
    """Write ``seconds`` of 16 kHz FLAC by repeating real clips, one clip at a time (bounded memory)."""
    import soundfile as sf

    clips = [audio for _, _, audio in real_clips(16)]
    written, index = 0, 0
    with sf.SoundFile(path, "w", samplerate=16000, channels=1, format="FLAC", subtype="PCM_16") as handle:
        while written < seconds * 16000:
            clip = clips[index % len(clips)][: int(seconds * 16000) - written]
            handle.write(clip)
            written += len(clip)
            index += 1


def long_file_child(args: argparse.Namespace) -> None:
    """Run in a fresh process: classify the long file with chunking; print timing and peak RSS as JSON."""
    import torch
    from transformers.utils import logging

    from hf_ser import pipeline

    logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    if args.child_model == "base":
        model, extractor = base_sized_model()
        pipe = pipeline(model, feature_extractor=extractor, dtype="auto", batch_size=args.batch_size)
    else:
        pipe = pipeline(dtype="auto", batch_size=args.batch_size)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    result = pipe(args.long_file, chunk_length_s=args.chunk_length)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": round(seconds, 1),
                "peak_rss_mb": round(peak, 1),
                "rss_after_model_load_mb": round(rss_before, 1),
                "segments": len(result["segments"]),
                "dtype": pipe.dtype,
                "label": result["label"],
            }
        )
    )


def long_file(args: argparse.Namespace) -> dict:
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "one_hour.flac"
        synthesise_long_file(path, args.long_seconds)
        file_mb = path.stat().st_size / 2**20
        for model in args.long_models:
            command = [sys.executable, __file__, "--child-long-file", str(path), "--child-model", model]
            command += ["--chunk-length", str(args.chunk_length), "--batch-size", str(args.batch_size)]
            command += ["--threads", str(args.threads)]
            completed = subprocess.run(command, capture_output=True, text=True, check=False)
            if completed.returncode != 0:
                raise RuntimeError(f"long-file child failed:\n{completed.stderr}")
            child = json.loads(completed.stdout.strip().splitlines()[-1])
            child["real_time_factor"] = round(args.long_seconds / child["seconds"], 1)
            rows[model] = child
            print(f"long file, {model} model: {child}", flush=True)
    return {
        "audio_seconds": args.long_seconds,
        "chunk_length_s": args.chunk_length,
        "flac_size_mb": round(file_mb, 1),
        "decoded_float32_size_mb": round(args.long_seconds * 16000 * 4 / 2**20, 1),
        "models": rows,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--fit-clips", type=int, default=32, help="other clips the random head is fitted on")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--long-seconds", type=float, default=3600.0)
    parser.add_argument("--chunk-length", type=float, default=30.0)
    parser.add_argument("--long-models", nargs="+", default=["default", "base"], choices=("default", "base"))
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--child-long-file", dest="long_file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-model", default="default", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.long_file:
        long_file_child(args)
        return
    import torch

    results = {
        "command": " ".join(["python benchmarks/bench_pipeline.py", *(argv or sys.argv[1:])]),
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "torch": torch.__version__,
            "note": "2 shared cores; other jobs may have been running, so absolute numbers are noisy",
        },
    }
    output = Path(args.output)
    if output.is_file():  # keep the part not re-run
        previous = json.loads(output.read_text())
        results.update({key: previous[key] for key in ("throughput", "long_file") if key in previous})
    if not args.skip_throughput:
        results["throughput"] = throughput(args)
    if not args.skip_long:
        results["long_file"] = long_file(args)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
