"""Model cards: card data, rendering with huggingface_hub's ModelCard, offline validation, callback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard

from hf_ser.cards import (
    ModelCardValidationError,
    SERCardData,
    SERModelCardCallback,
    card_data_from_run,
    load_template,
    model_card_problems,
    render_model_card,
    save_model_card,
    validate_model_card,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DATA = REPO / "model_cards" / "example_card_data.json"
EXAMPLE_CARD = REPO / "model_cards" / "example_model_card.md"


def crossval_card_data() -> SERCardData:
    card_data = SERCardData(
        model_id="me/ser-emodb",
        labels=["anger", "neutral", "sadness"],
        datasets=["emodb"],
        language=["de"],
        base_model="facebook/wav2vec2-base",
        protocol="leave-one-speaker-out, 3 folds",
        architecture={"model_type": "hf_ser", "backbone": "wav2vec2", "pooling": "attentive_stats"},
        num_parameters=94_400_000,
        hyperparameters={"learning_rate": 3e-5, "seed": 0},
    )
    for fold, (uar, wa) in enumerate([(0.70, 0.72), (0.74, 0.75), (0.69, 0.70)]):
        card_data.add_fold_result(
            {"eval_uar": uar, "eval_wa": wa, "eval_runtime": 3.0, "epoch": 2.0}, fold=fold, seed=0
        )
    card_data.set_group_results(
        "sex", {"female": {"uar": 0.72, "n": 100, "ci": {"uar": [0.6, 0.8]}}, "male": {"uar": 0.68, "n": 90}}
    )
    card_data.set_group_results("speaker", {"03": {"uar": 0.81, "n": 49}, "08": {"uar": 0.55, "n": 58}})
    card_data.eval_rows.append(
        {"epoch": 1.0, "step": 10, "training_loss": 1.2, "validation_loss": 1.1, "uar": 0.5}
    )
    card_data.split_sizes = {"train": 400, "validation": 135}
    card_data.label_counts = {"train": {"anger": 100, "neutral": 150, "sadness": 150}}
    return card_data


def test_fold_summary_is_mean_and_sample_std() -> None:
    summary = crossval_card_data().fold_summary()
    assert list(summary) == ["uar", "wa"]  # timings and the epoch counter are not metrics
    assert summary["uar"]["mean"] == pytest.approx(0.71)
    assert summary["uar"]["std"] == pytest.approx(0.026458, abs=1e-6)  # ddof=1, as papers report
    assert (summary["uar"]["min"], summary["uar"]["max"], summary["uar"]["n"]) == (0.69, 0.74, 3)


def test_with_several_seeds_the_summary_is_over_seeds_of_fold_means() -> None:
    card_data = SERCardData(datasets=["ravdess"], protocol="5 folds x 2 seeds")
    for seed, values in ((0, (0.60, 0.64)), (1, (0.50, 0.58))):
        for fold, value in enumerate(values):
            card_data.add_fold_result({"uar": value}, fold=fold, seed=seed)
    summary = card_data.fold_summary()["uar"]
    assert (summary["mean"], summary["n"], summary["over"]) == (0.58, 2, "seeds")
    assert summary["std"] == pytest.approx(0.056569, abs=1e-6)  # std of the per-seed means 0.62 and 0.54
    text = str(render_model_card(card_data))
    row = r"^\| UAR \(unweighted average recall\) \| 0\.5800 ± 0\.0566 \| 0\.5400 \| 0\.6200 \| 2 seeds \|$"
    assert re.search(row, text, re.M)
    assert "mean over 2 seeds (std 0.0566)" in text


def test_rendered_card_states_metadata_results_groups_and_usage() -> None:
    card = render_model_card(crossval_card_data())
    text = str(card)
    validate_model_card(card)
    metadata = yaml.safe_load(re.match(r"^---\n(.*?)\n---\n", text, re.DOTALL).group(1))
    assert metadata["library_name"] == "hf_ser"
    assert metadata["pipeline_tag"] == "audio-classification"
    assert metadata["base_model"] == "facebook/wav2vec2-base"
    assert metadata["language"] == ["de"]
    assert {"hf_ser", "speech-emotion-recognition", "wav2vec2"} <= set(metadata["tags"])
    (index,) = metadata["model-index"]
    assert index["name"] == "me/ser-emodb"
    (result,) = index["results"]
    assert result["dataset"] == {
        "name": "EmoDB (Berlin Database of Emotional Speech)",
        "type": "emodb",
        "split": "leave-one-speaker-out, 3 folds",
    }
    uar = next(m for m in result["metrics"] if m["type"] == "recall")
    assert uar["value"] == 0.71
    assert uar["args"] == {"average": "macro"}
    assert "std 0.0265" in uar["name"]
    assert re.search(r"^# ser-emodb$", text, re.M)
    assert re.search(
        r"fine-tuned from \[facebook/wav2vec2-base\]\(https://huggingface.co/facebook/wav2vec2-base\)", text
    )
    assert re.search(r'classifier = pipeline\("me/ser-emodb"\)', text)
    assert re.search(r'AutoModelForAudioClassification.from_pretrained\("me/ser-emodb"\)', text)
    assert re.search(
        r"\| EmoDB \(Berlin Database of Emotional Speech\) \| leave-one-speaker-out, 3 folds \| "
        r"UAR \(unweighted average recall\) \| 0\.7100 ± 0\.0265 \|",
        text,
    )
    assert re.search(r"^### Cross-validation \(3 runs\)$", text, re.M)
    assert re.search(r"^\| fold \| seed \| uar \| wa \|$", text, re.M)
    assert re.search(r"^\| 1 \| 0 \| 0\.7400 \| 0\.7500 \|$", text, re.M)
    assert re.search(
        r"^\| UAR \(unweighted average recall\) \| 0\.7100 ± 0\.0265 \| 0\.6900 \| 0\.7400 \| 3 runs \|$",
        text,
        re.M,
    )
    assert re.search(
        r"^### Results per sex$\n\n^\| sex \| clips \| UAR \(unweighted average recall\) \|$", text, re.M
    )
    assert re.search(r"^\| female \| 100 \| 0\.7200 \|$", text, re.M)
    assert re.search(r"^\| 08 \| 58 \| 0\.5500 \|$", text, re.M)
    assert re.search(r"worst speaker: 0\.2600 UAR", text)
    assert re.search(r"^\| train \| 400 \| - \| anger: 100, neutral: 150, sadness: 150 \|$", text, re.M)
    assert re.search(r"^\| 1\.00 \| 10 \| 1\.2000 \| 1\.1000 \| 0\.5000 \|$", text, re.M)
    assert re.search(r"^## Limitations\n\n- Emotion recognition from speech is uncertain", text, re.M)
    assert re.search(r"^- transformers: \d+\.\d+", text, re.M)
    # the card loads back through huggingface_hub with its evaluation results
    reloaded = ModelCard(text)
    assert [(r.metric_type, r.metric_value) for r in reloaded.data.eval_results] == [
        ("recall", 0.71),
        ("accuracy", 0.7233),
    ]


def test_regression_card_uses_dimensional_wording_and_ccc() -> None:
    card_data = SERCardData(
        model_id="me/adv",
        task="regression",
        regression_targets=["arousal", "dominance", "valence"],
        datasets=["msp_podcast"],
        language=["en"],
    )
    card_data.add_result("ccc_valence", 0.638, dataset="msp_podcast", split="test1")
    card_data.add_result(
        "ccc_valence", 0.64, dataset="msp_podcast", split="test1"
    )  # replaces, not duplicates
    text = str(render_model_card(card_data))
    validate_model_card(text)
    assert "predicts the dimensional emotion values arousal, dominance, valence" in text
    assert "dict(zip(model.config.regression_targets, outputs.logits[0].tolist()))" in text
    assert "id2label" not in text
    assert re.search(r"- type: ccc\n\s+value: 0\.64\n\s+name: CCC valence\n\s+config: valence", text)
    assert text.count("CCC valence |") == 1


def test_every_corpus_hf_ser_loads_has_card_facts() -> None:
    """The recipes pass their corpus name as the card's dataset: each must name its language and source."""
    from hf_ser.cards.card_data import CORPORA
    from hf_ser.data import list_corpora

    assert set(CORPORA) == set(list_corpora()) - {"folder"}
    assert all({"name", "language", "style", "url"} <= set(facts) for facts in CORPORA.values())


