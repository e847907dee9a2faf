"""Offline-first model strings (hf_ser.inference.model_source): fast, clear errors, no network asked."""

from __future__ import annotations

import time

import huggingface_hub
import pytest

from hf_ser.inference import model_source
from hf_ser.inference.model_source import (
    ModelNotFoundError,
    check_local_path,
    hub_lookup,
    is_onnx_export,
    looks_like_local_path,
)
from hf_ser.inference.pipeline import load_model, pipeline


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach the Hub (download or TCP connection) fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("network access attempted")

    for name in ("hf_hub_download", "snapshot_download", "get_hf_file_metadata"):
        monkeypatch.setattr(huggingface_hub, name, forbidden)
        monkeypatch.setattr(huggingface_hub.file_download, name, forbidden, raising=False)
    monkeypatch.setattr(model_source.socket, "create_connection", forbidden)


@pytest.mark.parametrize(
    "name", ["./missing_run", "../missing_run", "/no/such/run", "~/no_such_run_x", "run.onnx"]
)
def test_local_looking_strings(name):
    assert looks_like_local_path(name)


def test_hub_ids_are_not_local(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert not looks_like_local_path("facebook/wav2vec2-base")
    assert not looks_like_local_path("org/model-v1.5")
    (tmp_path / "outputs").mkdir()
    assert looks_like_local_path("outputs/reslstm_emodb")  # its parent folder exists here


@pytest.mark.parametrize("name", ["outputs/reslstm_emodb", "./nope"])
def test_missing_local_path_fails_at_once_without_network(name, tmp_path, monkeypatch, no_network):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outputs").mkdir()
    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match="no such folder"):
        pipeline(name)
    assert time.perf_counter() - start < 1.0


def test_a_file_is_not_a_checkpoint(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="is a file"):
        check_local_path(str(tmp_path / "model.safetensors"))


def test_offline_hub_id_says_offline_without_retries(monkeypatch, no_network):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert hub_lookup("someone/some-model") == {"local_files_only": True}
    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE is set and it is not in the local"):
        load_model("someone/some-model-not-cached")
    assert time.perf_counter() - start < 5.0


def test_unreachable_hub_is_named_and_only_the_cache_is_read(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(model_source, "hub_reachable", lambda timeout=2.0: False)
    with pytest.raises(ModelNotFoundError, match=r"cannot be reached \(no network\?\)"):
        load_model("someone/some-model-not-cached")


def test_hub_reachable_is_bounded_by_its_timeout(monkeypatch):
    def refused(*args, **kwargs):
        raise OSError("no route")

    monkeypatch.setattr(model_source.socket, "create_connection", refused)
    assert model_source.hub_reachable(timeout=0.5) is False


def test_onnx_export_folder_runs_without_backend_flag(tiny_checkpoint_dir, tmp_path, emodb_clips):
    pytest.importorskip("onnxruntime")
    from hf_ser.export import to_onnx

    export_dir = tmp_path / "onnx_dir"
    to_onnx(tiny_checkpoint_dir, export_dir)
    assert is_onnx_export(export_dir) and not is_onnx_export(tiny_checkpoint_dir)
    classify = pipeline(str(export_dir))
    assert type(classify.backend).__name__ == "OnnxBackend"
    reference = pipeline(str(tiny_checkpoint_dir), dtype="float32")(emodb_clips[0], sampling_rate=16000)
    result = classify(emodb_clips[0], sampling_rate=16000)
    assert result["label"] == reference["label"]
