"""Tests of SERConfig, SERModelForAudioClassification, its heads, layer mix, losses and freezing."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import HubertForSequenceClassification, Wav2Vec2ForCTC, Wav2Vec2Model

from hf_ser import SERConfig, SERModelForAudioClassification, SERModelOutput
from hf_ser.models.heads import SERHead
from hf_ser.models.layer_mix import LayerMix
from hf_ser.models.losses import (
    ccc_loss,
    classification_loss,
    concordance_correlation,
    ctc_loss,
    focal_loss,
    multitask_loss,
    regression_loss,
)
from hf_ser.models.pooling import POOLING_TYPES

TASKS = ("classification", "regression", "multitask")


def batch(feature_extractor, clips):
    return feature_extractor(
        clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )


# --------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------
def test_config_defaults_and_nested_backbone(tiny_wav2vec2_config):
    config = SERConfig(backbone_config=tiny_wav2vec2_config, id2label={0: "anger", 1: "neutral"})
    assert config.model_type == "hf_ser"
    assert config.backbone_config.model_type == "wav2vec2"
    assert config.hidden_size == 32
    assert config.regression_targets == ["arousal", "dominance", "valence"]
    assert config.num_regression_targets == 0
    assert config.problem_type == "single_label_classification"
    assert config.label2id == {"anger": 0, "neutral": 1}


def test_config_json_round_trip(tiny_backbone_config, tmp_path):
    config = SERConfig(
        backbone_config=tiny_backbone_config("wavlm"),
        task="multitask",
        id2label={0: "a", 1: "b", 2: "c"},
        pooling="multihead_attention",
        layer_weighting="weighted",
        classification_loss="focal",
        class_weights=[1.0, 2.0, 0.5],
        regression_loss="ccc+mse",
        projector_size=None,
    )
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["backbone_config"]["model_type"] == "wavlm"
    loaded = SERConfig.from_pretrained(tmp_path)
    assert type(loaded.backbone_config).__name__ == "WavLMConfig"
    assert loaded.backbone_config.hidden_size == 32
    for key in ("task", "pooling", "layer_weighting", "class_weights", "regression_loss", "projector_size"):
        assert getattr(loaded, key) == getattr(config, key), key
    assert loaded.id2label == {0: "a", 1: "b", 2: "c"}


def test_default_two_label_map_survives_save_load(tiny_wav2vec2_config, tmp_path):
    # transformers omits the default {0: LABEL_0, 1: LABEL_1} map from config.json; SERConfig keeps it.
    SERConfig(backbone_config=tiny_wav2vec2_config, num_labels=2).save_pretrained(tmp_path)
    assert SERConfig.from_pretrained(tmp_path).id2label == {0: "LABEL_0", 1: "LABEL_1"}


def test_config_accepts_backbone_dict(tiny_wav2vec2_config):
    config = SERConfig(backbone_config=tiny_wav2vec2_config.to_dict(), num_labels=3)
    assert config.backbone_config.hidden_size == 32
    assert config.num_labels == 3


def test_regression_task_labels_are_targets(tiny_wav2vec2_config):
    config = SERConfig(
        backbone_config=tiny_wav2vec2_config, task="regression", regression_targets=["valence"]
    )
    assert config.id2label == {0: "valence"}
    assert config.problem_type == "regression"
    assert config.num_regression_targets == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pooling": "max", "num_labels": 2}, r"Unknown pooling 'max'; choose one of mean, attentive_stats"),
        ({"task": "ranking", "num_labels": 2}, r"Unknown task 'ranking'; choose one of classification"),
        ({"task": "classification"}, r"task='classification' needs class labels"),
        ({"task": "multitask"}, r"task='multitask' needs class labels"),
        ({"task": "regression", "regression_targets": []}, r"needs at least one name in regression_targets"),
        ({"task": "multitask", "num_labels": 2, "regression_targets": []}, r"regression_targets"),
        ({"classification_loss": "hinge", "num_labels": 2}, r"Unknown classification_loss 'hinge'.*focal"),
        ({"task": "regression", "regression_loss": "l1"}, r"Unknown regression_loss 'l1'.*ccc\+mse"),
        ({"classification_loss": "weighted_ce", "num_labels": 2}, r"needs class_weights"),
        ({"class_weights": [1.0], "num_labels": 2}, r"class_weights has 1 values but there are 2 classes"),
        ({"layer_weighting": "first", "num_labels": 2}, r"Unknown layer_weighting 'first'"),
        ({"head_activation": "swish", "num_labels": 2}, r"Unknown head_activation 'swish'"),
        ({"seq2seq": "lstm", "num_labels": 2}, r"Unknown seq2seq mechanism 'lstm'.*softmax"),
        ({"seq2seq": "softmax", "seq2seq_heads": 5, "num_labels": 2}, r"seq2seq_heads \(5\) must divide"),
        ({"multitask_weight": 1.5, "num_labels": 2}, r"multitask_weight must be in \[0, 1\]"),
        ({"classifier_dropout": 1.0, "num_labels": 2}, r"classifier_dropout"),
        ({"num_labels": 1}, r"at least 2 classes"),
    ],
)
def test_config_errors(tiny_wav2vec2_config, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SERConfig(backbone_config=tiny_wav2vec2_config, **kwargs)


def test_config_rejects_unsupported_backbone():
    with pytest.raises(
        ValueError, match=r"Unknown backbone model_type 'bert'; choose one of wav2vec2, hubert"
    ):
        SERConfig(backbone_config={"model_type": "bert"}, num_labels=2)


# --------------------------------------------------------------------------------------------------
# Forward, padding invariance
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("pooling", POOLING_TYPES)
def test_padded_batch_equals_single_clip(tiny_ser_model, feature_extractor, emodb_clips, pooling, task):
    model = tiny_ser_model(task=task, pooling=pooling, layer_weighting="weighted")
    clips = emodb_clips[:3]
    with torch.no_grad():
        batched = model(**batch(feature_extractor, clips))
        for index, clip in enumerate(clips):
            alone = model(**batch(feature_extractor, [clip]))
            for field in ("logits", "regression", "pooled"):
                if getattr(alone, field) is None:
                    assert getattr(batched, field) is None
                    continue
                torch.testing.assert_close(
                    getattr(batched, field)[index], getattr(alone, field)[0], atol=1e-5, rtol=0
                )
            if alone.frame_weights is not None:
                frames = alone.frame_weights.shape[1]
                torch.testing.assert_close(
                    batched.frame_weights[index, :frames], alone.frame_weights[0], atol=1e-5, rtol=0
                )
                assert torch.all(batched.frame_weights[index, frames:] == 0)


@pytest.mark.parametrize("model_type", ["hubert", "wavlm"])
def test_padding_invariance_other_backbones(tiny_ser_model, feature_extractor, emodb_clips, model_type):
    model = tiny_ser_model(model_type=model_type, pooling="attentive_stats", task="multitask")
    with torch.no_grad():
        batched = model(**batch(feature_extractor, emodb_clips[:2]))
        alone = model(**batch(feature_extractor, emodb_clips[1:2]))
    torch.testing.assert_close(batched.logits[1], alone.logits[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(batched.regression[1], alone.regression[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("mechanism", ["softmax", "retention"])
def test_seq2seq_encoder_wired_padding_invariant_and_saved(
    tiny_ser_model, feature_extractor, emodb_clips, mechanism, tmp_path
):
    model = tiny_ser_model(pooling="soft_attention", seq2seq=mechanism, seq2seq_layers=1, seq2seq_heads=2)
    assert model.seq2seq is not None
    assert model.seq2seq.mechanism == mechanism
    inputs = batch(feature_extractor, emodb_clips[:2])
    with torch.no_grad():
        batched = model(**inputs)
        alone = model(**batch(feature_extractor, emodb_clips[:1]))
    torch.testing.assert_close(batched.logits[0], alone.logits[0], atol=1e-5, rtol=0)
    model.save_pretrained(tmp_path)
    with torch.no_grad():
        reloaded = SERModelForAudioClassification.from_pretrained(tmp_path).eval()(**inputs)
    torch.testing.assert_close(reloaded.logits, batched.logits, atol=0, rtol=0)
    assert tiny_ser_model(pooling="mean").seq2seq is None


def test_output_fields_and_shapes(tiny_ser_model, feature_extractor, emodb_clips):
    model = tiny_ser_model(task="multitask", pooling="multihead_attention", pooling_heads=3)
    inputs = batch(feature_extractor, emodb_clips[:2])
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
    assert isinstance(out, SERModelOutput)
    assert out.logits.shape == (2, 4)
    assert out.regression.shape == (2, 3)
    assert out.pooled.shape == (2, 3 * 32)
    assert out.frame_weights.shape[::2] == (2, 3)
    assert len(out.hidden_states) == 3
    real = out.frame_weights[0].sum(dim=0)
    torch.testing.assert_close(real, torch.ones(3))
    as_tuple = model(**inputs, return_dict=False)
    assert isinstance(as_tuple, tuple)


def test_regression_logits_are_values_and_mean_has_no_weights(tiny_ser_model, feature_extractor, emodb_clips):
    model = tiny_ser_model(task="regression", pooling="mean")
    with torch.no_grad():
        out = model(**batch(feature_extractor, emodb_clips[:2]))
    assert out.frame_weights is None
    assert torch.equal(out.logits, out.regression)
    assert out.logits.shape == (2, 3)
    assert model.classifier is None


def test_output_attentions_with_eager_backbone(tiny_ser_model, feature_extractor, emodb_clips):
    model = tiny_ser_model(pooling="mean")
    model.set_attn_implementation("eager")
    with torch.no_grad():
        out = model(**batch(feature_extractor, emodb_clips[:1]), output_attentions=True)
    assert len(out.attentions) == 2
    assert out.attentions[0].shape[1] == 2


def test_projector_size_none_gives_linear_head(tiny_ser_model):
    model = tiny_ser_model(projector_size=None, pooling="attentive_stats")
    assert model.classifier.dense is None
    assert model.classifier.out_proj.in_features == 64
    wide = tiny_ser_model(projector_size=24)
    assert wide.classifier.dense.out_features == 24


# --------------------------------------------------------------------------------------------------
# Losses through the model
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["ce", "weighted_ce", "focal"])
def test_classification_losses_backpropagate(tiny_ser_model, feature_extractor, emodb_clips, loss):
    model = tiny_ser_model(classification_loss=loss, class_weights=[1.0, 2.0, 1.0, 0.5]).train()
    out = model(**batch(feature_extractor, emodb_clips), labels=torch.tensor([0, 2, 3, 1]))
    assert out.loss.ndim == 0
    assert torch.isfinite(out.loss)
    out.loss.backward()
    assert model.classifier.out_proj.weight.grad is not None
    assert model.pooling.scorer.context.weight.grad is not None


@pytest.mark.parametrize("loss", ["ccc", "mse", "ccc+mse"])
def test_regression_losses(tiny_ser_model, feature_extractor, emodb_clips, loss):
    model = tiny_ser_model(task="regression", regression_loss=loss, pooling="mean")
    inputs = batch(feature_extractor, emodb_clips)
    targets = torch.rand(4, 3)
    out = model(**inputs, regression_labels=targets)
    expected = regression_loss(loss, out.regression, targets)
    torch.testing.assert_close(out.loss, expected)
    # Trainer passes float `labels` for regression: routed to the regression loss.
    torch.testing.assert_close(model(**inputs, labels=targets).loss, expected)


def test_multitask_loss_weighting(tiny_ser_model, feature_extractor, emodb_clips):
    model = tiny_ser_model(task="multitask", multitask_weight=0.25, pooling="mean")
    inputs = batch(feature_extractor, emodb_clips)
    labels, targets = torch.tensor([0, 1, 2, 3]), torch.rand(4, 3)
    out = model(**inputs, labels=labels, regression_labels=targets)
    expected = 0.75 * classification_loss("ce", out.logits, labels) + 0.25 * regression_loss(
        "ccc", out.regression, targets
    )
    torch.testing.assert_close(out.loss, expected)


def test_trainer_sees_all_label_names_and_scales_loss_itself():
    from transformers.utils import find_labels

    assert find_labels(SERModelForAudioClassification) == ["labels", "regression_labels", "ctc_labels"]
    assert SERModelForAudioClassification.accepts_loss_kwargs is False


def test_label_errors(tiny_ser_model, feature_extractor, emodb_clips):
    inputs = batch(feature_extractor, emodb_clips[:2])
    with pytest.raises(ValueError, match="no regression head"):
        tiny_ser_model(pooling="mean")(**inputs, regression_labels=torch.rand(2, 3))
    with pytest.raises(ValueError, match="expects float regression_labels"):
        tiny_ser_model(task="regression", pooling="mean")(**inputs, labels=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"regression_labels must have shape \(2, 3\)"):
        tiny_ser_model(task="regression", pooling="mean")(**inputs, regression_labels=torch.rand(2, 2))


def test_ccc_properties():
    x = torch.tensor([0.1, 0.4, 0.3, 0.9])
    torch.testing.assert_close(concordance_correlation(x, x), torch.tensor(1.0))
    centred = x - x.mean()
    torch.testing.assert_close(concordance_correlation(centred, -centred), torch.tensor(-1.0))
    # CCC penalises a shift that Pearson correlation ignores.
    assert concordance_correlation(x, x + 1.0) < 0.5
    predictions = torch.stack([x, x], dim=1)
    targets = torch.stack([x, torch.tensor([float("nan"), 0.4, 0.3, 0.9])], dim=1)
    torch.testing.assert_close(ccc_loss(predictions, targets), torch.tensor(0.0), atol=1e-6, rtol=0)


def test_focal_loss_reduces_to_ce_and_focuses():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3], [0.0, 3.0, 0.0]])
    labels = torch.tensor([0, 2, 1])
    torch.testing.assert_close(
        focal_loss(logits, labels, gamma=0.0), classification_loss("ce", logits, labels)
    )
    assert focal_loss(logits, labels, gamma=2.0) < classification_loss("ce", logits, labels)
    ignored = torch.tensor([0, -100, 1])
    torch.testing.assert_close(
        focal_loss(logits, ignored, gamma=0.0), classification_loss("ce", logits[[0, 2]], labels[[0, 2]])
    )


def test_loss_function_errors():
    logits, labels = torch.zeros(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match="Unknown classification_loss 'svm'"):
        classification_loss("svm", logits, labels)
    with pytest.raises(ValueError, match="Unknown regression_loss 'huber'"):
        regression_loss("huber", logits, logits)
    assert multitask_loss(None, None, 0.5) is None
    torch.testing.assert_close(multitask_loss(torch.tensor(2.0), None, 0.5), torch.tensor(1.0))


# --------------------------------------------------------------------------------------------------
# Layer mix and heads
# --------------------------------------------------------------------------------------------------
def test_layer_mix_weighted_sum():
    mix = LayerMix("weighted", num_layers=3)
    states = [torch.full((1, 2, 4), float(value)) for value in (1.0, 2.0, 6.0)]
    torch.testing.assert_close(mix(states[-1], states), torch.full((1, 2, 4), 3.0))
    with torch.no_grad():
        mix.layer_weights.copy_(torch.tensor([0.0, 0.0, 50.0]))
    torch.testing.assert_close(mix(states[-1], states), torch.full((1, 2, 4), 6.0))
    assert LayerMix("last", 3)(states[0], None) is states[0]
    with pytest.raises(ValueError, match="expects 3 hidden states, got 2"):
        mix(states[-1], states[:2])
    with pytest.raises(ValueError, match="Unknown layer_weighting 'sum'"):
        LayerMix("sum", 3)


def test_layer_mix_initialised_uniform_in_model(tiny_ser_model):
    weights = tiny_ser_model(layer_weighting="weighted").layer_mix.normalized_weights()
    torch.testing.assert_close(weights, torch.full((3,), 1 / 3))


def test_head_shape_and_activation_error():
    head = SERHead(8, 3, projector_size=5, activation="gelu", dropout=0.0)
    assert head(torch.randn(2, 8)).shape == (2, 3)
    with pytest.raises(ValueError, match="Unknown head_activation 'elu'"):
        SERHead(8, 3, activation="elu")


# --------------------------------------------------------------------------------------------------
# Freezing, save / load, from_backbone
# --------------------------------------------------------------------------------------------------
def trainable(module):
    return [p.requires_grad for p in module.parameters()]


def test_freezing_options(tiny_ser_model):
    default = tiny_ser_model()
    assert not any(trainable(default.backbone.feature_extractor))
    assert all(trainable(default.backbone.encoder))
    everything = tiny_ser_model(freeze_feature_encoder=False)
    assert all(trainable(everything.backbone))
    frozen = tiny_ser_model(freeze_backbone=True, layer_weighting="weighted")
    assert not any(trainable(frozen.backbone))
    assert all(trainable(frozen.classifier))
    assert all(trainable(frozen.pooling))
    assert all(trainable(frozen.layer_mix))
    frozen.train()
    assert frozen.training
    assert frozen.pooling.training
    assert not frozen.backbone.training
    frozen.unfreeze_backbone()
    assert all(trainable(frozen.backbone.encoder))
    assert not any(trainable(frozen.backbone.feature_extractor))
    assert frozen.backbone.training
    assert not frozen.config.freeze_backbone


def test_freezing_methods_are_saved(tiny_ser_model, tmp_path):
    model = tiny_ser_model(freeze_feature_encoder=False)
    model.freeze_backbone()
    model.save_pretrained(tmp_path)
    reloaded = SERModelForAudioClassification.from_pretrained(tmp_path)
    assert reloaded.config.freeze_backbone
    assert not any(trainable(reloaded.backbone))


def test_save_and_load_identical(tiny_ser_model, feature_extractor, emodb_clips, tmp_path):
    model = tiny_ser_model(task="multitask", pooling="attentive_stats", layer_weighting="weighted")
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert not list(tmp_path.glob("*.bin"))
    loaded = SERModelForAudioClassification.from_pretrained(tmp_path).eval()
    inputs = batch(feature_extractor, emodb_clips[:2])
    with torch.no_grad():
        expected, actual = model(**inputs), loaded(**inputs)
    torch.testing.assert_close(actual.logits, expected.logits, atol=0, rtol=0)
    torch.testing.assert_close(actual.regression, expected.regression, atol=0, rtol=0)
    # Freezing is part of the config and survives loading.
    assert not any(trainable(loaded.backbone.feature_extractor))


def test_from_backbone_loads_pretrained_weights(tiny_wav2vec2_config, tmp_path):
    torch.manual_seed(1)
    pretrained = Wav2Vec2ForCTC(
        tiny_wav2vec2_config
    )  # saved with the `wav2vec2.` prefix, like hub checkpoints
    pretrained.save_pretrained(tmp_path)
    model = SERModelForAudioClassification.from_backbone(
        tmp_path, pooling="soft_attention", task="regression", backbone_config_kwargs={"layerdrop": 0.05}
    )
    reference = pretrained.wav2vec2.state_dict()
    for name, tensor in model.backbone.state_dict().items():
        torch.testing.assert_close(tensor, reference[name], atol=0, rtol=0, msg=name)
    assert model.config.backbone_config.layerdrop == 0.05
    assert model.config.pooling == "soft_attention"
    assert not any(trainable(model.backbone.feature_extractor))


def test_from_backbone_hubert_head_checkpoint(tiny_backbone_config, tmp_path):
    torch.manual_seed(2)
    HubertForSequenceClassification(tiny_backbone_config("hubert")).save_pretrained(tmp_path)
    model = SERModelForAudioClassification.from_backbone(tmp_path, id2label={0: "x", 1: "y"})
    assert model.config.backbone_config.model_type == "hubert"
    audio = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3200)).astype(np.float32))
    assert model.eval()(audio).logits.shape == (1, 2)


def test_from_pretrained_on_bare_backbone_points_to_from_backbone(tiny_wav2vec2_config, tmp_path):
    Wav2Vec2Model(tiny_wav2vec2_config).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"bare wav2vec2 checkpoint.*from_backbone"):
        SERModelForAudioClassification.from_pretrained(tmp_path)


# --------------------------------------------------------------------------------------------------
# Multitask emotion + CTC head (Cai et al., 2021)
# --------------------------------------------------------------------------------------------------
CTC_VOCAB = ["<blank>", "<unk>", "a", "e", "n", "|"]
CTC_LABELS = torch.tensor([[4, 3, 5, 2], [2, 4, -100, -100], [3, -100, -100, -100]])


def frame_lengths(model, inputs):
    return model.backbone._get_feat_extract_output_lengths(inputs["attention_mask"].sum(-1))


def test_ctc_config_round_trip_and_default_off(tiny_wav2vec2_config, tmp_path):
    config = SERConfig(backbone_config=tiny_wav2vec2_config, num_labels=2, ctc_vocab=CTC_VOCAB, ctc_alpha=0.3)
    assert config.ctc_vocab_size == len(CTC_VOCAB)
    assert config.has_ctc_head
    config.save_pretrained(tmp_path)
    loaded = SERConfig.from_pretrained(tmp_path)
    assert loaded.ctc_vocab == CTC_VOCAB
    assert loaded.ctc_vocab_size == 6
    assert loaded.ctc_alpha == 0.3
    plain = SERConfig(backbone_config=tiny_wav2vec2_config, num_labels=2)
    assert plain.ctc_vocab_size is None
    assert not plain.has_ctc_head
    assert plain.ctc_alpha == 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ctc_vocab_size": 1}, r"ctc_vocab_size must be None \(no CTC head\) or >= 2"),
        ({"ctc_vocab": ["<blank>", "a", "a"]}, r"ctc_vocab tokens must be unique; repeated: \['a'\]"),
        ({"ctc_vocab": ["<blank>", ""]}, r"ctc_vocab must be a list of non-empty strings"),
        ({"ctc_vocab": ["<blank>", "a", "b"], "ctc_vocab_size": 4}, r"ctc_vocab_size=4 but ctc_vocab has 3"),
        ({"ctc_vocab_size": 3, "ctc_blank_id": 3}, r"ctc_blank_id must be in \[0, 3\)"),
        ({"ctc_vocab_size": 3, "ctc_alpha": -0.5}, r"ctc_alpha must be >= 0, got -0.5"),
    ],
)
def test_ctc_config_errors(tiny_wav2vec2_config, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SERConfig(backbone_config=tiny_wav2vec2_config, num_labels=2, **kwargs)


def test_ctc_loss_matches_torch_mean_and_skips_rows_without_text():
    torch.manual_seed(0)
    logits, lengths = torch.randn(3, 12, 6), torch.tensor([12, 9, 7])
    labels = torch.tensor([[4, 3, 5, 2], [2, 4, -100, -100], [3, 3, -100, -100]])
    reference = torch.nn.functional.ctc_loss(
        logits.log_softmax(-1).transpose(0, 1), labels[labels >= 0], lengths, (labels >= 0).sum(-1)
    )
    torch.testing.assert_close(ctc_loss(logits, lengths, labels), reference)
    # A row with no transcript (all -100) adds nothing: same loss as the other rows alone.
    no_text = labels.clone()
    no_text[1] = -100
    torch.testing.assert_close(
        ctc_loss(logits, lengths, no_text), ctc_loss(logits[[0, 2]], lengths[[0, 2]], labels[[0, 2]])
    )
    assert ctc_loss(logits, lengths, torch.full((3, 2), -100)) == 0
    # More characters than frames: zero_infinity keeps the loss finite.
    assert torch.isfinite(ctc_loss(logits[:1, :2], torch.tensor([2]), labels[:1]))


def test_no_ctc_head_by_default(tiny_ser_model, feature_extractor, emodb_clips):
    model = tiny_ser_model(pooling="mean")
    inputs = batch(feature_extractor, emodb_clips[:2])
    with torch.no_grad():
        assert model.ctc_head is None
        assert model(**inputs).ctc_logits is None
    with pytest.raises(ValueError, match="ctc_labels were given but the model has no CTC head"):
        model(**inputs, ctc_labels=CTC_LABELS[:2])


def test_ctc_loss_added_with_alpha_and_gradients_flow(tiny_ser_model, feature_extractor, emodb_clips):
    model = tiny_ser_model(pooling="attentive_stats", layer_weighting="weighted", ctc_vocab=CTC_VOCAB,
                           ctc_alpha=0.25)  # fmt: skip
    inputs = batch(feature_extractor, emodb_clips[:3])
    labels = torch.tensor([0, 1, 2])
    out = model(**inputs, labels=labels, ctc_labels=CTC_LABELS)
    assert out.ctc_logits.shape == (3, out.ctc_logits.shape[1], len(CTC_VOCAB))
    assert torch.isfinite(out.loss)
    expected = classification_loss("ce", out.logits, labels) + 0.25 * ctc_loss(
        out.ctc_logits, frame_lengths(model, inputs), CTC_LABELS
    )
    torch.testing.assert_close(out.loss, expected)
    # CTC alone trains the head and the shared transformer, not the emotion path (layer mix, pooling).
    ctc_only = model(**inputs, ctc_labels=CTC_LABELS).loss
    ctc_only.backward()
    assert model.ctc_head.proj.weight.grad.abs().sum() > 0
    assert model.backbone.encoder.layers[0].attention.q_proj.weight.grad.abs().sum() > 0
    assert model.layer_mix.layer_weights.grad is None
    assert model.classifier.out_proj.weight.grad is None
    model.zero_grad()
    out.loss.backward()
    assert model.layer_mix.layer_weights.grad.abs().sum() > 0
    assert model.ctc_head.proj.bias.grad.abs().sum() > 0


def test_ctc_label_errors(tiny_ser_model, feature_extractor, emodb_clips):
    model = tiny_ser_model(pooling="mean", ctc_vocab=CTC_VOCAB)
    inputs = batch(feature_extractor, emodb_clips[:2])
    with pytest.raises(ValueError, match=r"character ids in \[0, 6\) other than the blank \(0\).*\[2, 6\]"):
        model(**inputs, ctc_labels=torch.tensor([[2, 6], [-100, -100]]))
    with pytest.raises(ValueError, match=r"other than the blank"):
        model(**inputs, ctc_labels=torch.tensor([[0, 2], [2, -100]]))
    with pytest.raises(ValueError, match=r"shape \(batch=2, characters\)"):
        model(**inputs, ctc_labels=torch.tensor([2, 3]))


def test_ctc_logits_padding_invariant_on_real_frames(tiny_ser_model, feature_extractor, emodb_clips):
    model = tiny_ser_model(pooling="soft_attention", ctc_vocab=CTC_VOCAB)
    clips = emodb_clips[:3]
    inputs = batch(feature_extractor, clips)
    with torch.no_grad():
        batched = model(**inputs, ctc_labels=CTC_LABELS)
        lengths = frame_lengths(model, inputs)
        for index, clip in enumerate(clips):
            alone = model(**batch(feature_extractor, [clip]))
            assert alone.ctc_logits.shape[1] == lengths[index]
            torch.testing.assert_close(
                batched.ctc_logits[index, : lengths[index]], alone.ctc_logits[0], atol=1e-5, rtol=0
            )
        # The CTC term ignores padded frames: a clip's loss is the same batched or alone.
        first = model(**batch(feature_extractor, clips[:1]), ctc_labels=CTC_LABELS[:1]).loss
        with_padding = model(**inputs, ctc_labels=torch.cat([CTC_LABELS[:1], torch.full((2, 4), -100)])).loss
    torch.testing.assert_close(with_padding, first, atol=1e-5, rtol=0)


def test_ctc_head_saved_and_loaded_without_warning(tiny_ser_model, feature_extractor, emodb_clips, tmp_path):
    from transformers.utils import logging

    # Other tests (e.g. the CLI run in-process) may have silenced transformers; this test reads its warnings.
    previous_verbosity = logging.get_verbosity()
    logging.set_verbosity_warning()
    try:
        _check_ctc_head_round_trip(tiny_ser_model, feature_extractor, emodb_clips, tmp_path)
    finally:
        logging.set_verbosity(previous_verbosity)


def _check_ctc_head_round_trip(tiny_ser_model, feature_extractor, emodb_clips, tmp_path):
    from transformers import AutoModelForAudioClassification
    from transformers.testing_utils import CaptureLogger
    from transformers.utils import logging

    model = tiny_ser_model(task="multitask", pooling="attentive_stats", ctc_vocab=CTC_VOCAB, ctc_alpha=0.2)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["ctc_vocab"] == CTC_VOCAB
    with CaptureLogger(logging.get_logger("transformers")) as captured:
        loaded, info = SERModelForAudioClassification.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["unexpected_keys"]
    assert not info["missing_keys"]
    assert "UNEXPECTED" not in captured.out
    assert "MISSING" not in captured.out
    inputs = batch(feature_extractor, emodb_clips[:2])
    with torch.no_grad():
        expected = model(**inputs, labels=torch.tensor([0, 1]), ctc_labels=CTC_LABELS[:2])
        for reloaded in (loaded.eval(), AutoModelForAudioClassification.from_pretrained(tmp_path).eval()):
            actual = reloaded(**inputs, labels=torch.tensor([0, 1]), ctc_labels=CTC_LABELS[:2])
            for field in ("loss", "logits", "regression", "ctc_logits"):
                torch.testing.assert_close(getattr(actual, field), getattr(expected, field), atol=0, rtol=0)
    # The check above can fail: a model without the head reports the saved ctc_head weights.
    with CaptureLogger(logging.get_logger("transformers")) as captured:
        SERModelForAudioClassification.from_pretrained(
            tmp_path, config=SERConfig.from_pretrained(tmp_path, ctc_vocab=None, ctc_vocab_size=None)
        )
    assert "ctc_head.proj.weight" in captured.out
    assert "UNEXPECTED" in captured.out
