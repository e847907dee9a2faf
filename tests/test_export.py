"""ONNX export of every model family: files, dynamic axes, fp32 and int8 parity with PyTorch, runner."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import Wav2Vec2FeatureExtractor

from hf_ser import (
    LSTMSAConfig,
    LSTMSAForAudioClassification,
    MfccChromaFeatureExtractor,
    SERModelOutput,
    Wav2SmallConfig,
    Wav2SmallForAudioClassification,
)
from hf_ser.export import OnnxSERModel, to_onnx

FAMILIES = ("ssl_multitask", "ssl_classification", "lstm_sa", "wav2small")


def build(family: str, tiny_ser_model):
    """A tiny random model of ``family`` and its feature extractor."""
    torch.manual_seed(0)
    if family.startswith("ssl_"):
        return tiny_ser_model(task=family[4:]), Wav2Vec2FeatureExtractor(
            sampling_rate=16000, return_attention_mask=True, do_normalize=True
        )
    if family == "lstm_sa":
        model = LSTMSAForAudioClassification(LSTMSAConfig(hidden_size=32, num_labels=7))
        return model.eval(), MfccChromaFeatureExtractor()
    task = "regression" if family == "wav2small_regression" else "multitask"
    labels = {} if task == "regression" else {"num_labels": 7}
    model = Wav2SmallForAudioClassification(Wav2SmallConfig(task=task, **labels))
    return model.eval(), Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_fp32_and_int8_match_pytorch(family, tiny_ser_model, emodb_clips, tmp_path):
    model, extractor = build(family, tiny_ser_model)
    quantized_path = to_onnx(model, tmp_path, quantize="int8", feature_extractor=extractor)
    assert quantized_path.name == "model_quantized.onnx"
    assert {"model.onnx", "model_quantized.onnx", "config.json", "preprocessor_config.json"} <= {
        path.name for path in tmp_path.iterdir()
    }
    assert not model.training  # export leaves the model in eval mode

    inputs = extractor(
        emodb_clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    with torch.no_grad():
        reference = model(**inputs)
    fp32 = OnnxSERModel.from_pretrained(tmp_path, quantized=False)
    output = fp32(**inputs)
    assert isinstance(output, SERModelOutput)
    assert (output.logits - reference.logits).abs().max() <= 1e-4
    if reference.regression is not None:
        assert (output.regression - reference.regression).abs().max() <= 1e-4

    int8 = OnnxSERModel.from_pretrained(tmp_path, quantized=True)
    quantized = int8(**inputs)
    if model.config.task != "regression":
        assert torch.equal(quantized.logits.argmax(-1), reference.logits.argmax(-1))
    if reference.regression is not None:
        assert (quantized.regression - reference.regression).abs().max() <= 0.02
    assert quantized_path.stat().st_size < (tmp_path / "model.onnx").stat().st_size


@pytest.mark.parametrize("family", ["lstm_sa", "wav2small_regression"])
def test_dynamic_batch_and_time_axes(family, tiny_ser_model, emodb_clips, tmp_path):
    model, extractor = build(family, tiny_ser_model)
    to_onnx(model, tmp_path, feature_extractor=extractor)
    runner = OnnxSERModel.from_pretrained(tmp_path)
    long_clip = np.concatenate(emodb_clips)  # longer than anything seen at export time
    for clips in ([emodb_clips[2]], [long_clip, emodb_clips[0], emodb_clips[1]]):
        inputs = extractor(
            clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
        )
        with torch.no_grad():
            expected = model(**inputs)
        output = runner.predict(clips)
        assert torch.allclose(output.logits, expected.logits, atol=1e-4, rtol=0)
        if model.config.task == "regression":  # regression values come back in both fields, as in torch
            assert output.regression is output.logits
            assert output.logits.shape == (len(clips), 3)


def test_export_from_checkpoint_directory(tiny_checkpoint_dir, emodb_clips, tmp_path):
    onnx_path = to_onnx(tiny_checkpoint_dir, tmp_path / "onnx")
    assert onnx_path.name == "model.onnx"
    runner = OnnxSERModel.from_pretrained(onnx_path.parent)
    assert json.loads((onnx_path.parent / "config.json").read_text())["model_type"] == "hf_ser"
    assert runner.id2label == {0: "anger", 1: "happiness", 2: "neutral", 3: "sadness"}
    assert runner.predict(emodb_clips).logits.shape == (4, 4)
    assert runner.predict(emodb_clips).regression is None


def test_default_feature_extractor_for_model_objects(tmp_path):
    torch.manual_seed(0)
    model = LSTMSAForAudioClassification(LSTMSAConfig(hidden_size=16, num_labels=3))
    to_onnx(model, tmp_path)
    assert isinstance(OnnxSERModel.from_pretrained(tmp_path).feature_extractor, MfccChromaFeatureExtractor)


def test_errors(tmp_path):
    model = LSTMSAForAudioClassification(LSTMSAConfig(hidden_size=16, num_labels=3))
    with pytest.raises(ValueError, match="'int4'.*None, int8"):
        to_onnx(model, tmp_path, quantize="int4")
    with pytest.raises(FileNotFoundError, match="model.onnx"):
        OnnxSERModel.from_pretrained(tmp_path)
