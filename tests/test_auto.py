"""Tests of Auto-class registration, remote-code checkpoints and transformers' own pipeline."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import (
    AutoConfig,
    AutoFeatureExtractor,
    AutoModelForAudioClassification,
    Wav2Vec2FeatureExtractor,
    pipeline,
)
from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING

import hf_ser
from hf_ser import SERConfig, SERModelForAudioClassification
from hf_ser.auto import AUTO_CLASS_TABLE, AutoRegistration, register_auto_classes


@pytest.fixture
def saved_model(tiny_ser_model, tiny_checkpoint):
    """A tiny categorical hf_ser checkpoint with its feature extractor, saved to a temporary directory."""
    model = tiny_ser_model(pooling="attentive_stats", layer_weighting="weighted", seed=11)
    return model, tiny_checkpoint(model=model)


def test_registration_is_idempotent_and_table_driven():
    register_auto_classes()
    register_auto_classes()
    assert isinstance(AutoConfig.for_model("hf_ser", num_labels=2), SERConfig)
    assert FEATURE_EXTRACTOR_MAPPING[SERConfig] is Wav2Vec2FeatureExtractor
    row = next(row for row in AUTO_CLASS_TABLE if row.config_class is SERConfig)
    assert row.model_class is SERModelForAudioClassification
    assert "register_auto_classes" in hf_ser.__all__
    assert hf_ser.__version__


def test_new_table_row_is_registered(monkeypatch):
    class DummyConfig(SERConfig):
        model_type = "hf_ser_test_dummy"

    class DummyModel(SERModelForAudioClassification):
        config_class = DummyConfig

    row = AutoRegistration(DummyConfig, DummyModel, Wav2Vec2FeatureExtractor)
    monkeypatch.setattr(hf_ser.auto, "AUTO_CLASS_TABLE", [*AUTO_CLASS_TABLE, row])
    register_auto_classes()
    register_auto_classes()
    assert type(AutoConfig.for_model("hf_ser_test_dummy", num_labels=2)) is DummyConfig
    assert FEATURE_EXTRACTOR_MAPPING[DummyConfig] is Wav2Vec2FeatureExtractor
    from transformers.models.auto.modeling_auto import MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING

    assert MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING[DummyConfig] is DummyModel


def test_save_writes_safetensors_auto_map_and_code(saved_model):
    _, directory = saved_model
    config = json.loads((directory / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "configuration_ser.SERConfig",
        "AutoModelForAudioClassification": "modeling_ser.SERModelForAudioClassification",
    }
    assert (directory / "model.safetensors").is_file()
    for module in (
        "configuration_ser",
        "modeling_ser",
        "backbone",
        "pooling",
        "masks",
        "heads",
        "losses",
        "seq2seq",
    ):
        code = (directory / f"{module}.py").read_text()
        assert not re.search(r"^\s*(from|import)\s+hf_ser", code, flags=re.MULTILINE), module


def test_auto_classes_load_hf_ser_checkpoint(saved_model, feature_extractor, emodb_clips):
    model, directory = saved_model
    assert isinstance(AutoConfig.from_pretrained(directory), SERConfig)
    loaded = AutoModelForAudioClassification.from_pretrained(directory)
    assert type(loaded) is SERModelForAudioClassification
    extractor = AutoFeatureExtractor.from_pretrained(directory)
    assert isinstance(extractor, Wav2Vec2FeatureExtractor)
    assert extractor.return_attention_mask
    inputs = extractor(emodb_clips[:2], sampling_rate=16000, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(**inputs).logits, model(**inputs).logits, atol=0, rtol=0)


REMOTE_CODE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["hf_ser"] = None  # hf_ser must not be importable: only the copied code may be used
    import numpy as np
    import torch
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    directory, clip_file = sys.argv[1], sys.argv[2]
    model = AutoModelForAudioClassification.from_pretrained(directory, trust_remote_code=True).eval()
    assert "hf_ser" not in type(model).__module__.split(".")[0], type(model).__module__
    extractor = AutoFeatureExtractor.from_pretrained(directory)
    clip = np.load(clip_file)
    inputs = extractor([clip], sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        print(type(model).__module__, model(**inputs).logits.tolist())
    """
)


@pytest.mark.slow
def test_trust_remote_code_without_hf_ser(saved_model, feature_extractor, emodb_clips, tmp_path):
    model, directory = saved_model
    isolated = tmp_path / "isolated" / "checkpoint"
    shutil.copytree(directory, isolated)
    clip_file = tmp_path / "clip.npy"
    np.save(clip_file, emodb_clips[0])
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"), OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_CODE_SCRIPT, str(isolated), str(clip_file)],
        cwd=tmp_path / "isolated",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    module_name, logits = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert module_name.startswith("transformers_modules.")
    with torch.no_grad():
        expected = model(
            **feature_extractor([emodb_clips[0]], sampling_rate=16000, return_tensors="pt")
        ).logits
    torch.testing.assert_close(torch.tensor(json.loads(logits)), expected, atol=1e-5, rtol=0)


def test_transformers_audio_classification_pipeline(saved_model, feature_extractor, emodb_clips):
    model, directory = saved_model
    classifier = pipeline("audio-classification", model=model, feature_extractor=feature_extractor)
    results = classifier(emodb_clips[0], top_k=None)
    assert sorted(result["label"] for result in results) == sorted(model.config.id2label.values())
    assert abs(sum(result["score"] for result in results) - 1.0) < 1e-5
    with torch.no_grad():
        probabilities = model(**feature_extractor([emodb_clips[0]], sampling_rate=16000, return_tensors="pt"))
    best = model.config.id2label[int(probabilities.logits.argmax())]
    assert results[0]["label"] == best
    from_path = pipeline("audio-classification", model=str(directory))
    assert (
        from_path({"raw": emodb_clips[1], "sampling_rate": 16000}, top_k=2)[0]["label"]
        in model.config.label2id
    )
