"""Tests of hf_ser.convert_checkpoint against reference forwards of the original layouts."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from transformers import (
    HubertForSequenceClassification,
    Wav2Vec2ForSequenceClassification,
    Wav2Vec2Model,
    WavLMForSequenceClassification,
)

from hf_ser import SERModelForAudioClassification, convert_checkpoint

ADV = {0: "arousal", 1: "dominance", 2: "valence"}
SEQUENCE_CLASSIFIERS = {
    "wav2vec2": Wav2Vec2ForSequenceClassification,
    "hubert": HubertForSequenceClassification,
    "wavlm": WavLMForSequenceClassification,
}


class AudeeringReference(nn.Module):
    """The published audEERING model: wav2vec2 -> mean over ALL frames -> dense -> tanh -> out_proj."""

    def __init__(self, config):
        super().__init__()
        self.wav2vec2 = Wav2Vec2Model(config)
        self.classifier = nn.Module()
        self.classifier.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.classifier.out_proj = nn.Linear(config.hidden_size, config.num_labels)
        self.dropout = nn.Dropout(config.final_dropout)

    def forward(self, input_values, attention_mask=None):
        hidden = self.wav2vec2(input_values, attention_mask=attention_mask)[0]
        pooled = torch.mean(hidden, dim=1)
        x = self.dropout(torch.tanh(self.classifier.dense(self.dropout(pooled))))
        return self.classifier.out_proj(x)


def save_audeering(config, directory, seed=0):
    torch.manual_seed(seed)
    reference = AudeeringReference(config).eval()
    config.architectures = ["Wav2Vec2ForSpeechClassification"]
    config.save_pretrained(directory)
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    save_file(state, str(directory / "model.safetensors"))
    return reference


def inputs_for(feature_extractor, clips):
    return feature_extractor(
        clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )


def test_audeering_adv_layout_matches_original(
    tiny_backbone_config, feature_extractor, emodb_clips, tmp_path
):
    config = tiny_backbone_config("wav2vec2", id2label=ADV)
    reference = save_audeering(config, tmp_path)
    model = convert_checkpoint(tmp_path)
    assert model.config.task == "regression"
    assert model.config.regression_targets == ["arousal", "dominance", "valence"]
    assert model.config.mask_pooling is False
    assert model.config.projector_size == 32
    assert model.config.head_activation == "tanh"
    inputs = inputs_for(feature_extractor, emodb_clips[:3])
    with torch.no_grad():
        expected = reference(**inputs)
        converted = model(**inputs)
    # Exact reproduction, padded batch included (the original averages padding frames too).
    torch.testing.assert_close(converted.logits, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(converted.regression, expected, atol=1e-5, rtol=0)


def test_audeering_masked_variant_is_batch_invariant(
    tiny_backbone_config, feature_extractor, emodb_clips, tmp_path
):
    reference = save_audeering(tiny_backbone_config("wav2vec2", id2label=ADV), tmp_path)
    model = convert_checkpoint(tmp_path, exact=False)
    assert model.config.mask_pooling is True
    with torch.no_grad():
        batched = model(**inputs_for(feature_extractor, emodb_clips[:2])).logits
        alone = model(**inputs_for(feature_extractor, emodb_clips[:1])).logits
        original_alone = reference(**inputs_for(feature_extractor, emodb_clips[:1]))
    torch.testing.assert_close(batched[0], alone[0], atol=1e-5, rtol=0)
    # Unpadded clips give the original's values either way.
    torch.testing.assert_close(alone, original_alone, atol=1e-5, rtol=0)


def test_audeering_categorical_layout_becomes_classifier(tiny_backbone_config, emodb_clips, tmp_path):
    labels = {0: "angry", 1: "calm", 2: "happy", 3: "sad"}
    reference = save_audeering(tiny_backbone_config("wav2vec2", id2label=labels), tmp_path, seed=3)
    model = convert_checkpoint(tmp_path)
    assert model.config.task == "classification"
    assert model.config.id2label == labels
    audio = torch.from_numpy(emodb_clips[0]).unsqueeze(0)
    with torch.no_grad():
        torch.testing.assert_close(model(audio).logits, reference(audio), atol=1e-5, rtol=0)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("model_type", ["wav2vec2", "hubert", "wavlm"])
def test_sequence_classification_layouts_match(
    tiny_backbone_config, feature_extractor, emodb_clips, tmp_path, model_type, weighted
):
    labels = {0: "anger", 1: "happiness", 2: "neutral", 3: "sadness"}
    config = tiny_backbone_config(
        model_type, id2label=labels, classifier_proj_size=16, use_weighted_layer_sum=weighted
    )
    torch.manual_seed(4)
    original = SEQUENCE_CLASSIFIERS[model_type](config).eval()
    if weighted:
        with torch.no_grad():
            original.layer_weights.copy_(torch.tensor([0.5, -1.0, 2.0]))
    original.save_pretrained(tmp_path)
    model = convert_checkpoint(tmp_path)
    assert model.config.layer_weighting == ("weighted" if weighted else "last")
    assert model.config.id2label == labels
    assert model.config.head_activation == "identity"
    inputs = inputs_for(feature_extractor, emodb_clips[:3])
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).logits, original(**inputs).logits, atol=1e-5, rtol=0)


def test_sequence_classification_regression_problem_type(tiny_backbone_config, emodb_clips, tmp_path):
    config = tiny_backbone_config("wav2vec2", id2label={0: "valence"}, problem_type="regression")
    torch.manual_seed(5)
    original = Wav2Vec2ForSequenceClassification(config).eval()
    original.save_pretrained(tmp_path)
    model = convert_checkpoint(tmp_path)
    assert model.config.task == "regression"
    assert model.config.regression_targets == ["valence"]
    audio = torch.from_numpy(emodb_clips[1]).unsqueeze(0)
    with torch.no_grad():
        torch.testing.assert_close(model(audio).logits, original(audio).logits, atol=1e-5, rtol=0)


def test_converted_model_saves_as_hf_ser(tiny_backbone_config, emodb_clips, tmp_path):
    reference = save_audeering(tiny_backbone_config("wav2vec2", id2label=ADV), tmp_path / "original")
    convert_checkpoint(tmp_path / "original").save_pretrained(tmp_path / "converted")
    saved = json.loads((tmp_path / "converted" / "config.json").read_text())
    assert saved["model_type"] == "hf_ser"
    assert saved["mask_pooling"] is False
    reloaded = SERModelForAudioClassification.from_pretrained(tmp_path / "converted").eval()
    audio = torch.from_numpy(emodb_clips[2]).unsqueeze(0)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(audio).logits, reference(audio), atol=1e-5, rtol=0)


def test_convert_errors(tiny_backbone_config, tmp_path):
    config = tiny_backbone_config("wav2vec2", id2label=ADV, architectures=["Wav2Vec2ForSpeechClassification"])
    config.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"No \*\.safetensors weights.*only reads safetensors"):
        convert_checkpoint(tmp_path)
    Wav2Vec2Model(tiny_backbone_config("wav2vec2")).save_pretrained(tmp_path / "bare")
    with pytest.raises(
        ValueError, match=r"Unrecognised checkpoint layout.*Wav2Vec2ForSequenceClassification"
    ):
        convert_checkpoint(tmp_path / "bare")
