"""backend="auto" (hf_ser.inference.auto_backend): the choice, the rule, the disk cache, forced choices."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hf_ser import pipeline
from hf_ser.data.threads import count_parameters, recommended_threads
from hf_ser.export import onnx as onnx_export
from hf_ser.inference import auto_backend, dtype
from hf_ser.inference.auto_backend import AutoBackend, Candidate, plan_candidates
from hf_ser.inference.backends import TorchBackend
from hf_ser.inference.pipeline import resolve_device
from tests.conftest import make_feature_extractor, make_tiny_ser_model

pytest.importorskip("onnxruntime")


@pytest.fixture
def export_counter(monkeypatch):
    """Counts calls to ``to_onnx`` (the export the cache should save)."""
    calls = []
    original = onnx_export.to_onnx

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(onnx_export, "to_onnx", counting)
    return calls


@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_SER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_auto_is_the_default_and_picks_onnx_for_an_exportable_model(tiny_checkpoint, fresh_cache):
    pipe = pipeline(tiny_checkpoint("auto_onnx", seed=1))
    assert isinstance(pipe.backend, AutoBackend)
    assert pipe.backend.backend_name == "onnx"
    assert pipe.dtype in ("int8", "float32")
    assert isinstance(pipe.model, torch.nn.Module)  # pipe.model stays the torch model
    decision = json.loads(next(fresh_cache.glob("exports/*/decision-cpu.json")).read_text())
    assert decision["backend"] == "onnx" and decision["rule"]["score_tolerance"] == dtype.SCORE_TOLERANCE


def test_auto_picks_torch_for_a_model_that_does_not_export(feature_extractor, fresh_cache, export_counter):
    model = make_tiny_ser_model(seq2seq="gla", seed=2)  # linear seq2seq: not in ONNX_EXPORTABLE
    pipe = pipeline(model, feature_extractor=feature_extractor)
    assert pipe.backend.backend_name == "torch"
    assert type(pipe.backend.runner) is TorchBackend
    assert export_counter == [] and not fresh_cache.exists()


def test_a_plain_transformers_model_runs_on_torch(fresh_cache):
    from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification

    from tests.conftest import TINY_BACKBONE_KWARGS

    model = Wav2Vec2ForSequenceClassification(Wav2Vec2Config(**TINY_BACKBONE_KWARGS, num_labels=3)).eval()
    pipe = pipeline(model, feature_extractor=make_feature_extractor())
    assert pipe.backend.backend_name == "torch"


def test_the_rule_rejects_candidates_outside_the_tolerance_and_falls_back(
    tiny_checkpoint, fresh_cache, monkeypatch
):
    monkeypatch.setattr(dtype, "SCORE_TOLERANCE", 0.0)  # nothing but torch fp32 itself can meet it
    pipe = pipeline(tiny_checkpoint("auto_strict", seed=3))
    assert pipe.backend.decision["checked"] == {"onnx:float32": False}
    assert pipe.backend.backend_name == "torch"
    assert pipe.dtype == "float32"


def test_int8_is_opt_in_and_the_rule_still_checks_it(tiny_checkpoint, fresh_cache, monkeypatch):
    """auto never picks int8 (too few calibration clips to vouch for it); dtype="int8" forces it, and a
    forced choice is served as asked (the rule only orders automatic choices)."""
    checkpoint = tiny_checkpoint("auto_no_int8", seed=4)
    assert "onnx:int8" not in pipeline(checkpoint).backend.decision["checked"]
    monkeypatch.setattr(AutoBackend, "_accepted", lambda self, runner, c: False)
    forced = pipeline(checkpoint, dtype="int8")
    assert (forced.backend.backend_name, forced.dtype) == ("onnx", "int8")


def test_the_export_and_decision_are_reused_and_invalidated_by_new_weights(
    tiny_checkpoint, feature_extractor, fresh_cache, export_counter
):
    checkpoint = tiny_checkpoint("auto_cache", seed=5)
    first = pipeline(checkpoint)
    second = pipeline(checkpoint)  # a new model object from the same files: what a second process does
    assert len(export_counter) == 1
    assert not first.backend.decision["cached"] and second.backend.decision["cached"]
    assert (second.backend.backend_name, second.dtype) == (first.backend.backend_name, first.dtype)

    model = second.model
    with torch.no_grad():
        next(model.parameters()).add_(0.01)  # new weights -> new key -> new export
    pipeline(model, feature_extractor=feature_extractor)
    assert len(export_counter) == 2
    pipeline(model, feature_extractor=feature_extractor)  # the in-memory model's hash hits the cache
    assert len(export_counter) == 2
    assert len(list(fresh_cache.glob("exports/*/model.onnx"))) == 2
    assert not list(fresh_cache.glob("exports/.tmp-*"))  # atomic writes leave no temporary directory


def test_forced_backend_and_dtype_are_honoured(tiny_checkpoint, fresh_cache):
    checkpoint = tiny_checkpoint("auto_forced", seed=6)
    assert type(pipeline(checkpoint, backend="torch").backend) is TorchBackend
    assert pipeline(checkpoint, backend="torch", dtype="float32").dtype == "float32"
    int8 = pipeline(checkpoint, dtype="int8")
    assert (int8.backend.backend_name, int8.dtype) == ("onnx", "int8")
    fp32 = pipeline(checkpoint, dtype="float32")
    assert (fp32.backend.backend_name, fp32.dtype) == ("onnx", "float32")
    assert [c.name for c in fp32.backend.plan] == ["onnx:float32", "torch:float32"]


def test_auto_matches_torch_fp32_on_real_clips(tiny_checkpoint, emodb_clips, fresh_cache):
    checkpoint = tiny_checkpoint("auto_real", seed=7, task="multitask")
    clips = [{"array": clip, "sampling_rate": 16000} for clip in emodb_clips]
    reference = pipeline(checkpoint, backend="torch", dtype="float32")(clips)
    auto = pipeline(checkpoint)
    results = auto(clips)
    assert auto.backend.backend_name == "onnx"
    for expected, actual in zip(reference, results, strict=True):
        assert actual.keys() == expected.keys()
        assert actual["label"] == expected["label"]
        for name, score in expected["scores"].items():
            assert abs(actual["scores"][name] - score) <= dtype.SCORE_TOLERANCE
        for target in ("arousal", "dominance", "valence"):
            assert abs(actual[target] - expected[target]) <= dtype.REGRESSION_TOLERANCE


def test_chunks_speeds_and_embeddings_run_through_auto(tiny_checkpoint, emodb_clips, fresh_cache):
    checkpoint = tiny_checkpoint("auto_chunks", seed=8)
    clip = np.concatenate(emodb_clips)
    reference = pipeline(checkpoint, backend="torch", dtype="float32", test_time_speeds=[0.9, 1.1])
    auto = pipeline(checkpoint, test_time_speeds=[0.9, 1.1])
    expected = reference(clip, sampling_rate=16000, chunk_length_s=1.0)
    actual = auto(clip, sampling_rate=16000, chunk_length_s=1.0)
    assert len(actual["segments"]) == len(expected["segments"]) > 1
    assert max(abs(actual["scores"][k] - v) for k, v in expected["scores"].items()) <= dtype.SCORE_TOLERANCE
    with_embedding = auto(clip, sampling_rate=16000, return_embeddings=True)  # ONNX has none: torch runs it
    expected_embedding = reference(clip, sampling_rate=16000, return_embeddings=True)["embedding"]
    np.testing.assert_allclose(with_embedding["embedding"], expected_embedding, atol=0.05)


def test_onnx_sessions_use_the_cores_of_the_process(tiny_checkpoint, fresh_cache):
    pipe = pipeline(tiny_checkpoint("auto_threads", seed=9))
    options = pipe.backend.runner.model.session.get_session_options()
    assert options.intra_op_num_threads == recommended_threads(count_parameters(pipe.model))
    assert options.inter_op_num_threads == 1


@pytest.mark.parametrize(
    ("bf16", "providers", "expected"),
    [
        (
            True,
            ("CUDAExecutionProvider", "CPUExecutionProvider"),
            ["torch:bfloat16", "onnx:float32", "torch:float32"],
        ),
        (
            False,
            ("CUDAExecutionProvider", "CPUExecutionProvider"),
            ["torch:float16", "onnx:float32", "torch:float32"],
        ),
        (True, ("CPUExecutionProvider",), ["torch:bfloat16", "torch:float32"]),
        (True, None, ["torch:bfloat16", "torch:float32"]),  # onnxruntime not installed
    ],
)
def test_cuda_plan_with_mocked_availability(monkeypatch, bf16, providers, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    device = resolve_device(None)
    assert device.type == "cuda"
    plan = plan_candidates(device, True, providers, bf16)
    assert [candidate.name for candidate in plan] == expected
    onnx = [candidate for candidate in plan if candidate.backend == "onnx"]
    assert all(candidate.providers[0] == "CUDAExecutionProvider" for candidate in onnx)


def test_cuda_selection_applies_the_rule_with_mocked_availability(monkeypatch, feature_extractor):
    """The whole CUDA path on a CPU: the device is faked, building and checking the candidates are mocked."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(dtype, "bf16_supported", lambda device: device.type == "cuda")
    monkeypatch.setattr(
        auto_backend, "onnx_providers", lambda: ("CUDAExecutionProvider", "CPUExecutionProvider")
    )
    built = []

    class FakeRunner:
        config, sampling_rate, task, equal_length_batches, dtype = None, 16000, "classification", False, "x"

    def build(self, candidate, directory):
        built.append(candidate.name)
        return FakeRunner()

    monkeypatch.setattr(AutoBackend, "_build", build)
    monkeypatch.setattr(AutoBackend, "_accepted", lambda self, runner, c: c.precision == "float32")
    monkeypatch.setattr(auto_backend, "export_dir_for", lambda key: auto_backend.Path("/nonexistent"))
    backend = AutoBackend(make_tiny_ser_model(seed=10), feature_extractor, torch.device("cuda"))
    assert built == ["torch:bfloat16", "onnx:float32"]  # bf16 rejected by the rule, ONNX on CUDA accepted
    assert backend.decision["providers"] == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_cpu_plan_prefers_openvino_when_installed():
    plan = plan_candidates(
        torch.device("cpu"), True, ("OpenVINOExecutionProvider", "CPUExecutionProvider"), False
    )
    assert plan[0] == Candidate("onnx", "float32", ("OpenVINOExecutionProvider", "CPUExecutionProvider"))
    assert "onnx:int8" not in [c.name for c in plan]
    assert [c.name for c in plan_candidates(torch.device("cpu"), False, None, False)] == ["torch:auto"]
    with pytest.raises(ValueError, match="int8"):
        plan_candidates(torch.device("cpu"), False, ("CPUExecutionProvider",), False, dtype="int8")
