"""Tests of hf_ser.add_lora: adapters on the backbone, SER modules fully trained and saved with them."""

from __future__ import annotations

import re

import pytest
import torch

from hf_ser import SERModelForAudioClassification, add_lora, count_parameters, load_lora
from hf_ser.training.lora import default_target_modules, modules_to_save


def inputs_for(feature_extractor, clips):
    return feature_extractor(
        clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )


def perturb_lora(model):
    """LoRA B matrices start at zero; give them values so the adapter changes outputs."""
    torch.manual_seed(7)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)


def test_default_targets_are_backbone_projections_only():
    pattern = default_target_modules()
    assert re.fullmatch(pattern, "backbone.encoder.layers.0.attention.q_proj")
    assert re.fullmatch(pattern, "backbone.encoder.layers.11.attention.out_proj")
    assert not re.fullmatch(pattern, "classifier.out_proj")
    assert not re.fullmatch(pattern, "backbone.encoder.layers.0.feed_forward.output_dense")
    with_ff = default_target_modules(include_feed_forward=True)
    assert re.fullmatch(with_ff, "backbone.encoder.layers.1.feed_forward.intermediate_dense")
    assert re.fullmatch(with_ff, "backbone.encoder.layers.1.attention.v_proj")


def test_add_lora_wraps_attention_and_keeps_heads_trainable(tiny_ser_model):
    model = tiny_ser_model(task="multitask", pooling="attentive_stats", layer_weighting="weighted")
    assert modules_to_save(model) == ["layer_mix", "pooling", "classifier", "regressor"]
    total_before = count_parameters(model).total
    peft_model = add_lora(model, r=4, alpha=8)
    names = [name for name, _ in peft_model.named_modules()]
    assert any(name.endswith("attention.q_proj.lora_A.default") for name in names)
    assert not any("feed_forward" in name and "lora_A" in name for name in names)
    assert not any("classifier" in name and "lora_A" in name for name in names)
    trainable = {name for name, p in peft_model.named_parameters() if p.requires_grad}
    assert all("lora_" in name or "modules_to_save" in name for name in trainable)
    for module in ("classifier", "regressor", "pooling", "layer_mix"):
        assert any(f"{module}.modules_to_save" in name for name in trainable), module
    report = peft_model.hf_ser_parameter_report
    assert report.trainable == sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert report.total >= total_before
    assert 0 < report.fraction < 1
    assert "trainable" in str(report)
    assert "%" in str(report)


def test_feed_forward_option(tiny_ser_model):
    peft_model = add_lora(tiny_ser_model(pooling="mean"), r=2, include_feed_forward=True)
    names = [name for name, _ in peft_model.named_modules()]
    assert any(name.endswith("feed_forward.output_dense.lora_A.default") for name in names)


def test_save_reload_and_merge_give_identical_outputs(
    tiny_ser_model, feature_extractor, emodb_clips, tmp_path
):
    base = tiny_ser_model(pooling="soft_attention", layer_weighting="weighted", seed=3)
    base.save_pretrained(tmp_path / "base")
    peft_model = add_lora(base, r=4, alpha=8).eval()
    perturb_lora(peft_model)
    with torch.no_grad():  # also change the fully trained head so the adapter must carry it
        peft_model.base_model.model.classifier.modules_to_save["default"].out_proj.bias.add_(1.0)
    inputs = inputs_for(feature_extractor, emodb_clips[:2])
    with torch.no_grad():
        expected = peft_model(**inputs).logits
    peft_model.save_pretrained(tmp_path / "adapter")
    adapter_file = tmp_path / "adapter" / "adapter_model.safetensors"
    assert adapter_file.is_file()
    assert adapter_file.stat().st_size < (tmp_path / "base" / "model.safetensors").stat().st_size

    fresh_base = SERModelForAudioClassification.from_pretrained(tmp_path / "base").eval()
    with torch.no_grad():
        assert not torch.allclose(fresh_base(**inputs).logits, expected, atol=1e-4)
    reloaded = load_lora(fresh_base, tmp_path / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).logits, expected, atol=1e-6, rtol=0)

    merged = peft_model.merge_and_unload()
    assert type(merged) is SERModelForAudioClassification
    assert not any("lora" in name for name, _ in merged.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(merged.eval()(**inputs).logits, expected, atol=1e-5, rtol=0)


def test_lora_training_step_updates_adapters_only(tiny_ser_model, feature_extractor, emodb_clips):
    model = tiny_ser_model(pooling="mean")
    frozen_before = model.backbone.encoder.layers[0].attention.q_proj.weight.detach().clone()
    peft_model = add_lora(model, r=2).train()
    optimizer = torch.optim.SGD([p for p in peft_model.parameters() if p.requires_grad], lr=0.1)
    out = peft_model(**inputs_for(feature_extractor, emodb_clips[:2]), labels=torch.tensor([0, 1]))
    out.loss.backward()
    optimizer.step()
    base_layer = peft_model.base_model.model.backbone.encoder.layers[0].attention.q_proj.base_layer
    torch.testing.assert_close(base_layer.weight, frozen_before, atol=0, rtol=0)


def test_add_lora_errors(tiny_ser_model):
    with pytest.raises(ValueError, match="rank r must be >= 1"):
        add_lora(tiny_ser_model(pooling="mean"), r=0)
    with pytest.raises(ValueError, match="expects an hf_ser model with a `backbone`"):
        add_lora(torch.nn.Linear(2, 2))


def test_ctc_head_trained_and_saved_with_the_adapter(
    tiny_ser_model, feature_extractor, emodb_clips, tmp_path
):
    base = tiny_ser_model(pooling="mean", ctc_vocab=["<blank>", "a", "b", "|"], seed=4)
    assert modules_to_save(base) == ["classifier", "ctc_head"]  # mean pooling has no parameters
    base.save_pretrained(tmp_path / "base")
    peft_model = add_lora(base, r=2).eval()
    trainable = {name for name, p in peft_model.named_parameters() if p.requires_grad}
    assert any("ctc_head.modules_to_save" in name for name in trainable)
    with torch.no_grad():  # a trained CTC head must travel with the adapter
        peft_model.base_model.model.ctc_head.modules_to_save["default"].proj.bias.add_(1.0)
    inputs = inputs_for(feature_extractor, emodb_clips[:2])
    with torch.no_grad():
        expected = peft_model(**inputs).ctc_logits
    peft_model.save_pretrained(tmp_path / "adapter")
    fresh_base = SERModelForAudioClassification.from_pretrained(tmp_path / "base")
    reloaded = load_lora(fresh_base, tmp_path / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).ctc_logits, expected, atol=1e-6, rtol=0)
        merged = peft_model.merge_and_unload().eval()
        torch.testing.assert_close(merged(**inputs).ctc_logits, expected, atol=1e-5, rtol=0)


def test_adapter_records_its_base_model_and_auto_loads(
    tiny_ser_model, feature_extractor, emodb_clips, tmp_path
):
    """``adapter_config.json`` names the base (peft alone wrote null with transformers 5), so the Auto class
    loads base + adapter from the adapter folder alone."""
    import json

    from transformers import AutoModelForAudioClassification

    tiny_ser_model(pooling="mean", seed=5).save_pretrained(tmp_path / "base")
    base = SERModelForAudioClassification.from_pretrained(tmp_path / "base")
    peft_model = add_lora(base, r=2).eval()
    perturb_lora(peft_model)
    peft_model.save_pretrained(tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(tmp_path / "base")

    inputs = inputs_for(feature_extractor, emodb_clips[:1])
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, peft_model(**inputs).logits, atol=1e-6, rtol=0)
