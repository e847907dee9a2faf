"""hf_ser.runtime: torch-free inference gives the torch pipeline's results (built-in and exported models)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import Wav2Vec2FeatureExtractor

from hf_ser import (
    LSTMSAConfig,
    LSTMSAForAudioClassification,
    MfccChromaFeatureExtractor,
    Wav2SmallConfig,
    Wav2SmallForAudioClassification,
    pipeline,
)
from hf_ser.export import to_onnx
from hf_ser.runtime import DEFAULT_MODEL_DIR, load

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.wav"))
EMODB_FILES = ("03a01Wa.flac", "03a01Nc.flac", "03a02Ta.flac", "03a01Fa.flac")
TOLERANCE = 1e-4


def assert_same_results(ours: dict, theirs: dict) -> None:
    """Same keys, labels and segment bounds; probabilities and regression values within TOLERANCE."""
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        if key == "scores":
            assert list(ours["scores"]) == list(value)
            np.testing.assert_allclose(list(ours["scores"].values()), list(value.values()), atol=TOLERANCE)
        elif key == "segments":
            assert len(ours["segments"]) == len(value)
            for mine, other in zip(ours["segments"], value, strict=True):
                assert_same_results(mine, other)
        elif isinstance(value, float):
            assert abs(ours[key] - value) <= TOLERANCE, key
        else:
            assert ours[key] == value, key


@pytest.fixture(scope="module")
def real_files(data_dir) -> list[str]:
    return [str(path) for path in EXAMPLES] + [str(data_dir / "emodb" / name) for name in EMODB_FILES]


def test_builtin_model_matches_the_torch_pipeline(real_files):
    ours, theirs = load()(real_files), pipeline(dtype="float32")(real_files)
    for mine, other in zip(ours, theirs, strict=True):
        assert_same_results(mine, other)


def test_builtin_model_chunked_matches_the_torch_pipeline(real_files):
    settings = {"chunk_length_s": 1.0, "stride_length_s": 0.2, "top_k": 3}
    ours = load()(real_files[0], **settings)
    assert len(ours["segments"]) > 2
    assert_same_results(ours, pipeline(dtype="float32")(real_files[0], **settings))


def test_shipped_onnx_is_small_and_in_package_data():
    assert (DEFAULT_MODEL_DIR / "model.onnx").stat().st_size < 1_000_000
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"default_model/*"' in pyproject


def _lstm_sa(tmp_path):
    torch.manual_seed(0)
    config = LSTMSAConfig(hidden_size=16, num_labels=3, task="multitask", test_time_speeds=[0.9, 1.1])
    model = LSTMSAForAudioClassification(config)  # the runtime averages the speeds like the pipeline
    return model, MfccChromaFeatureExtractor(normalization="utterance")


def _student(tmp_path):
    torch.manual_seed(0)
    model = Wav2SmallForAudioClassification(Wav2SmallConfig(task="regression"))
    return model, Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True)


def _ssl(tmp_path, tiny_ser_model):
    extractor = Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True, return_attention_mask=True)
    return tiny_ser_model(task="classification"), extractor


@pytest.mark.parametrize("family", ["lstm_sa", "student", "ssl"])
def test_exported_models_match_the_torch_pipeline(family, tiny_ser_model, emodb_clips, tmp_path):
    if family == "ssl":
        model, extractor = _ssl(tmp_path, tiny_ser_model)
    else:
        model, extractor = {"lstm_sa": _lstm_sa, "student": _student}[family](tmp_path)
    to_onnx(model.eval(), tmp_path, feature_extractor=extractor)
    clips = [{"array": clip, "sampling_rate": 16000} for clip in emodb_clips]
    ours = load(tmp_path, batch_size=3)(clips)
    theirs = pipeline(model, feature_extractor=extractor, dtype="float32", device="cpu")(clips)
    for mine, other in zip(ours, theirs, strict=True):
        assert_same_results(mine, other)


def test_runtime_follows_the_pipelines_input_rules(real_files):
    """One implementation of the input rules (hf_ser.data.audio): integer PCM is scaled by its range,
    stereo is down-mixed, bad rates are AudioErrors — in the runtime exactly as in the torch pipeline."""
    from hf_ser.data.audio import AudioError, load_audio

    classify = load()
    clip = load_audio(real_files[0])
    pcm = np.round(clip * 32767).astype(np.int16)
    as_float = classify(pcm.astype(np.float32) / 32768, sampling_rate=16000)
    as_int16 = classify(pcm, sampling_rate=16000)
    assert as_int16["label"] == as_float["label"]
    for label, score in as_float["scores"].items():
        assert as_int16["scores"][label] == pytest.approx(score, abs=1e-6)
    stereo = np.stack([clip, clip], axis=1)
    assert classify(stereo, sampling_rate=16000)["scores"] == pytest.approx(classify(real_files[0])["scores"])
    with pytest.raises(AudioError, match="sampling"):
        classify(clip, sampling_rate=float("nan"))


def test_errors(tmp_path):
    import json

    (tmp_path / "config.json").write_text(json.dumps({"task": "classification", "id2label": {"0": "a"}}))
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"feature_extractor_type": "Other"}))
    with pytest.raises(FileNotFoundError, match="model.onnx"):
        load(tmp_path)
    (tmp_path / "model.onnx").write_bytes((DEFAULT_MODEL_DIR / "model.onnx").read_bytes())
    with pytest.raises(ValueError, match="no numpy version of feature extractor 'Other'"):
        load(tmp_path)
    with pytest.raises(ValueError, match="sampling_rate"):
        load()(np.zeros(16000, np.float32))
    with pytest.raises(ValueError, match="not found"):
        load()(str(tmp_path / "missing.wav"))
    with pytest.warns(UserWarning, match="chunk_length_s"):
        load()(np.zeros(16000 * 121, np.float32), sampling_rate=16000)


BLOCK_TORCH = """
import importlib.abc, sys

class Uninstalled(importlib.abc.MetaPathFinder):
    \"\"\"Makes torch and transformers unimportable, as in an install without them.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, Uninstalled())
"""


def test_runtime_runs_without_torch_and_transformers(real_files):
    code = BLOCK_TORCH + textwrap.dedent(
        """
        from hf_ser.runtime import load
        result = load()(sys.argv[1])
        windows = load()(sys.argv[1], chunk_length_s=1.0)["segments"]
        assert "torch" not in sys.modules and "transformers" not in sys.modules
        print(result["label"], len(result["scores"]), len(windows))
        """
    )
    out = subprocess.run([sys.executable, "-c", code, real_files[0]], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[1] == "7"