def test_card_without_results_still_validates() -> None:
    text = str(render_model_card(SERCardData()))
    validate_model_card(text)
    assert "No evaluation results were recorded" in text
    assert "model-index" not in text
    assert "model_name" not in text
    assert 'pipeline("path/to/checkpoint")' in text


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda m: m.update(license="my-license"), r"license 'my-license' is not a Hub license id"),
        (lambda m: m.update(license="other"), r"license 'other' needs `license_name` and `license_link`"),
        (lambda m: m.update(language=["German"]), r"language 'German' is not an ISO 639"),
        (
            lambda m: m.update(pipeline_tag="text-classification"),
            r"pipeline_tag must be 'audio-classification'",
        ),
        (lambda m: m.update(library_name="transformers"), r"library_name must be 'hf_ser'"),
        (
            lambda m: m.update(base_model="not a repo id"),
            r"base_model entry 'not a repo id' is not a Hub repo id",
        ),
        (lambda m: m.update(tags=["speech emotion"]), r"tag 'speech emotion' must be a non-empty string"),
        (lambda m: m["model-index"][0]["results"][0].update(metrics=[]), r"metrics must be a non-empty list"),
        (
            lambda m: m["model-index"][0]["results"][0]["metrics"][0].update(value=None),
            r"metrics\[0\]\.value must be a number or string",
        ),
        (
            lambda m: m["model-index"][0]["results"][0]["metrics"][0].update(value=float("nan")),
            r"must be finite",
        ),
        (
            lambda m: m["model-index"][0]["results"][0]["dataset"].pop("name"),
            r"rejects the metadata|needs string",
        ),
        (lambda m: m["model-index"][0].pop("name"), r"rejects the metadata|needs a non-empty string `name`"),
    ],
)
def test_validation_reports_each_metadata_problem(edit, problem) -> None:
    card = render_model_card(crossval_card_data())
    metadata = card.data.to_dict()
    edit(metadata)
    text = "---\n" + yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True) + "---\n" + card.text
    problems = model_card_problems(text)
    assert any(re.search(problem, p) for p in problems), problems
    with pytest.raises(ModelCardValidationError, match="Invalid model card metadata"):
        validate_model_card(text)


