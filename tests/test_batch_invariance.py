"""Property test: a prediction depends on the clip alone (issue 15).

Hypothesis draws clip lengths (0.2-12 s), sampling rates, batch sizes, call orders and, for the tiny
SSL models, long-audio chunking and test-time speed averaging; every clip's output must equal the
clip run alone: fp32 within 1e-5; bf16 the same top-1 and within 1e-3 of the bf16 single-clip output;
the built-in default model through the default pipeline (``dtype="auto"``) within 1e-4.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import numpy as np
import pytest
import torch
from conftest import TINY_BACKBONE_KWARGS, TINY_LABELS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hf_ser
from hf_ser.inference.dtype import bf16_supported

RATES = (8000, 16000, 22050, 44100)
# (backbone, feature-encoder norm, pooling, task, seq2seq, precision): every backbone family, both
# norms, every pooling and task, with and without a seq2seq encoder, both precisions.
SPECS = [
    ("wav2vec2", "group", "mean", "classification", None, "float32"),
    ("hubert", "group", "attentive_stats", "regression", "gla", "float32"),
    ("wavlm", "group", "soft_attention", "multitask", None, "float32"),
    ("wav2vec2", "layer", "multihead_attention", "classification", "softmax", "float32"),
    ("wav2vec2", "group", "attentive_stats", "multitask", "retention", "bfloat16"),
]
PROPERTY = settings(
    max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@functools.cache
def tiny_pipeline(model_type: str, norm: str, pooling: str, task: str, seq2seq: Optional[str], dtype: str):
    """A tiny random hf_ser model (one transformer layer) in a pipeline, built once per spec."""
    from transformers import HubertConfig, Wav2Vec2Config, Wav2Vec2FeatureExtractor, WavLMConfig

    classes = {"wav2vec2": Wav2Vec2Config, "hubert": HubertConfig, "wavlm": WavLMConfig}
    backbone = classes[model_type](
        **{**TINY_BACKBONE_KWARGS, "num_hidden_layers": 1, "feat_extract_norm": norm}
    )
    config: dict[str, Any] = {"pooling": pooling, "task": task, "projector_size": 16}
    if task != "regression":
        config["id2label"] = dict(TINY_LABELS)
    if seq2seq is not None:
        config.update(seq2seq=seq2seq, seq2seq_heads=2, seq2seq_layers=1)
    # fp32: spread logits (init range 0.2) for a sharp check; bf16: the default init range, since bf16
    # rounding differences between batch shapes grow with the output scale.
    config["initializer_range"] = 0.2 if dtype == "float32" else 0.02
    torch.manual_seed(0)
    model = hf_ser.SERModelForAudioClassification(hf_ser.SERConfig(backbone_config=backbone, **config)).eval()
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True)
    return hf_ser.pipeline(model, feature_extractor=extractor, dtype=dtype)


@functools.cache
def default_pipeline():
    """The built-in default model through the default pipeline (``dtype="auto"``)."""
    return hf_ser.pipeline()


@st.composite
def scenarios(draw: st.DrawFn, max_clips: int = 4) -> dict:
    """Clips (length in seconds, sampling rate, seed), a batch size and a call order."""
    count = draw(st.integers(2, max_clips))
    clips = [
        (draw(st.floats(0.2, 12.0)), draw(st.sampled_from(RATES)), draw(st.integers(0, 2**16)))
        for _ in range(count)
    ]
    return {
        "clips": clips,
        "batch_size": draw(st.integers(1, 4)),
        "order": draw(st.permutations(range(count))),
    }


def make_clip(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Noise with a pitched tone (so the clip is not silence), float32 mono at ``rate``."""
    rng = np.random.default_rng(seed)
    samples = max(int(seconds * rate), 1)
    time = np.arange(samples) / rate
    tone = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 300) * time)
    return (tone + 0.05 * rng.standard_normal(samples)).astype(np.float32)


def values(result: dict) -> np.ndarray:
    """Scores (in label order) and regression values of one pipeline result, as one vector."""
    scores = [result["scores"][label] for label in sorted(result.get("scores", {}))]
    regression = [result[key] for key in ("arousal", "dominance", "valence") if key in result]
    return np.array(scores + regression, dtype=np.float64)


def check_clip_alone(pipe: Any, scenario: dict, tolerance: float, **call: Any) -> None:
    """Each clip inside the drawn batches and order = the clip alone, within ``tolerance``."""
    clips = [make_clip(*spec) for spec in scenario["clips"]]
    rates = [spec[1] for spec in scenario["clips"]]
    alone = [
        pipe({"array": clip, "sampling_rate": rate}, **call) for clip, rate in zip(clips, rates, strict=True)
    ]
    order = scenario["order"]
    inputs = [{"array": clips[i], "sampling_rate": rates[i]} for i in order]
    batched = pipe(inputs, batch_size=scenario["batch_size"], **call)
    for position, index in enumerate(order):
        result, reference = batched[position], alone[index]
        assert result.get("label") == reference.get("label")
        np.testing.assert_allclose(values(result), values(reference), atol=tolerance, rtol=0)


@pytest.mark.parametrize("spec", SPECS, ids=["-".join(str(part) for part in spec) for spec in SPECS])
@PROPERTY
@given(
    scenario=scenarios(),
    chunk_length_s=st.sampled_from([None, 3.0]),
    speeds=st.sampled_from([None, (0.9, 1.1)]),
)
def test_tiny_models_clip_alone(spec, scenario, chunk_length_s, speeds):
    if spec[-1] == "bfloat16" and not bf16_supported(torch.device("cpu")):
        pytest.skip("no bf16 on this CPU")
    pipe = tiny_pipeline(*spec)
    tolerance = 1e-5 if spec[-1] == "float32" else 1e-3
    check_clip_alone(pipe, scenario, tolerance, chunk_length_s=chunk_length_s, test_time_speeds=speeds)


@PROPERTY
@given(scenario=scenarios(max_clips=5))
def test_default_pipeline_clip_alone(scenario):
    pipe = default_pipeline()
    assert pipe.dtype in ("float32", "bfloat16", "int8")  # decided before the first user clip
    check_clip_alone(pipe, scenario, 1e-4)


def test_threads_share_a_model_without_changing_outputs():
    """Two threads batching different clip mixes through one pipeline (group-norm model) get each clip's
    output alone: the sample mask reaches the feature encoder per thread."""
    from concurrent.futures import ThreadPoolExecutor

    pipe = tiny_pipeline("wav2vec2", "group", "mean", "classification", None, "float32")
    clips = [make_clip(seconds, 16000, seed) for seed, seconds in enumerate((0.5, 1.3, 2.2, 0.9, 3.1, 1.7))]
    alone = [values(pipe(clip, sampling_rate=16000)) for clip in clips]
    mixes = [[0, 1, 2, 3, 4, 5], [5, 3, 1], [4, 2, 0], [2, 5]] * 3
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda mix: pipe([clips[i] for i in mix], sampling_rate=16000), mixes))
    for mix, results in zip(mixes, runs, strict=True):
        for index, result in zip(mix, results, strict=True):
            np.testing.assert_allclose(values(result), alone[index], atol=1e-5, rtol=0)
