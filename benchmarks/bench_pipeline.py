"""Throughput of ``hf_ser.pipeline`` vs ``transformers.pipeline("audio-classification")``, same model.

    python benchmarks/bench_pipeline.py               # both parts -> benchmarks/results/pipeline.json
    python benchmarks/bench_pipeline.py --skip-long   # without the one-hour file
    python benchmarks/bench_pipeline.py --skip-long --clips 48 --repeats 3 --backbones group layer

Part 1 (throughput, issue 16): a wav2vec2-base-sized hf_ser model (hidden 768, 12 layers, attentive
statistics pooling, random backbone weights: compute is what counts), once with the group-norm conv
encoder of wav2vec2-base / HuBERT-base and once with the layer-norm one of wav2vec2-large / WavLM,
classifies the same real clips of mixed length from ``../shared/data`` (EmoDB 2.0 s and URDU 1-3 s clips,
some EmoDB clips joined with the next ones of the list into 4 s and 6 s clips; decoded to 16 kHz arrays
once, so decoding is not timed) through transformers' pipeline and every hf_ser backend x precision:
torch fp32, torch bf16 (where the CPU runs bf16), ONNX Runtime fp32 and int8, and the default
``hf_ser.pipeline(model)`` (``backend="auto"``). transformers' pipeline runs the hf_ser model itself
(``import hf_ser`` registers it with the Auto classes), so all use identical weights; the linear head is
first fitted on other labelled clips so that predictions spread over the classes. Reported per row:
clips/s (median of ``--repeats`` interleaved rounds after a warm-up pass), speed-up (median over the
rounds of the per-round ratio), top-1 agreement with and largest class-probability difference from
transformers fp32, and the resident memory the row's pipeline added when it was built. The load average
is recorded before and after.

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


def base_sized_model(seed: int = 0, norm: str = "layer"):
    """hf_ser model with a wav2vec2-base-sized backbone (random weights) and its feature extractor.

    ``norm="group"``: the group-normalised first conv layer of wav2vec2-base / HuBERT-base (hf_ser masks
    it, so batches stay padding-invariant); ``"layer"``: per-frame layer norms as in wav2vec2-large /
    XLS-R / WavLM. The head is a single linear layer (``projector_size=None``) so that :func:`fit_head`
    can fit it.
    """
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

    from hf_ser import SERConfig, SERModelForAudioClassification

    torch.manual_seed(seed)
    backbone = Wav2Vec2Config(feat_extract_norm=norm, do_stable_layer_norm=norm == "layer")
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

    pipe = pipeline(model, feature_extractor=extractor, backend="torch", dtype="float32")
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


def mixed_length_clips(count: int) -> list[tuple[str, str, np.ndarray]]:
    """``count`` real clips of mixed length: half EmoDB, where every second and third clip of the list is
    joined with the next one or two (2, 4 and 6 s clips; label of the first part), half URDU (1-3 s)."""
    pool = real_clips(2 * count)
    emodb = [clip for clip in pool if "emodb" in clip[0]]
    clips, index, group = [], 0, 0
    while len(clips) < count // 2 and index < len(emodb):
        parts = emodb[index : index + 1 + group % 3]
        clips.append((parts[0][0], parts[0][1], np.concatenate([part[2] for part in parts])))
        index, group = index + len(parts), group + 1
    urdu = [clip for clip in pool if "emodb" not in clip[0]]
    return clips + urdu[: count - len(clips)]


def time_call(function, repeats: int = 1) -> tuple[float, object]:
    """Best wall time over ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def rss_mb() -> float:
    """Current resident memory of this process (MB)."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def build_rows(model, extractor, batch_size: int) -> tuple[dict, dict]:
    """One ``name -> run(clips)`` per pipeline (returning one ``{label: probability}`` per clip) and
    ``name -> {"rss_added_mb", "build_s"}``; the ONNX files come from the cache ``backend="auto"`` uses."""
    from transformers import pipeline as hf_pipeline

    from hf_ser import pipeline
    from hf_ser.inference.auto_backend import export_onnx
    from hf_ser.inference.dtype import bf16_supported
    from hf_ser.inference.export_cache import export_dir_for, model_hash

    builds: dict = {}

    def built(name, make):
        before, start = rss_mb(), time.perf_counter()
        made = make()
        builds[name] = {
            "rss_added_mb": round(rss_mb() - before, 1),
            "build_s": round(time.perf_counter() - start, 1),
        }
        return made

    theirs = built("transformers", lambda: hf_pipeline(
        "audio-classification", model=model, feature_extractor=extractor, top_k=len(LABELS)))  # fmt: skip
    rows = {"transformers.pipeline fp32 (one clip at a time)": lambda clips: [
        {entry["label"]: entry["score"] for entry in theirs(audio)} for audio in clips]}  # fmt: skip

    def ours(pipe):
        return lambda clips: [
            result["scores"] for result in pipe([{"array": audio, "sampling_rate": 16000} for audio in clips])
        ]

    settings = {"hf_ser torch fp32": {"backend": "torch", "dtype": "float32"}}
    if bf16_supported(__import__("torch").device("cpu")):
        settings["hf_ser torch bf16"] = {"backend": "torch", "dtype": "bfloat16"}
    for name, kwargs in settings.items():
        pipe = built(
            name,
            lambda kwargs=kwargs: pipeline(
                model, feature_extractor=extractor, batch_size=batch_size, **kwargs
            ),
        )
        rows[name] = ours(pipe)
    start = time.perf_counter()
    directory = export_onnx(model, extractor, export_dir_for(model_hash(model, extractor, None)), int8=True)
    builds["onnx export + int8 quantisation"] = {"build_s": round(time.perf_counter() - start, 1)}
    for name, precision in (("hf_ser onnx fp32", "float32"), ("hf_ser onnx int8", "int8")):
        pipe = built(name, lambda precision=precision: pipeline(
            directory, backend="onnx", dtype=precision, batch_size=batch_size))  # fmt: skip
        rows[name] = ours(pipe)
    auto = built("auto", lambda: pipeline(model, feature_extractor=extractor, batch_size=batch_size))
    name = f"hf_ser default: auto -> {auto.backend.backend_name} {auto.dtype}"
    builds[name] = builds.pop("auto") | {"decision": auto.backend.decision}
    rows[name] = ours(auto)
    return rows, builds


def summarise(rows: dict, runs: dict, scores: dict, clips: int) -> list[dict]:
    """Per row: median clips/s, median per-round speed-up, top-1 agreement and largest probability
    difference against the first row (transformers fp32)."""
    reference_name = next(iter(rows))
    reference = scores[reference_name]
    table = []
    for name in rows:
        labels = [max(clip, key=clip.get) for clip in scores[name]]
        expected = [max(clip, key=clip.get) for clip in reference]
        diff = max(
            abs(mine[k] - theirs[k])
            for mine, theirs in zip(scores[name], reference, strict=True)
            for k in theirs
        )
        ratios = [a / b for a, b in zip(runs[reference_name], runs[name], strict=True)]
        table.append(
            {
                "pipeline": name,
                "seconds_per_round": [round(value, 2) for value in runs[name]],
                "clips_per_s": round(clips / statistics.median(runs[name]), 3),
                "speedup_vs_transformers": round(statistics.median(ratios), 2),
                "speedup_per_round": [round(value, 2) for value in ratios],
                "top1_agreement_with_transformers": round(
                    float(np.mean([a == b for a, b in zip(labels, expected, strict=True)])), 4
                ),
                "max_probability_diff_vs_transformers": round(float(diff), 4),
            }
        )
    return table


def throughput_one(args: argparse.Namespace, norm: str, arrays: list[np.ndarray]) -> dict:
    """Part 1 for one backbone normalisation: warm-up, interleaved rounds, table."""
    model, extractor = base_sized_model(norm=norm)
    fit_head(model, extractor, real_clips(args.fit_clips, offset=2 * args.clips))
    rows, builds = build_rows(model, extractor, args.batch_size)
    for function in rows.values():  # warm-up: every pipeline once on a few clips
        function(arrays[: args.batch_size])
    runs: dict = {name: [] for name in rows}
    scores: dict = {}
    # Interleaved rounds: within a round the pipelines run back to back under the same load, so the
    # speed-up is taken per round and the median over rounds is reported.
    for round_index in range(args.repeats):
        for name, function in rows.items():
            seconds, scores[name] = time_call(lambda function=function: function(arrays))
            runs[name].append(seconds)
            print(
                f"{norm} round {round_index}: {name}: {seconds:.2f} s, {len(arrays) / seconds:.2f} clips/s",
                flush=True,
            )
    reference = [max(clip, key=clip.get) for clip in next(iter(scores.values()))]
    return {
        "backbone": f"wav2vec2-base-sized, feat_extract_norm={norm!r}",
        "transformers_label_histogram": {label: reference.count(label) for label in sorted(set(reference))},
        "builds": builds,
        "rows": summarise(rows, runs, scores, len(arrays)),
    }


def throughput(args: argparse.Namespace) -> dict:
    import torch
    from transformers.utils import logging

    logging.set_verbosity_error()
    torch.set_num_threads(args.threads)
    clips = mixed_length_clips(args.clips)
    arrays = [audio for _, _, audio in clips]
    lengths = [len(audio) / 16000 for audio in arrays]
    result = {
        "model": "SERModelForAudioClassification, wav2vec2-base-sized backbone (hidden 768, 12 layers), "
        "attentive statistics pooling, random backbone weights; linear 7-class head fitted by logistic "
        "regression on the pooled embeddings of --fit-clips other real clips",
        "clips": len(arrays),
        "clip_seconds": {
            "total": round(sum(lengths), 1),
            "min": round(min(lengths), 2),
            "max": round(max(lengths), 2),
        },
        "batch_size": args.batch_size,
        "threads": args.threads,
        "load_average_before": os.getloadavg(),
        "backbones": {norm: throughput_one(args, norm, arrays) for norm in args.backbones},
        "load_average_after": os.getloadavg(),
    }
    return result


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
        pipe = pipeline(model, feature_extractor=extractor, backend="torch", batch_size=args.batch_size)
    else:
        pipe = pipeline(backend="torch", batch_size=args.batch_size)
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
    parser.add_argument("--backbones", nargs="+", default=["group", "layer"], choices=("group", "layer"))
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