def test_validation_rejects_cards_without_metadata_block() -> None:
    assert model_card_problems("# just text\n") == [
        "The card does not start with a `---` YAML metadata block."
    ]
    assert "not valid YAML" in model_card_problems("---\nkey: [unclosed\n---\ntext\n")[0]


def test_card_data_round_trips_and_rejects_bad_values(tmp_path: Path) -> None:
    card_data = crossval_card_data()
    card_data.add_result("uar", 0.7, dataset="emodb", split="test", std=0.01, num_runs=3)
    assert SERCardData.load(card_data.save(tmp_path / "card.json")) == card_data
    with pytest.raises(ValueError, match=r"Unknown SERCardData field\(s\) \['colour'\]"):
        SERCardData.from_dict({"colour": "red"})
    with pytest.raises(
        ValueError, match="Unknown task 'ranking'; choose one of classification, regression, multitask"
    ):
        SERCardData(task="ranking")
    with pytest.raises(ValueError, match="must be a finite number"):
        card_data.add_result("uar", float("nan"), dataset="emodb")


def test_save_model_card_writes_card_and_data(tmp_path: Path) -> None:
    save_model_card(crossval_card_data(), tmp_path)
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.library_name == "hf_ser"
    assert SERCardData.load(tmp_path / "card_data.json").model_id == "me/ser-emodb"


def test_template_is_package_data_and_documented_copy_matches() -> None:
    template = load_template()
    assert "{{ card_data }}" in template
    assert (REPO / "model_cards" / "model_card.md").read_text(encoding="utf-8") == template
    with pytest.raises(
        ValueError, match="Unknown card template 'missing.md'; available templates: model_card.md"
    ):
        load_template("missing.md")


def test_example_card_in_model_cards_is_up_to_date() -> None:
    """model_cards/example_model_card.md renders example_card_data.json (regenerate: see its README)."""
    card = render_model_card(SERCardData.load(EXAMPLE_DATA))
    validate_model_card(card)
    assert str(card) == EXAMPLE_CARD.read_text(encoding="utf-8")


