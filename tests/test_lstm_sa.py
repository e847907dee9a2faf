"""LSTM-SA / ResLSTM-SA: paper parameter counts, masking, heads and losses, save/load, training step."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

from hf_ser import LSTMSAConfig, LSTMSAForAudioClassification, MfccChromaFeatureExtractor, SERModelOutput

# (residual, hidden) -> parameter count reported by Krasnoproshin & Vashkevich for 8 classes.
PAPER_PARAMETERS = {
    (False, 32): 10_600,
    (False, 64): 28_300,
    (False, 128): 91_600,
    (True, 32): 28_000,
    (True, 64): 46_800,
    (True, 128): 108_900,
}


def build(seed: int = 0, **config) -> LSTMSAForAudioClassification:
    torch.manual_seed(seed)
    config.setdefault("num_labels", 4)
    return LSTMSAForAudioClassification(LSTMSAConfig(**config)).eval()


@pytest.fixture(scope="module")
def mfcc_batch(emodb_clips):
    return MfccChromaFeatureExtractor()(
        emodb_clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )


def test_parameter_counts_match_paper():
    rows = []
    for (residual, hidden), paper in PAPER_PARAMETERS.items():
        model = LSTMSAForAudioClassification(
            LSTMSAConfig(hidden_size=hidden, residual=residual, num_labels=8)
        )
        count = sum(parameter.numel() for parameter in model.parameters())
        name = f"{'ResLSTM' if residual else 'LSTM'}-SA-h{hidden}"
        rows.append((name, count, paper))
        print(
            f"{name}: {count} parameters (paper {paper / 1000:.1f}k, {100 * (count - paper) / paper:+.2f}%)"
        )
        if (residual, hidden) == (False, 64):
            # The paper's 28.3k is a typo: the same build that matches the other five gives 29,256.
            assert count == 29_256
        else:
            assert abs(count - paper) / paper <= 0.01
    assert [count for _, count, _ in rows] == [10_536, 29_256, 91_272, 27_832, 46_552, 108_568]


@pytest.mark.parametrize("residual", [False, True])
def test_padded_batch_equals_single_clip(mfcc_batch, residual):
    model = build(residual=residual, hidden_size=32)
    with torch.no_grad():
        batched = model(**mfcc_batch)
        for row, length in enumerate(mfcc_batch["attention_mask"].sum(-1).tolist()):
            alone = model(
                input_values=mfcc_batch["input_values"][row : row + 1, :length],
                attention_mask=mfcc_batch["attention_mask"][row : row + 1, :length],
            )
            torch.testing.assert_close(batched.logits[row], alone.logits[0], atol=1e-5, rtol=0)
    weights = batched.frame_weights
    assert torch.all(weights[~mfcc_batch["attention_mask"].bool()] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4))


def test_output_fields_and_ce_loss(mfcc_batch):
    model = build(hidden_size=16, residual=True)
    labels = torch.tensor([0, 1, 2, 3])
    output = model(**mfcc_batch, labels=labels)
    assert isinstance(output, SERModelOutput)
    assert output.logits.shape == (4, 4)
    assert output.pooled.shape == (4, 16)
    assert output.regression is None
    torch.testing.assert_close(output.loss, F.cross_entropy(output.logits, labels))
    output.loss.backward()
    assert model.lstm.weight_hh_l0.grad.abs().sum() > 0
    assert model.residual_lstm.weight_ih_l0.grad.abs().sum() > 0


def test_temperature_divides_the_class_logits_but_not_the_loss(mfcc_batch):
    labels = torch.tensor([0, 1, 2, 3])
    plain, calibrated = build(hidden_size=16), build(hidden_size=16, temperature=2.5)
    reference, scaled = plain(**mfcc_batch, labels=labels), calibrated(**mfcc_batch, labels=labels)
    torch.testing.assert_close(scaled.logits, reference.logits / 2.5)
    torch.testing.assert_close(scaled.loss, reference.loss)
    assert calibrated(**mfcc_batch, return_dict=False)[0].shape == (4, 4)
    regression = build(hidden_size=16, task="regression", temperature=2.5)(**mfcc_batch).logits
    torch.testing.assert_close(regression, build(hidden_size=16, task="regression")(**mfcc_batch).logits)


def test_regression_and_multitask_heads(mfcc_batch):
    regression = build(hidden_size=16, task="regression")
    output = regression(**mfcc_batch, labels=torch.rand(4, 3))
    assert output.logits.shape == (4, 3)
    assert torch.equal(output.logits, output.regression)
    assert output.loss.ndim == 0
    multitask = build(hidden_size=16, task="multitask", num_labels=4)
    output = multitask(**mfcc_batch, labels=torch.tensor([0, 1, 2, 3]), regression_labels=torch.rand(4, 3))
    assert output.logits.shape == (4, 4)
    assert output.regression.shape == (4, 3)
    assert output.loss.ndim == 0


def test_save_and_load_with_auto_classes(mfcc_batch, emodb_clips, tmp_path):
    model = build(hidden_size=32, id2label={0: "anger", 1: "boredom", 2: "neutral", 3: "sadness"})
    model.save_pretrained(tmp_path)
    MfccChromaFeatureExtractor().save_pretrained(tmp_path)
    loaded = AutoModelForAudioClassification.from_pretrained(tmp_path).eval()
    extractor = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert isinstance(loaded, LSTMSAForAudioClassification)
    assert isinstance(extractor, MfccChromaFeatureExtractor)
    assert loaded.config.id2label[1] == "boredom"
    assert loaded.config.residual
    inputs = extractor(
        emodb_clips, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    with torch.no_grad():
        torch.testing.assert_close(loaded(**inputs).logits, model(**mfcc_batch).logits, atol=0, rtol=0)


def test_a_few_adam_steps_reduce_the_loss(mfcc_batch):
    model = build(hidden_size=32, residual=True, classifier_dropout=0.0).train()
    labels = torch.tensor([0, 1, 2, 3])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = model(**mfcc_batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "ranking"}, "'ranking'.*classification, regression, multitask"),
        ({"classifier_dropout": 1.0}, "classifier_dropout"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"classification_loss": "hinge"}, "'hinge'"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"arousal_from_categories": {"joy": 1.0}}, r"unknown labels \['joy'\]"),
        ({"arousal_from_categories": {"LABEL_0": 2.0}}, r"\[-1, 1\]"),
    ],
)
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LSTMSAConfig(num_labels=4, **kwargs)


def test_wrong_feature_size_error():
    with pytest.raises(ValueError, match=r"\(batch, frames, 46\)"):
        build()(torch.zeros(1, 10, 40))
