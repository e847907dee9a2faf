"""Tests of ``hf_ser.models.masked_feature_encoder``: group-norm backbones pad exactly, with stock weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_LABELS
from torch import nn

from hf_ser.models.masked_feature_encoder import (
    MaskedFeatureEncoder,
    conv_output_lengths,
    feature_encoder_mask,
    is_group_norm_encoder,
    masked_channel_norm,
    use_masked_feature_encoder,
)

# The layout asked for by the issue: two conv layers, 20x down-sampling, group norm in the first.
STOCK_KWARGS = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 37,
    "conv_dim": (16, 16),
    "conv_stride": (5, 4),
    "conv_kernel": (10, 8),
    "feat_extract_norm": "group",
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 2,
    "layerdrop": 0.0,
    "mask_time_prob": 0.0,
}


def test_masked_channel_norm_equals_group_norm_on_valid_steps():
    torch.manual_seed(0)
    norm = nn.GroupNorm(4, 4, affine=True)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    values = torch.randn(1, 4, 30)
    padded = torch.cat([values, torch.randn(1, 4, 9)], dim=-1)
    mask = torch.arange(39)[None] < 30
    out = masked_channel_norm(padded, mask, norm)
    torch.testing.assert_close(out[..., :30], norm(values), atol=1e-6, rtol=0)
    assert out[..., 30:].abs().max() == 0
    conv = nn.Conv1d(1, 1, kernel_size=10, stride=5)
    assert conv_output_lengths(torch.tensor([9, 10, 14, 15, 400]), conv).tolist() == [0, 1, 1, 2, 79]


def test_installed_only_for_group_norm_and_keeps_parameter_names(tiny_backbone_config):
    from transformers import Wav2Vec2Model

    from hf_ser.models.backbone import build_backbone

    group = tiny_backbone_config("wav2vec2", feat_extract_norm="group")
    stock = Wav2Vec2Model(group)
    ours = build_backbone(group)
    assert isinstance(ours.feature_extractor, MaskedFeatureEncoder)
    assert is_group_norm_encoder(stock.feature_extractor)
    assert list(ours.state_dict()) == list(stock.state_dict())
    assert use_masked_feature_encoder(ours) is ours  # idempotent
    layer = build_backbone(tiny_backbone_config("wav2vec2"))
    assert not isinstance(layer.feature_extractor, MaskedFeatureEncoder)
    ours.freeze_feature_encoder()
    assert not any(p.requires_grad for p in ours.feature_extractor.parameters())


def test_without_a_mask_it_is_the_stock_encoder(tiny_backbone_config):
    from transformers import HubertModel

    torch.manual_seed(0)
    stock = HubertModel(tiny_backbone_config("hubert", feat_extract_norm="group")).eval()
    ours = MaskedFeatureEncoder(stock.feature_extractor).eval()
    audio = torch.randn(2, 7000)
    with torch.no_grad():
        reference = stock.feature_extractor(audio)
        torch.testing.assert_close(ours(audio), reference, atol=0, rtol=0)
        with feature_encoder_mask(torch.ones(2, 7000, dtype=torch.long)):
            torch.testing.assert_close(ours(audio), reference, atol=1e-5, rtol=0)
        with feature_encoder_mask(torch.ones(3, 7000, dtype=torch.long)):  # not this input's mask
            torch.testing.assert_close(ours(audio), reference, atol=0, rtol=0)


@pytest.fixture(scope="module")
def stock_checkpoint(tiny_checkpoint):
    """A tiny group-norm ``Wav2Vec2ForSequenceClassification`` saved by transformers, whose feature
    extractor (like wav2vec2-base's) does not return an attention mask by default."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    config = Wav2Vec2Config(**STOCK_KWARGS, num_labels=4, id2label=dict(TINY_LABELS))
    model = Wav2Vec2ForSequenceClassification(config).eval()
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=False, do_normalize=False)
    return tiny_checkpoint("stock_group_norm", model=model, extractor=extractor), model


def test_stock_group_norm_checkpoint_alone_and_padded_in_a_batch(stock_checkpoint, emodb_clips):
    """hf_ser (converted, or loaded through the pipeline) = stock transformers on a clip alone (1e-5),
    and the clip padded in a batch of three = the clip alone (1e-5); stock transformers is not."""
    from transformers import Wav2Vec2FeatureExtractor

    import hf_ser

    directory, stock = stock_checkpoint
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=False)
    clips = emodb_clips[:3]
    alone = extractor(clips[0], sampling_rate=16000, return_tensors="pt")  # no mask: the stock usage
    batch = extractor(
        clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    assert batch["attention_mask"][0].sum() < batch["attention_mask"].shape[1]  # clip 0 is padded
    converted = hf_ser.convert_checkpoint(directory)
    with torch.no_grad():
        reference = stock(alone["input_values"]).logits[0]
        stock_batched = stock(**batch).logits[0]
        torch.testing.assert_close(converted(**alone).logits[0], reference, atol=1e-5, rtol=0)
        torch.testing.assert_close(converted(**batch).logits[0], reference, atol=1e-5, rtol=0)
    assert (stock_batched - reference).abs().max() > 1e-4  # what the masked encoder fixes

    classify = hf_ser.pipeline(str(directory), dtype="float32")
    assert not classify.backend.equal_length_batches
    probabilities = torch.softmax(reference, -1).numpy()
    for result in (classify(clips[0], sampling_rate=16000), classify(clips, sampling_rate=16000)[0]):
        scores = np.array([result["scores"][TINY_LABELS[i]] for i in range(4)])
        np.testing.assert_allclose(scores, probabilities, atol=1e-5, rtol=0)


def test_remote_code_copy_ships_the_masked_encoder(tiny_ser_model, tmp_path):
    model = tiny_ser_model(backbone_overrides={"feat_extract_norm": "group"})
    model.save_pretrained(tmp_path)
    assert (tmp_path / "masked_feature_encoder.py").is_file()


def test_onnx_export_of_a_group_norm_model_pads_exactly(
    tiny_ser_model, feature_extractor, tmp_path, emodb_clips
):
    pytest.importorskip("onnxruntime")
    import hf_ser
    from hf_ser.export import to_onnx

    model = tiny_ser_model(task="multitask", backbone_overrides={"feat_extract_norm": "group"})
    to_onnx(model, tmp_path, feature_extractor=feature_extractor)
    classify = hf_ser.pipeline(str(tmp_path), backend="onnx")
    assert not classify.backend.equal_length_batches
    batched = classify(emodb_clips, sampling_rate=16000, batch_size=4)
    reference = hf_ser.pipeline(model, feature_extractor=feature_extractor, dtype="float32")
    for clip, result in zip(emodb_clips, batched, strict=True):
        for expected in (classify(clip, sampling_rate=16000), reference(clip, sampling_rate=16000)):
            for label, score in expected["scores"].items():
                assert abs(result["scores"][label] - score) < 1e-5
            assert abs(result["arousal"] - expected["arousal"]) < 1e-5