def test_card_data_from_run_reads_recipe_artifacts(tmp_path: Path, tiny_checkpoint_dir: Path) -> None:
    (tmp_path / "config.json").write_text((tiny_checkpoint_dir / "config.json").read_text())
    (tmp_path / "train_config.yaml").write_text(
        yaml.safe_dump(
            {
                "corpus": "emodb",
                "backbone": "facebook/wav2vec2-base",
                "protocol": "speaker_folds",
                "folds": 5,
                "learning_rate": 1e-4,
                "seed": 1,
                "lora": False,
                "max_steps": None,
            }
        )
    )
    (tmp_path / "metrics.json").write_text(
        json.dumps(
            {
                "train": {"uar": 0.99},
                "validation": {"uar": 0.6, "loss": 1.0},
                "test": {"uar": 0.55, "macro_f1": 0.5},
            }
        )
    )
    runs = [  # the recipes' crossval summary: per run the test metrics; an older run with only "value"
        {
            "fold": 0,
            "seed": 42,
            "value": 0.5,
            "test_split": "test",
            "test": {"uar": 0.5, "wa": 0.6, "runtime": 1.0},
        },
        {"fold": 1, "seed": 42, "value": 0.7, "test_split": "test", "test": {"uar": 0.7, "wa": 0.75}},
        {"fold": 2, "seed": 42, "value": 0.6, "output_dir": "runs/fold2"},
    ]
    summary = {"metric": "uar", "mean": 0.6, "std": 0.08, "max": 0.7, "over": "folds", "runs": runs}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.json").write_text(
        json.dumps(
            {
                "overall": {"uar": 0.55},
                "by_sex": {"female": {"n": 10, "uar": 0.6}, "male": {"n": 8, "uar": 0.5}},
                "by_speaker": {},
            }
        )
    )
    card_data = card_data_from_run(tmp_path)
    assert card_data.labels == ["anger", "happiness", "neutral", "sadness"]
    assert card_data.architecture["backbone"] == "wav2vec2"
    assert card_data.architecture["pooling"] == "attentive_stats"
    assert (card_data.datasets, card_data.language, card_data.base_model) == (
        ["emodb"],
        ["de"],
        "facebook/wav2vec2-base",
    )
    assert card_data.protocol == "speaker-independent folds, 5 folds"
    assert card_data.hyperparameters == {"learning_rate": 1e-4, "seed": 1}
    assert sorted((r.split, r.metric, r.value) for r in card_data.results) == [
        ("test", "macro_f1", 0.5),
        ("test", "uar", 0.55),
        ("validation", "uar", 0.6),
    ]
    assert card_data.fold_results == [
        {"fold": 0, "seed": 42, "uar": 0.5, "wa": 0.6},
        {"fold": 1, "seed": 42, "uar": 0.7, "wa": 0.75},
        {"fold": 2, "seed": 42, "uar": 0.6},
    ]
    assert card_data.fold_summary()["uar"] == {
        "mean": 0.6,
        "std": 0.1,
        "min": 0.5,
        "max": 0.7,
        "n": 3,
        "over": "runs",
    }
    assert card_data.group_results == {"sex": {"female": {"n": 10, "uar": 0.6}, "male": {"n": 8, "uar": 0.5}}}
    validate_model_card(render_model_card(card_data))
    with pytest.raises(ValueError, match="has no config.json"):
        card_data_from_run(tmp_path / "report")


def test_callback_fills_card_data_during_training(tmp_path: Path, tiny_ser_model) -> None:
    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    model = tiny_ser_model(pooling="mean")
    rng = np.random.default_rng(0)
    rows = {
        "input_values": [rng.standard_normal(4000).astype(np.float32) for _ in range(6)],
        "label": [0, 1, 2, 3, 0, 1],
    }
    dataset = Dataset.from_dict(rows).with_format("torch")

    def collate(batch):
        return {
            "input_values": torch.stack([b["input_values"] for b in batch]),
            "labels": torch.stack([b["label"] for b in batch]),
        }

    callback = SERModelCardCallback(SERCardData(datasets=["emodb"], language=["de"]))
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=3,
        learning_rate=1e-3,
        eval_strategy="steps",
        eval_steps=2,
        logging_steps=1,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        seed=3,
        disable_tqdm=True,
        label_names=["labels"],
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        eval_dataset=dataset,
        data_collator=collate,
        callbacks=[callback],
    )
    trainer.train()
    card_data = callback.card_data
    assert card_data.labels == ["anger", "happiness", "neutral", "sadness"]
    assert card_data.architecture["pooling"] == "mean"
    assert card_data.num_parameters == sum(p.numel() for p in model.parameters())
    assert 0 < card_data.num_trainable_parameters <= card_data.num_parameters
    assert card_data.hyperparameters["learning_rate"] == 1e-3
    assert card_data.hyperparameters["max_steps"] == 2
    assert card_data.hyperparameters["seed"] == 3
    assert card_data.hyperparameters["total_train_batch_size"] == 3
    assert card_data.split_sizes == {"train": 6, "validation": 6}
    assert card_data.label_counts["train"] == {"anger": 2, "happiness": 2, "neutral": 1, "sadness": 1}
    (row,) = card_data.eval_rows
    assert row["step"] == 2
    assert isinstance(row["training_loss"], float)
    assert isinstance(row["validation_loss"], float)
    assert not any(key.endswith(("runtime", "per_second")) for key in row)
    text = str(render_model_card(card_data))
    validate_model_card(text)
    assert re.search(r"^\| learning_rate \| 0\.001 \|$", text, re.M)
    assert re.search(r"^\| 1\.00 \| 2 \| \d\.\d{4} \| \d\.\d{4} \|$", text, re.M)


def test_the_built_in_default_models_card_validates_offline() -> None:
    from hf_ser.inference.pipeline import DEFAULT_MODEL_DIR

    card = (DEFAULT_MODEL_DIR / "README.md").read_text(encoding="utf-8")
    validate_model_card(card)
    assert ModelCard(card).data.eval_results, "the default model's card states its cross-validated results"
