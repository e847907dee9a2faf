"""Group-norm backbones (issue 15): cost of the masked feature encoder and pipeline batching.

    python benchmarks/bench_group_norm.py                 # -> benchmarks/results/group_norm.json
    python benchmarks/bench_group_norm.py --threads 2 --clips 16 --repeats 3

Model: a wav2vec2-base-sized hf_ser model (``Wav2Vec2Config()`` defaults: hidden 768, 12 layers,
``feat_extract_norm="group"``; attentive statistics pooling; random weights: compute is what counts).
Clips: real EmoDB / URDU clips from ``../shared/data`` cut to distinct lengths of 1-4 s, decoded to
16 kHz once (decoding is not timed).

1. Masking cost: the same padded batches run through the model with the masked feature encoder and with
   the stock transformers encoder (same weights): clips/s of each (median of ``--repeats``
   interleaved rounds), and the largest logit difference between a clip padded in its batch and the
   clip alone for each encoder.
2. Pipeline: ``hf_ser.pipeline(model, dtype="float32")`` before (group-norm models were only batched at
   identical lengths, i.e. one clip at a time here) and after (length-sorted batches of ``--batch-size``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HF_SER_DATA_DIR", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results" / "group_norm.json"


def load_clips(count: int) -> list[np.ndarray]:
    """``count`` real clips at 16 kHz, cut to distinct lengths spread over 1-4 s."""
    from hf_ser.data.audio import load_audio

    files = sorted((DATA_DIR / "emodb").glob("*.flac"))[:count]
    lengths = np.linspace(1.0, 4.0, count)
    clips = []
    for index, (path, seconds) in enumerate(zip(files, lengths, strict=True)):
        audio = load_audio(path)
        repeats = int(np.ceil(seconds * 16000 / len(audio)))
        clips.append(np.tile(audio, repeats)[: int(seconds * 16000) + index])
    return clips


def build_model() -> tuple[Any, Any]:
    """A wav2vec2-base-sized group-norm hf_ser model (random init) and its feature extractor."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

    from hf_ser import SERConfig, SERModelForAudioClassification

    torch.manual_seed(0)
    backbone = Wav2Vec2Config(layerdrop=0.0, mask_time_prob=0.0)
    config = SERConfig(backbone_config=backbone, id2label=dict(enumerate("abcd")), pooling="attentive_stats")
    model = SERModelForAudioClassification(config).eval()
    return model, Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True)


def stock_encoder(model: Any) -> Any:
    """The stock transformers feature encoder holding the model's own conv layers (same weights)."""
    from transformers.models.wav2vec2.modeling_wav2vec2 import Wav2Vec2FeatureEncoder

    encoder = Wav2Vec2FeatureEncoder(model.config.backbone_config)
    encoder.conv_layers = model.backbone.feature_extractor.conv_layers
    return encoder.eval()


class EncoderSwitch:
    """Switch the model between the masked and the stock feature encoder (keeps the stock one in place
    by disabling the re-installation in ``frame_features`` while stock)."""

    def __init__(self, model: Any) -> None:
        from hf_ser.models import modeling_ser

        self.model, self.module = model, modeling_ser
        self.masked, self.stock = model.backbone.feature_extractor, stock_encoder(model)
        self.install = modeling_ser.use_masked_feature_encoder

    def use(self, masked: bool) -> None:
        """Run the model with the masked (``True``) or the stock (``False``) encoder from now on."""
        self.model.backbone.feature_extractor = self.masked if masked else self.stock
        self.module.use_masked_feature_encoder = self.install if masked else (lambda backbone: backbone)


def batches(extractor: Any, clips: list[np.ndarray], batch_size: int) -> list[dict]:
    """Length-sorted padded batches of the clips, as model inputs."""
    order = sorted(range(len(clips)), key=lambda i: -len(clips[i]))
    groups = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    return [
        extractor(
            [clips[i] for i in group],
            sampling_rate=16000,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        for group in groups
    ]


def timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        function()
    return time.perf_counter() - start


def padding_error(model: Any, extractor: Any, clips: list[np.ndarray]) -> float:
    """Largest |logit| difference between each clip padded in one batch and the clip alone."""
    batch = extractor(
        clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    with torch.inference_mode():
        batched = model(**batch).logits
        alone = [
            model(**extractor([clip], sampling_rate=16000, return_tensors="pt")).logits[0] for clip in clips
        ]
    return float(max((batched[i] - alone[i]).abs().max() for i in range(len(clips))))


def masking_cost(model: Any, extractor: Any, clips: list[np.ndarray], args: argparse.Namespace) -> dict:
    """Clips/s with and without the masked encoder on the same batches, and the padding error of each."""
    switch, inputs = EncoderSwitch(model), batches(extractor, clips, args.batch_size)
    rounds: dict[bool, list[float]] = {True: [], False: []}
    errors = {}
    for masked in (True, False):
        switch.use(masked)
        errors[masked] = padding_error(model, extractor, clips[: args.batch_size])
        timed(lambda: model(**inputs[0]))  # warm-up
    for _ in range(args.repeats):
        for masked in (True, False):
            switch.use(masked)
            rounds[masked].append(len(clips) / timed(lambda: [model(**batch) for batch in inputs]))
    switch.use(True)
    masked_rate, stock_rate = statistics.median(rounds[True]), statistics.median(rounds[False])
    return {
        "clips_per_s_masked": round(masked_rate, 2),
        "clips_per_s_stock": round(stock_rate, 2),
        "masked_over_stock": round(masked_rate / stock_rate, 3),
        "max_logit_diff_padded_vs_alone_stock": errors[False],
        "max_logit_diff_padded_vs_alone_masked": errors[True],
    }


def pipeline_speed(model: Any, extractor: Any, clips: list[np.ndarray], args: argparse.Namespace) -> dict:
    """Pipeline clips/s one clip at a time (the old rule for group norm) and batched by length."""
    from hf_ser import pipeline

    pipe = pipeline(model, feature_extractor=extractor, dtype="float32", batch_size=args.batch_size)
    inputs = [{"array": clip, "sampling_rate": 16000} for clip in clips]
    rates: dict[str, list[float]] = {"one_at_a_time": [], "batched": []}
    pipe(inputs[:2])  # warm-up
    for _ in range(args.repeats):
        for name in rates:
            pipe.backend.equal_length_batches = name == "one_at_a_time"  # distinct lengths: batches of 1
            rates[name].append(len(clips) / timed(lambda: pipe(inputs)))
    before, after = statistics.median(rates["one_at_a_time"]), statistics.median(rates["batched"])
    return {
        "clips_per_s_one_at_a_time": round(before, 2),
        "clips_per_s_batched": round(after, 2),
        "batched_over_one_at_a_time": round(after / before, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    clips = load_clips(args.clips)
    model, extractor = build_model()
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "threads": args.threads,
        "clips": args.clips,
        "seconds_of_audio": round(sum(len(clip) for clip in clips) / 16000, 1),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "masking": masking_cost(model, extractor, clips, args),
        "pipeline": pipeline_speed(model, extractor, clips, args),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
