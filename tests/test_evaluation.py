"""Tests of hf_ser.evaluation: every reported figure is recomputed directly and compared.

Real EmoDB / URDU subsets, a tiny hf_ser model trained for a few steps on the EmoDB subset, and the
real pipeline. Per-speaker UAR is recomputed by hand, perturbed SNR is measured, flip shares counted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hf_ser.data.corpora import load_corpus
from hf_ser.evaluation import (
    CrossCorpusResult,
    align_labels,
    as_predictor,
    cross_corpus_matrix,
    decode_audio_column,
    evaluate_model,
    evaluate_robustness,
    get_perturbations,
    markdown_tables,
    metrics_from_confusion,
    restrict_to_labels,
    score_predictions,
    write_report,
)
from hf_ser.evaluation.bootstrap import bootstrap_counts, confusion_counts
from hf_ser.evaluation.perturbations import (
    add_noise,
    apply_gain,
    low_pass,
    measure_snr,
    mu_law_8k,
    reverberate,
    telephone_band,
    time_shift,
)
from hf_ser.metrics import ccc, classification_metrics, confusion_matrix

EMODB_SPEAKERS = ("03", "08", "10", "16")  # male, female, male, female


def _hand_uar(true: list, pred: list) -> float:
    """Mean recall over the classes present in ``true``, written out."""
    recalls = []
    for c in sorted(set(true)):
        hits = sum(1 for t, p in zip(true, pred, strict=True) if t == c and p == c)
        recalls.append(hits / sum(1 for t in true if t == c))
    return sum(recalls) / len(recalls)


@pytest.fixture(scope="module")
def emodb_subset(data_dir: Path):
    """One clip per (speaker, class) for four speakers and the four classes URDU shares: 16 clips."""
    dataset = load_corpus("emodb", data_dir / "emodb")
    names = dataset.features["label"].names
    wanted = [names.index(n) for n in ("anger", "happiness", "neutral", "sadness")]
    first = {}
    for i, key in enumerate(zip(dataset["speaker"], dataset["label"], strict=True)):
        first.setdefault(key, i)
    return dataset.select(sorted(first[(s, c)] for s in EMODB_SPEAKERS for c in wanted))


@pytest.fixture(scope="module")
def urdu_subset(data_dir: Path):
    """Five clips per class, each from a different speaker of that class: 20 clips."""
    dataset = load_corpus("urdu", data_dir / "urdu")
    first = {}
    for i, key in enumerate(zip(dataset["label"], dataset["speaker"], strict=True)):
        first.setdefault(key, i)
    rows = []
    for label in sorted(set(dataset["label"])):
        rows += sorted(i for (lab, _), i in first.items() if lab == label)[:5]
    return dataset.select(sorted(rows))


@pytest.fixture(scope="module")
def tiny_model_dir(tiny_ser_model, tiny_checkpoint, feature_extractor, emodb_subset) -> Path:
    """A tiny hf_ser model trained for a few Adam steps on the EmoDB subset, saved as a checkpoint."""
    import torch

    names = emodb_subset.features["label"].names
    model = tiny_ser_model(
        seed=0,
        backbone_overrides={"num_hidden_layers": 1},
        id2label=dict(enumerate(names)),
        pooling="mean",
        projector_size=None,
    )
    extractor = feature_extractor
    arrays = [a[:16000] for a in decode_audio_column(emodb_subset)]
    inputs = extractor(
        arrays, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    labels = torch.tensor(emodb_subset["label"])
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(25):
        model(**inputs, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return tiny_checkpoint("tiny_ser", model=model.eval())


@pytest.fixture(scope="module")
def predictor(tiny_model_dir):
    return as_predictor(str(tiny_model_dir))


@pytest.fixture(scope="module")
def clean_result(predictor, emodb_subset):
    return evaluate_model(predictor, emodb_subset, bootstrap=300, seed=1, progress=False)


def _direct_outputs(predictor, arrays) -> list[dict]:
    """The pipeline called directly (no evaluation code involved)."""
    return predictor.pipe([{"array": a, "sampling_rate": 16000} for a in arrays])


def test_hf_ser_pipelines_hand_evaluation_arrays_not_formatted_dicts(predictor, emodb_subset):
    """The predictor reads an hf_ser pipeline's output arrays; the figures equal those parsed from the
    formatted dicts of the same pipeline (the contract any other callable follows)."""
    from hf_ser.evaluation import Predictor

    arrays = decode_audio_column(emodb_subset)[:6]
    assert predictor._gives_arrays
    calls = []
    outputs = predictor.pipe.outputs

    def counting_outputs(*args, **kwargs):
        calls.append(len(args[0]))
        return outputs(*args, **kwargs)

    predictor.pipe.outputs = counting_outputs
    try:
        from_arrays = predictor.predict(arrays)
    finally:
        del predictor.pipe.outputs
    assert sum(calls) == len(arrays)
    as_callable = Predictor(lambda batch: predictor.pipe(batch), labels=from_arrays.labels)
    from_dicts = as_callable.predict(arrays)
    assert not as_callable._gives_arrays
    assert from_arrays.labels == from_dicts.labels
    np.testing.assert_allclose(from_arrays.scores, from_dicts.scores, atol=1e-6)
    np.testing.assert_allclose(from_arrays.scores.sum(axis=1), 1.0, atol=1e-9)


# ---------------------------------------------------------------------------------------------------
# Perturbations
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip(emodb_subset) -> np.ndarray:
    return decode_audio_column(emodb_subset.select([0]))[0]


def _band_energy(array: np.ndarray, low: float, high: float, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(array.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(array.size, 1.0 / rate)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum() / spectrum.sum())


@pytest.mark.parametrize("snr", [20.0, 10.0, 5.0, 0.0])
def test_noise_reaches_requested_snr_and_is_seeded(clip, snr):
    noisy = add_noise(clip, snr, seed=3)
    assert noisy.shape == clip.shape
    assert noisy.dtype == np.float32
    assert abs(measure_snr(clip, noisy) - snr) < 1e-3
    np.testing.assert_array_equal(noisy, add_noise(clip, snr, seed=3))
    assert not np.array_equal(noisy, add_noise(clip, snr, seed=4))
    # The named perturbation derives one seed per clip: same clip index -> same noise.
    named = get_perturbations([f"noise_snr{snr:g}"])[0]
    np.testing.assert_array_equal(named(clip, 16000, seed=0, index=5), named(clip, 16000, seed=0, index=5))
    assert abs(measure_snr(clip, named(clip, 16000, seed=0, index=5)) - snr) < 1e-3


def test_gain_and_time_shift_are_exact(clip):
    rms = np.sqrt(np.mean(clip.astype(np.float64) ** 2))
    for db in (6.0, -6.0):
        louder = apply_gain(clip, db).astype(np.float64)
        assert 20 * np.log10(np.sqrt(np.mean(louder**2)) / rms) == pytest.approx(db, abs=1e-4)
    assert np.abs(apply_gain(clip, 6.0, clip=True)).max() <= 1.0
    delayed = time_shift(clip, 16000, 0.25)
    np.testing.assert_array_equal(delayed[:4000], 0.0)
    np.testing.assert_array_equal(delayed[4000:], clip[:-4000])
    advanced = time_shift(clip, 16000, -0.1)
    np.testing.assert_array_equal(advanced[:-1600], clip[1600:])
    np.testing.assert_array_equal(advanced[-1600:], 0.0)


def test_filters_and_codec_remove_out_of_band_energy(clip):
    assert _band_energy(clip, 4500, 8000) > 1e-3  # the clean clip has energy there
    assert _band_energy(low_pass(clip, 16000, 4000.0), 4500, 8000) < 1e-5
    phone = telephone_band(clip, 16000)
    assert _band_energy(phone, 0, 150) < 1e-4
    assert _band_energy(phone, 4500, 8000) < 1e-5
    coded = mu_law_8k(clip, 16000)
    assert coded.shape == clip.shape
    assert _band_energy(coded, 4100, 8000) < 1e-3  # 8 kHz sampling removes content above 4 kHz
    assert measure_snr(low_pass(clip, 16000, 3900.0), coded) > 20.0  # 8-bit mu-law: ~35 dB quantisation SNR
    with pytest.raises(ValueError, match="cutoff_hz"):
        low_pass(clip, 16000, 9000.0)


def test_reverb_is_seeded_and_keeps_length_and_level(clip):
    wet = reverberate(clip, 16000, rt60=0.5, seed=1)
    assert wet.shape == clip.shape
    np.testing.assert_allclose(np.sqrt(np.mean(wet**2)), np.sqrt(np.mean(clip**2)), rtol=1e-4)
    np.testing.assert_array_equal(wet, reverberate(clip, 16000, rt60=0.5, seed=1))
    assert not np.array_equal(wet, reverberate(clip, 16000, rt60=0.5, seed=2))
    assert measure_snr(clip, wet) < 10.0  # the tail smears the signal


def test_get_perturbations_by_family_and_unknown_names():
    noise = ["noise_snr20", "noise_snr10", "noise_snr5", "noise_snr0"]
    assert [p.name for p in get_perturbations(["noise"])] == noise
    assert {p.family for p in get_perturbations()} == {
        "noise", "gain", "lowpass", "telephone", "reverb", "mulaw", "shift"
    }  # fmt: skip
    with pytest.raises(ValueError, match="Unknown perturbation 'echo'.*Families: noise"):
        get_perturbations(["echo"])


# ---------------------------------------------------------------------------------------------------
# Bootstrap arithmetic == hf_ser.metrics on the resampled data
# ---------------------------------------------------------------------------------------------------
def test_bootstrap_replicates_equal_metrics_of_resampled_data():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 60), rng.integers(0, 5, 60) % 4
    values = rng.normal(size=60)
    guesses = values + rng.normal(scale=0.7, size=60)
    counts = bootstrap_counts(60, 5, np.random.default_rng(1))
    np.testing.assert_array_equal(counts.sum(axis=1), 60)
    replicates = metrics_from_confusion(confusion_counts(y_pred, y_true, 4, counts))
    cccs = ccc(predictions=guesses, references=values, sample_weight=counts)
    for r in range(5):
        rows = np.repeat(np.arange(60), counts[r].astype(int))
        direct = classification_metrics(predictions=y_pred[rows], references=y_true[rows])
        for name, value in direct.items():
            assert replicates[name][r] == pytest.approx(value, abs=1e-12), name
        assert cccs[r] == pytest.approx(ccc(guesses[rows], values[rows]), abs=1e-12)
    # One replicate without weights: the plain confusion matrix.
    np.testing.assert_array_equal(confusion_counts(y_pred, y_true, 4), confusion_matrix(y_pred, y_true, 4))


# ---------------------------------------------------------------------------------------------------
# evaluate_model
# ---------------------------------------------------------------------------------------------------
def test_overall_per_speaker_and_fairness_match_direct_computation(predictor, emodb_subset, clean_result):
    outputs = _direct_outputs(predictor, decode_audio_column(emodb_subset))
    names = emodb_subset.features["label"].names
    true = [names[i] for i in emodb_subset["label"]]
    pred = [o["label"] for o in outputs]
    result = clean_result
    assert result.task == "classification"
    assert result.num_samples == len(emodb_subset)
    assert result.labels == names
    assert result.label_alignment.model_only == []
    assert result.overall["uar"] == pytest.approx(_hand_uar(true, pred), abs=1e-12)
    assert result.overall["wa"] == pytest.approx(np.mean([t == p for t, p in zip(true, pred, strict=True)]))
    # Confusion matrix counted by hand.
    counts = np.zeros((len(names), len(names)), dtype=int)
    for t, p in zip(true, pred, strict=True):
        counts[names.index(t), names.index(p)] += 1
    np.testing.assert_array_equal(result.confusion_matrix, counts)
    # Per speaker and per sex, recomputed from the subsets.
    for column in ("speaker", "sex"):
        groups = emodb_subset[column]
        hand = {}
        for group in sorted(set(groups)):
            members = [i for i, g in enumerate(groups) if g == group]
            hand[group] = _hand_uar([true[i] for i in members], [pred[i] for i in members])
            assert result.groups[column][group]["n"] == len(members)
            assert result.groups[column][group]["uar"] == pytest.approx(hand[group], abs=1e-12)
        fairness = result.fairness[column]
        assert fairness["gap"] == pytest.approx(max(hand.values()) - min(hand.values()), abs=1e-12)
        assert fairness["std"] == pytest.approx(np.std(list(hand.values())), abs=1e-12)
        assert hand[fairness["worst_group"]] == min(hand.values())
        low, high = fairness["gap_ci"]
        assert 0.0 <= low <= high
    assert set(result.groups["speaker"]) == set(EMODB_SPEAKERS)
    assert set(result.groups["sex"]) == {"female", "male"}
    low, high = result.overall_ci["uar"]
    assert 0.0 <= low <= high <= 1.0
    assert high > low
    # Same seed, same intervals; another seed, other intervals.
    again = evaluate_model(predictor, emodb_subset, bootstrap=300, seed=1, progress=False)
    assert again.overall_ci == result.overall_ci
    other = evaluate_model(predictor, emodb_subset, bootstrap=300, seed=2, progress=False)
    assert other.overall_ci != result.overall_ci


def test_label_alignment_keeps_shared_classes(predictor, urdu_subset):
    result = evaluate_model(predictor, urdu_subset, bootstrap=0, progress=False)
    assert result.labels == ["anger", "happiness", "neutral", "sadness"]
    assert result.label_alignment.model_only == ["boredom", "disgust", "fear"]
    assert result.label_alignment.dataset_only == []
    outputs = _direct_outputs(predictor, decode_audio_column(urdu_subset))
    restricted = [max(result.labels, key=lambda name: o["scores"][name]) for o in outputs]
    assert [result.labels[i] for i in result.y_pred] == restricted
    assert result.out_of_set_share == pytest.approx(
        np.mean([o["label"] not in result.labels for o in outputs])
    )
    true = [urdu_subset.features["label"].names[i] for i in urdu_subset["label"]]
    assert result.overall["uar"] == pytest.approx(_hand_uar(true, restricted), abs=1e-12)
    assert "by_speaker" in result.to_dict()
    assert result.to_dict()["dropped_labels"]["model_only"]
    # Scoring a selection of the predictions == evaluating the selected clips.
    predictions = predictor.predict(decode_audio_column(urdu_subset))
    part = score_predictions(predictions.select(range(8)), urdu_subset.select(range(8)), bootstrap=0)
    direct = evaluate_model(predictor, urdu_subset.select(range(8)), bootstrap=0, progress=False)
    assert part.overall == direct.overall
    assert part.groups == direct.groups


def test_align_labels_aliases_and_errors():
    alignment = align_labels(["Angry", "sad", "calm"], ["anger", "fear", "sadness"])
    assert alignment.labels == ["anger", "sadness"]
    assert alignment.model_indices == [0, 1]
    assert alignment.dataset_indices == [0, 2]
    assert alignment.dataset_only == ["fear"]
    assert alignment.model_only == ["calm"]
    assert align_labels(["x"], ["anger"], label_map={"x": "anger"}).labels == ["anger"]
    with pytest.raises(ValueError, match="share no name"):
        align_labels(["x"], ["anger"])


def test_regression_targets_scored_with_ccc(emodb_subset):
    arousal_of = {"anger": 0.9, "happiness": 0.7, "fear": 0.8, "neutral": 0.3, "boredom": 0.1}
    names = emodb_subset.features["label"].names
    dataset = emodb_subset.add_column(
        "arousal", [arousal_of.get(names[i], 0.5) for i in emodb_subset["label"]]
    )

    def loudness_model(batch: list[dict]) -> list[dict]:  # a "model" with the pipeline contract
        return [{"arousal": float(np.sqrt(np.mean(item["array"] ** 2)) * 4)} for item in batch]

    result = evaluate_model(loudness_model, dataset, label_column="none", bootstrap=50, progress=False)
    truth = np.asarray(dataset["arousal"])
    guesses = np.asarray([loudness_model([{"array": a}])[0]["arousal"] for a in decode_audio_column(dataset)])
    assert result.task == "regression"
    assert result.primary_metric == "ccc_mean"
    assert result.overall["ccc_arousal"] == pytest.approx(ccc(guesses, truth), abs=1e-12)
    members = np.asarray(dataset["sex"]) == "female"
    assert result.groups["sex"]["female"]["ccc_arousal"] == pytest.approx(
        ccc(guesses[members], truth[members])
    )
    robust = evaluate_robustness(
        loudness_model, dataset, ["gain"], clean=result, label_column="none", progress=False
    )
    by_name = {row["name"]: row for row in robust.rows}
    # Loudness scales with gain: +6 dB doubles the prediction (x 10**(6/20)).
    expected = np.mean(np.abs(guesses * (10 ** (6 / 20) - 1)))
    assert by_name["gain+6db"]["mean_abs_change"]["arousal"] == pytest.approx(expected, rel=1e-4)


# ---------------------------------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------------------------------
def test_robustness_flip_share_counted_by_hand(predictor, emodb_subset, clean_result):
    robust = evaluate_robustness(
        predictor, emodb_subset, ["noise_snr0", "telephone"], clean=clean_result, seed=0, progress=False
    )
    arrays = decode_audio_column(emodb_subset)
    clean_labels = [o["label"] for o in _direct_outputs(predictor, arrays)]
    names = emodb_subset.features["label"].names
    true = [names[i] for i in emodb_subset["label"]]
    for row, perturbation in zip(robust.rows, get_perturbations(["noise_snr0", "telephone"]), strict=True):
        perturbed = [perturbation(a, 16000, seed=0, index=i) for i, a in enumerate(arrays)]
        if perturbation.family == "noise":
            assert all(abs(measure_snr(a, b) - 0.0) < 1e-3 for a, b in zip(arrays, perturbed, strict=True))
        labels = [o["label"] for o in _direct_outputs(predictor, perturbed)]
        flips = sum(a != b for a, b in zip(clean_labels, labels, strict=True))
        assert row["flip_share"] == pytest.approx(flips / len(labels))
        assert row["metrics"]["uar"] == pytest.approx(_hand_uar(true, labels), abs=1e-12)
        assert row["delta"]["uar"] == pytest.approx(row["metrics"]["uar"] - clean_result.overall["uar"])
    assert robust.rows[0]["flip_share"] > 0  # 0 dB noise changes some decisions of a trained model


def test_tiny_model_learned_something(clean_result):
    """Guards the other tests: a model predicting one class for everything would make them weak."""
    assert len(set(clean_result.y_pred.tolist())) >= 2
    assert clean_result.overall["uar"] > 0.25


# ---------------------------------------------------------------------------------------------------
# Cross-corpus
# ---------------------------------------------------------------------------------------------------
def _features(arrays: list[np.ndarray]) -> np.ndarray:
    out = []
    for a in arrays:
        spectrum = np.abs(np.fft.rfft(a)) + 1e-9
        centroid = float((spectrum * np.arange(spectrum.size)).sum() / spectrum.sum()) / spectrum.size
        out.append([np.log(np.mean(a**2) + 1e-9), np.mean(np.abs(np.diff(np.sign(a)))) / 2, centroid])
    return np.asarray(out)


def _centroid_classifier(train, log: list):
    """Nearest class-centroid classifier on three signal statistics, with the pipeline contract."""
    names = train.features["label"].names
    feats, labels = _features(decode_audio_column(train)), np.asarray(train["label"])
    mean, std = feats.mean(axis=0), feats.std(axis=0) + 1e-9
    present = np.asarray([np.any(labels == c) for c in range(len(names))])
    z_train = (feats - mean) / std
    centroids = np.stack(
        [z_train[labels == c].mean(axis=0) if present[c] else mean * 0 for c in range(len(names))]
    )
    log.append(set(train["speaker"]))

    def predict(batch: list[dict]) -> list[dict]:
        z = (_features([b["array"] for b in batch]) - mean) / std
        logits = np.where(present, -((z[:, None, :] - centroids[None]) ** 2).sum(axis=-1), -np.inf)
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        return [
            {"label": names[int(p.argmax())], "scores": dict(zip(names, p.tolist(), strict=True))}
            for p in probs
        ]

    return predict


def test_cross_corpus_matrix_by_hand(emodb_subset, urdu_subset):
    from hf_ser.data import speaker_folds

    log: list = []
    corpora = {"emodb": emodb_subset, "urdu": urdu_subset}
    result = cross_corpus_matrix(
        corpora, lambda d: _centroid_classifier(d, log), in_corpus_folds=2, progress=False
    )
    shared = ["anger", "happiness", "neutral", "sadness"]
    assert result.labels == shared
    assert result.corpora == ["emodb", "urdu"]
    restricted = {}
    for name, dataset in corpora.items():
        names = dataset.features["label"].names
        rows = [i for i, label in enumerate(dataset["label"]) if names[label] in shared]
        restricted[name] = dataset.select(rows)
    # Off-diagonal: train on all of A (shared classes only), test on B.
    model = _centroid_classifier(restricted["emodb"], [])
    outputs = model([{"array": a, "sampling_rate": 16000} for a in decode_audio_column(restricted["urdu"])])
    names = urdu_subset.features["label"].names
    true = [names[i] for i in restricted["urdu"]["label"]]
    assert result.matrix[0, 1] == pytest.approx(_hand_uar(true, [o["label"] for o in outputs]), abs=1e-12)
    assert result.cells["emodb->urdu"]["n"] == len(true)
    # Diagonal: speaker-disjoint folds, pooled out-of-fold predictions.
    dataset = restricted["emodb"]
    names = dataset.features["label"].names
    arrays = decode_audio_column(dataset)
    pooled = [None] * len(dataset)
    for train_rows, test_rows in speaker_folds(dataset, n_folds=2, seed=0):
        assert not set(dataset.select(train_rows)["speaker"]) & set(dataset.select(test_rows)["speaker"])
        fold_model = _centroid_classifier(dataset.select(train_rows), [])
        for row, output in zip(test_rows, fold_model([{"array": arrays[k]} for k in test_rows]), strict=True):
            pooled[row] = output["label"]
    true = [names[i] for i in dataset["label"]]
    assert result.matrix[0, 0] == pytest.approx(_hand_uar(true, pooled), abs=1e-12)
    assert len(log) == 2 * (1 + 2)  # one model per corpus + one per fold
    restored = CrossCorpusResult.from_dict(json.loads(json.dumps(result.to_dict())))
    np.testing.assert_array_equal(restored.matrix, result.matrix)
    assert restored.cells == result.cells
    assert restored.labels == shared


def test_recipe_trainer_trains_with_the_finetune_recipe(tmp_path, urdu_subset):
    from hf_ser.training import TrainConfig, recipe_trainer

    config = TrainConfig(
        model_type="lstm_sa", pooling=None, model={"hidden_size": 8}, num_train_epochs=1,
        per_device_train_batch_size=10, learning_rate=1e-3, disable_tqdm=True,
    )  # fmt: skip
    train_fn = recipe_trainer(config, tmp_path)
    subset = restrict_to_labels(urdu_subset, ["sadness", "anger"])
    checkpoint = train_fn(subset)
    assert checkpoint == str(tmp_path / "run-00")
    assert (tmp_path / "run-00" / "model.safetensors").is_file()
    result = evaluate_model(checkpoint, subset, bootstrap=0, progress=False)
    assert result.labels == ["sadness", "anger"]
    assert result.label_alignment.model_only == []
    assert train_fn(subset) == str(tmp_path / "run-01")


# ---------------------------------------------------------------------------------------------------
# Reports and CLI
# ---------------------------------------------------------------------------------------------------
def test_write_report_files_figures_and_tables(tmp_path, predictor, emodb_subset, urdu_subset, clean_result):
    import matplotlib.image

    robust = evaluate_robustness(predictor, emodb_subset, ["noise"], clean=clean_result, progress=False)
    cross = cross_corpus_matrix(
        {"emodb": emodb_subset, "urdu": urdu_subset},
        lambda d: _centroid_classifier(d, []),
        in_corpus_folds=None,
        progress=False,
    )
    written = write_report(
        tmp_path, clean_result, robustness=robust, cross_corpus=cross, meta={"model": "tiny"}
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert {"overall", "by_sex", "by_speaker", "robustness", "cross_corpus", "fairness"} <= set(report)
    assert report["by_speaker"]["08"]["uar"] == pytest.approx(clean_result.groups["speaker"]["08"]["uar"])
    assert [row["name"] for row in report["robustness"]["perturbations"]][0] == "noise_snr20"
    assert report["cross_corpus"]["matrix"][0][0] is None  # diagonal skipped
    for name in ("confusion_matrix", "by_speaker", "by_sex", "robustness", "cross_corpus"):
        image = matplotlib.image.imread(written[name])
        assert image.ndim == 3, name
        assert image.shape[0] > 100, name
    tables = markdown_tables(report)
    speaker_row = next(line for line in tables["by_speaker"].splitlines() if line.startswith("| 08 |"))
    assert f"{clean_result.groups['speaker']['08']['uar']:.3f}" in speaker_row
    assert "noise_snr0" in tables["robustness"]
    assert "train emodb" in tables["cross_corpus"]
    markdown = (tmp_path / "report.md").read_text()
    assert "![Per speaker](by_speaker.png)" in markdown
    assert tables["fairness"] in markdown
    assert markdown.count("<table>") == 0
    assert (tmp_path / "report.html").read_text().count("<table>") >= 6


def test_cli_report_command(tmp_path, tiny_model_dir, data_dir, capsys):
    from hf_ser.app.cli import main

    out = tmp_path / "report"
    urdu = str(data_dir / "urdu")
    args = ["report", "--model", str(tiny_model_dir), "--corpus", "urdu", "--data-dir", urdu]
    options = ["--limit", "10", "--perturb", "noise_snr10,telephone", "--bootstrap", "20", "--out", str(out)]
    assert main([*args, *options]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["num_samples"] == 10
    assert report["bootstrap"]["replicates"] == 20
    assert [row["name"] for row in report["robustness"]["perturbations"]] == ["noise_snr10", "telephone"]
    assert sum(entry["n"] for entry in report["by_speaker"].values()) == 10
    assert report["meta"]["command"].startswith("hf-ser report --model ")
    assert (out / "report.html").is_file()
    assert (out / "by_sex.png").is_file()
    capsys.readouterr()
    assert main([*args, "--perturb", "hiss", "--out", str(out)]) == 2
    assert "Unknown perturbation 'hiss'" in capsys.readouterr().err
