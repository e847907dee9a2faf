"""The seq2seq encoder inside SER models: every mechanism x task trains, LoRA, ONNX export, pipeline.

The encoder on its own is tested in ``test_seq2seq.py``; its wiring into ``SERModelForAudioClassification``
(padding, save / reload) for two mechanisms in ``test_modeling_ser.py``. Here every mechanism meets every
task (and, cyclically, every pooling) and the rest of the stack: peft LoRA, ONNX export and the pipeline.
Tiny random models (hidden 32, one backbone layer, one seq2seq layer) on real EmoDB clips.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from safetensors import safe_open

from hf_ser import SERModelForAudioClassification, add_lora, load_lora
from hf_ser.export import OnnxSERModel, to_onnx
from hf_ser.inference.pipeline import pipeline
from hf_ser.models.pooling import POOLING_TYPES
from hf_ser.models.seq2seq import ONNX_EXPORTABLE, SEQ2SEQ_MECHANISMS
from hf_ser.training.lora import modules_to_save

TASKS = ("classification", "regression", "multitask")
# Every (mechanism, task) pair, with the poolings assigned cyclically so each pooling meets the encoder.
CASES = [
    (mechanism, task, pooling)
    for (mechanism, task), pooling in zip(
        itertools.product(SEQ2SEQ_MECHANISMS, TASKS), itertools.cycle(POOLING_TYPES)
    )
]


def tiny_seq2seq_model(tiny_ser_model, mechanism: str, seed: int = 0, **config):
    """A tiny SER model (1 backbone layer) with a one-layer, two-head seq2seq encoder of ``mechanism``."""
    return tiny_ser_model(
        seed=seed,
        seq2seq=mechanism,
        seq2seq_layers=1,
        seq2seq_heads=2,
        backbone_overrides={"num_hidden_layers": 1},
        **config,
    )


def batch(feature_extractor, clips):
    return feature_extractor(
        clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )


def targets_for(task: str, size: int) -> dict[str, torch.Tensor]:
    """Loss targets of ``task`` for a batch of ``size`` clips."""
    generator = torch.Generator().manual_seed(0)
    targets = {}
    if task != "regression":
        targets["labels"] = torch.arange(size) % 4
    if task != "classification":
        targets["regression_labels"] = torch.rand(size, 3, generator=generator)
    return targets


@pytest.mark.parametrize(("mechanism", "task", "pooling"), CASES)
def test_every_mechanism_and_task_is_padding_invariant_and_trains(
    tiny_ser_model, feature_extractor, emodb_clips, mechanism, task, pooling
):
    model = tiny_seq2seq_model(tiny_ser_model, mechanism, task=task, pooling=pooling)
    assert model.seq2seq.mechanism == mechanism
    clips = emodb_clips[:3]
    inputs = batch(feature_extractor, clips)
    with torch.no_grad():
        batched = model(**inputs)
        for index, clip in enumerate(clips):
            alone = model(**batch(feature_extractor, [clip]))
            torch.testing.assert_close(batched.logits[index], alone.logits[0], atol=1e-5, rtol=0)
            if task == "multitask":
                torch.testing.assert_close(batched.regression[index], alone.regression[0], atol=1e-5, rtol=0)

    model.train()
    before = {name: p.detach().clone() for name, p in model.seq2seq.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    out = model(**inputs, **targets_for(task, len(clips)))
    assert out.loss.ndim == 0
    assert torch.isfinite(out.loss)
    out.loss.backward()
    for name, parameter in model.seq2seq.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in model.seq2seq.parameters())
    optimizer.step()
    changed = [name for name, p in model.seq2seq.named_parameters() if not torch.equal(p, before[name])]
    assert changed, "the optimizer step did not change the seq2seq encoder"


@pytest.mark.parametrize("mechanism", ["softmax", "gla"])
def test_lora_trains_and_saves_the_whole_seq2seq_encoder(
    tiny_ser_model, feature_extractor, emodb_clips, mechanism, tmp_path
):
    base = tiny_seq2seq_model(tiny_ser_model, mechanism, seed=3, pooling="soft_attention")
    assert "seq2seq" in modules_to_save(base)
    encoder_size = sum(p.numel() for p in base.seq2seq.parameters())
    encoder_tensors = len(list(base.seq2seq.parameters()))
    base.save_pretrained(tmp_path / "base")
    peft_model = add_lora(base, r=4, alpha=8).eval()
    names = [name for name, _ in peft_model.named_modules()]
    assert not any("seq2seq" in name and "lora_" in name for name in names)  # trained in full, not adapted
    trainable = {name: p for name, p in peft_model.named_parameters() if p.requires_grad}
    encoder_trainable = [p for name, p in trainable.items() if "seq2seq.modules_to_save" in name]
    assert sum(p.numel() for p in encoder_trainable) == encoder_size

    torch.manual_seed(7)
    with torch.no_grad():  # a trained adapter: non-zero LoRA B and a changed encoder that must travel with it
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
        for parameter in encoder_trainable:
            parameter.add_(0.1 * torch.randn_like(parameter))
    inputs = batch(feature_extractor, emodb_clips[:2])
    with torch.no_grad():
        expected = peft_model(**inputs).logits
    peft_model.save_pretrained(tmp_path / "adapter")
    with safe_open(str(tmp_path / "adapter" / "adapter_model.safetensors"), framework="pt") as saved:
        saved_encoder = [key for key in saved.keys() if ".seq2seq." in key]
    assert len(saved_encoder) == encoder_tensors

    fresh_base = SERModelForAudioClassification.from_pretrained(tmp_path / "base").eval()
    with torch.no_grad():
        assert not torch.allclose(fresh_base(**inputs).logits, expected, atol=1e-4)
        reloaded = load_lora(fresh_base, tmp_path / "adapter").eval()
        torch.testing.assert_close(reloaded(**inputs).logits, expected, atol=1e-6, rtol=0)
        merged = peft_model.merge_and_unload().eval()
        assert type(merged) is SERModelForAudioClassification
        torch.testing.assert_close(merged(**inputs).logits, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mechanism", ["softmax", "forgetting"])
def test_onnx_export_matches_pytorch(tiny_ser_model, feature_extractor, emodb_clips, mechanism, tmp_path):
    assert mechanism in ONNX_EXPORTABLE
    model = tiny_seq2seq_model(tiny_ser_model, mechanism, task="multitask", pooling="attentive_stats")
    to_onnx(model, tmp_path, feature_extractor=feature_extractor)
    runner = OnnxSERModel.from_pretrained(tmp_path)
    long_clip = np.concatenate(emodb_clips)  # longer than the export's example inputs: dynamic time axis
    for clips in (emodb_clips, [long_clip, emodb_clips[0]]):
        inputs = batch(feature_extractor, clips)
        with torch.no_grad():
            expected = model(**inputs)
        output = runner(**inputs)
        assert (output.logits - expected.logits).abs().max() <= 1e-4
        assert (output.regression - expected.regression).abs().max() <= 1e-4


@pytest.mark.parametrize("mechanism", [m for m in SEQ2SEQ_MECHANISMS if m not in ONNX_EXPORTABLE])
def test_onnx_export_refuses_mechanisms_without_dynamic_graph(tiny_ser_model, mechanism, tmp_path):
    model = tiny_seq2seq_model(tiny_ser_model, mechanism, pooling="mean")
    message = rf"'{mechanism}'.*ONNX-exportable mechanisms: none, softmax, forgetting.*PyTorch backend"
    with pytest.raises(ValueError, match=message):
        to_onnx(model, tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()  # refused before anything was written


def test_pipeline_on_saved_seq2seq_model(tiny_ser_model, tiny_checkpoint, emodb_clips):
    model = tiny_seq2seq_model(tiny_ser_model, "gla", task="multitask", pooling="attentive_stats")
    classify = pipeline(str(tiny_checkpoint(model=model)), dtype="float32", batch_size=4)
    assert classify(emodb_clips[0], sampling_rate=16000)["label"] in model.config.id2label.values()
    batched = classify(emodb_clips, sampling_rate=16000)
    singles = [classify(clip, sampling_rate=16000, batch_size=1) for clip in emodb_clips]
    assert len(batched) == len(singles) == len(emodb_clips)
    for together, alone in zip(batched, singles, strict=True):
        assert together.keys() == alone.keys()
        assert together["label"] == alone["label"]
        for key, value in together.items():
            if isinstance(value, dict):
                assert value.keys() == alone[key].keys()
                assert all(abs(value[name] - alone[key][name]) <= 1e-4 for name in value), key
            elif isinstance(value, float):
                assert abs(value - alone[key]) <= 1e-4, key
