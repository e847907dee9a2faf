"""Tests for hf_ser.metrics: hand-computed values, scikit-learn agreement, degenerate inputs, Trainer
compute_metrics factories and the offline evaluate modules."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from transformers import EvalPrediction

import hf_ser.metrics as M


def test_hand_computed_classification_values():
    references = [0, 0, 0, 1, 1, 2]
    predictions = [0, 0, 1, 1, 2, 2]
    # recalls: 2/3, 1/2, 1 -> UAR 13/18; accuracy 4/6
    assert M.uar(predictions, references) == pytest.approx(13 / 18)
    assert M.wa(predictions, references) == pytest.approx(4 / 6)
    # F1 per class: 2*2/(3+2)=0.8, 2*1/(2+2)=0.5, 2*1/(1+2)=2/3
    assert M.macro_f1(predictions, references) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert M.weighted_f1(predictions, references) == pytest.approx((0.8 * 3 + 0.5 * 2 + 2 / 3) / 6)
    np.testing.assert_array_equal(
        M.confusion_matrix(predictions, references), [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    )
    np.testing.assert_allclose(
        M.confusion_matrix(predictions, references, normalize="true"),
        [[2 / 3, 1 / 3, 0], [0, 0.5, 0.5], [0, 0, 1]],
    )
    assert M.classification_metrics(predictions, references)["uar"] == pytest.approx(13 / 18)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", range(5))
def test_agreement_with_sklearn(seed):
    rng = np.random.default_rng(seed)
    references = rng.integers(0, 5, 60)
    predictions = np.where(rng.random(60) < 0.5, references, rng.integers(0, 6, 60))  # class 5 only predicted
    assert M.uar(predictions, references) == pytest.approx(
        skm.balanced_accuracy_score(references, predictions)
    )
    assert M.wa(predictions, references) == pytest.approx(skm.accuracy_score(references, predictions))
    assert M.macro_f1(predictions, references) == pytest.approx(
        skm.f1_score(references, predictions, average="macro", zero_division=0)
    )
    assert M.weighted_f1(predictions, references) == pytest.approx(
        skm.f1_score(references, predictions, average="weighted", zero_division=0)
    )
    np.testing.assert_array_equal(
        M.confusion_matrix(predictions, references, num_labels=6),
        skm.confusion_matrix(references, predictions, labels=range(6)),
    )


def test_degenerate_classification_inputs():
    assert M.uar([1, 1, 1], [1, 1, 1]) == 1.0  # one class only
    assert M.uar(predictions=[0, 0, 0], references=[1, 1, 1]) == 0.0
    # no NaN when a class is never predicted
    assert M.macro_f1(predictions=[0, 0, 0], references=[1, 1, 1]) == 0.0
    constant = M.uar(predictions=[2, 2, 2, 2], references=[0, 1, 2, 2])
    assert constant == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="0 items"):
        M.uar([], [])
    with pytest.raises(ValueError, match="predictions has 2 items but references has 3"):
        M.wa([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="normalize='rows'"):
        M.confusion_matrix([0], [0], normalize="rows")
    with pytest.raises(ValueError, match="Labels must lie in \\[0, 2\\)"):
        M.confusion_matrix([0, 2], [0, 1], num_labels=2)


def test_ccc_hand_computed_and_degenerate():
    # p = [1, 2, 3], r = [2, 4, 6]: means 2, 4; var 2/3, 8/3; cov 4/3 -> 2*(4/3) / (2/3 + 8/3 + 4) = 8/22
    assert M.ccc([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx(8 / 22)
    assert M.ccc([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert M.ccc([3.0, 2.0, 1.0], [1.0, 2.0, 3.0]) == pytest.approx(-1.0)
    assert M.ccc([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]) == 0.0  # constant predictions
    assert M.ccc([2.0, 2.0], [2.0, 2.0]) == 0.0  # zero denominator: 0, not NaN
    matrix = M.ccc(
        np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]), np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    )
    np.testing.assert_allclose(matrix, [1.0, 0.0])
    with pytest.raises(ValueError, match="differs"):
        M.ccc([1.0], [1.0, 2.0])
    assert M.mse([1.0, 3.0], [2.0, 1.0]) == pytest.approx(2.5)


def test_every_public_metric_takes_predictions_then_references():
    """One convention, as in Hugging Face `evaluate`: ``f(predictions, references)``, also as keywords."""
    classes = {"predictions": [0, 0, 1, 1, 2, 2], "references": [0, 0, 0, 1, 1, 2]}
    scores = {"predictions": [[0.1], [0.5], [0.2], [0.9]], "references": [[0.0], [0.3], [0.6], [0.7]]}
    extra = {"regression_metrics": {"target_names": ["arousal"]}}
    functions = [getattr(M, name) for name in M.functions.__all__]
    for function in functions:
        first_two = list(inspect.signature(function).parameters)[:2]
        assert first_two == ["predictions", "references"], function.__name__
        inputs = scores if function.__name__ in ("ccc", "mse", "regression_metrics") else classes
        keywords = function(**inputs, **extra.get(function.__name__, {}))
        positional = function(inputs["predictions"], inputs["references"], **extra.get(function.__name__, {}))
        np.testing.assert_equal(keywords, positional)
    # order matters for these data: predictions -> columns, references -> rows
    assert M.uar(**classes) == pytest.approx(13 / 18)  # swapped: 2/3
    np.testing.assert_array_equal(M.confusion_matrix(**classes), [[2, 1, 0], [0, 1, 1], [0, 0, 1]])


def test_ccc_sample_weight_equals_repeated_items():
    rng = np.random.default_rng(0)
    references = rng.normal(size=(40, 2))
    predictions = references + rng.normal(scale=0.8, size=(40, 2))
    counts = rng.integers(0, 4, size=(3, 40))
    per_replicate = M.ccc(predictions, references, sample_weight=counts)
    assert per_replicate.shape == (3, 2)
    for row, count in zip(per_replicate, counts, strict=True):
        repeated = np.repeat(np.arange(40), count)
        np.testing.assert_allclose(row, M.ccc(predictions[repeated], references[repeated]), atol=1e-12)
    one_dim = M.ccc(predictions[:, 0], references[:, 0], sample_weight=counts)
    np.testing.assert_allclose(one_dim, per_replicate[:, 0], atol=1e-12)
    assert M.ccc(predictions[:, 0], references[:, 0], sample_weight=np.ones(40)) == pytest.approx(
        M.ccc(predictions[:, 0], references[:, 0]), abs=1e-12
    )
    with pytest.raises(ValueError, match="sample_weight"):
        M.ccc(predictions, references, sample_weight=np.ones(39))


@pytest.mark.parametrize("seed", range(3))
def test_numpy_ccc_equals_torch_loss_ccc(seed):
    """``models/`` keeps a torch CCC for the loss (it ships as self-contained remote code); it must agree."""
    from hf_ser.models.losses import concordance_correlation

    rng = np.random.default_rng(seed)
    references = rng.normal(loc=0.5, size=64)
    predictions = 0.6 * references + rng.normal(scale=0.5, size=64)
    torch_value = concordance_correlation(torch.from_numpy(predictions), torch.from_numpy(references))
    assert float(torch_value) == pytest.approx(M.ccc(predictions, references), abs=1e-7)


def test_regression_metrics_per_target_and_mean():
    rng = np.random.default_rng(0)
    references = rng.normal(size=(50, 3))
    predictions = references + rng.normal(scale=0.5, size=(50, 3))
    result = M.regression_metrics(predictions, references, ["arousal", "dominance", "valence"])
    for column, name in enumerate(["arousal", "dominance", "valence"]):
        p, r = predictions[:, column], references[:, column]
        expected = 2 * np.cov(p, r, bias=True)[0, 1] / (p.var() + r.var() + (p.mean() - r.mean()) ** 2)
        assert result[f"ccc_{name}"] == pytest.approx(expected)
        assert result[f"mse_{name}"] == pytest.approx(skm.mean_squared_error(r, p))
    assert result["ccc"] == pytest.approx(
        np.mean([result[f"ccc_{n}"] for n in ["arousal", "dominance", "valence"]])
    )
    with pytest.raises(ValueError, match="3 regression outputs but target_names=\\['arousal'\\]"):
        M.regression_metrics(predictions, references, ["arousal"])


def test_trainer_compute_metrics_factories():
    logits = np.array([[3.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    labels = np.array([0, 1, 1, -100])  # -100 ignored
    classification = M.build_compute_metrics("classification")
    pooled = np.zeros((4, 8))
    result = classification(EvalPrediction(predictions=(logits, pooled), label_ids=labels))
    assert result["uar"] == pytest.approx(0.75)
    assert result["wa"] == pytest.approx(2 / 3)

    regression_values = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0], [0.0, 0.0]])
    regression_labels = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0], [np.nan, 1.0]])  # NaN row dropped
    regression = M.build_compute_metrics("regression", ["arousal", "valence"])
    result = regression(
        EvalPrediction(predictions=(regression_values, regression_values), label_ids=regression_labels)
    )
    assert result["ccc"] == pytest.approx(1.0)
    assert result["mse_valence"] == pytest.approx(0.0)

    multitask = M.build_compute_metrics("multitask", ["arousal", "valence"])
    prediction = EvalPrediction(
        predictions=(logits, regression_values, pooled), label_ids=(labels, regression_labels)
    )
    result = multitask(prediction)
    assert {"uar", "wa", "macro_f1", "weighted_f1", "ccc", "ccc_arousal", "mse"} <= set(result)
    assert result["uar"] == pytest.approx(0.75)
    assert result["ccc"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="task='ranking' is not one of"):
        M.build_compute_metrics("ranking")
    with pytest.raises(ValueError, match="label_names"):
        regression(EvalPrediction(predictions=regression_values, label_ids=labels))


def test_offline_evaluate_modules(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    references, predictions = [0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2]
    for name in ("uar", "wa", "macro_f1", "weighted_f1"):
        module = M.load(name)
        assert module.compute(predictions=predictions, references=references)[name] == pytest.approx(
            getattr(M, name)(predictions, references)
        )
    ccc = M.load("ccc")
    assert ccc.compute(predictions=[1.0, 2.0, 3.0], references=[2.0, 4.0, 6.0])["ccc"] == pytest.approx(
        8 / 22
    )
    multi = ccc.compute(
        predictions=[[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]], references=[[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]
    )
    assert multi["ccc_per_target"] == pytest.approx([1.0, 0.0])
    assert multi["ccc"] == pytest.approx(0.5)
    assert (M.metric_path("uar") / "uar.py").is_file()
    with pytest.raises(ValueError, match="Unknown hf_ser metric 'f2'; available"):
        M.load("f2")
