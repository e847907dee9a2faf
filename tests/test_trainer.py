"""Tests for hf_ser.training.trainer: what `SERTrainer` derives from the model when it is not given."""

from __future__ import annotations

import datasets
import pytest
from conftest import EMODB_CLIPS, TINY_LABELS
from transformers import TrainingArguments

from hf_ser.data import SERDataCollator
from hf_ser.training import SERTrainer


@pytest.fixture(scope="module")
def four_clips(data_dir) -> datasets.Dataset:
    """Four real EmoDB clips (anger, neutral, sadness, happiness) with a `ClassLabel` in TINY_LABELS order."""
    names = list(TINY_LABELS.values())
    labels = [names.index(emotion) for emotion in ("anger", "neutral", "sadness", "happiness")]
    # Audio.encode_example needs torchcodec even for paths (absent on a fresh machine), so the column is
    # written as the Audio storage struct and cast afterwards, as hf_ser's corpus loaders do.
    storage = {"bytes": datasets.Value("binary"), "path": datasets.Value("string")}
    features = datasets.Features({"audio": storage, "label": datasets.ClassLabel(names=names)})
    audio = [{"path": str(data_dir / "emodb" / name), "bytes": None} for name in EMODB_CLIPS]
    dataset = datasets.Dataset.from_dict({"audio": audio, "label": labels}, features=features)
    return dataset.cast_column("audio", datasets.Audio(decode=False))


def _args(tmp_path, **changes) -> TrainingArguments:
    settings = {
        "output_dir": str(tmp_path),
        "max_steps": 2,
        "per_device_train_batch_size": 2,
        "per_device_eval_batch_size": 4,
        "learning_rate": 1e-3,
        "use_cpu": True,
        "report_to": "none",
        "save_strategy": "no",
        "disable_tqdm": True,
    }
    return TrainingArguments(**{**settings, **changes})


def test_trainer_derives_collator_and_metrics_from_the_model(
    tiny_ser_model, feature_extractor, four_clips, tmp_path
):
    model = tiny_ser_model(pooling="mean", backbone_overrides={"num_hidden_layers": 1})
    trainer = SERTrainer(
        model=model,
        args=_args(tmp_path),
        processing_class=feature_extractor,
        train_dataset=four_clips,
        eval_dataset=four_clips,
    )
    assert isinstance(trainer.data_collator, SERDataCollator)
    assert trainer.data_collator.label_column == "label"
    assert trainer.data_collator.regression_columns is None
    assert trainer.train().global_step == 2
    metrics = trainer.evaluate()
    assert set(metrics) >= {"eval_loss", "eval_uar", "eval_wa", "eval_macro_f1", "eval_weighted_f1"}
    assert 0.0 <= metrics["eval_uar"] <= 1.0


def test_trainer_defaults_for_multitask_and_given_arguments_win(tiny_ser_model, feature_extractor, tmp_path):
    model = tiny_ser_model(task="multitask", pooling="mean")
    trainer = SERTrainer(model=model, args=_args(tmp_path), processing_class=feature_extractor)
    assert trainer.data_collator.label_column == "label"
    assert trainer.data_collator.regression_columns == ["arousal", "dominance", "valence"]
    assert trainer.args.label_names == ["labels", "regression_labels"]
    mine = SERDataCollator(feature_extractor, label_column=None)
    given = SERTrainer(
        model=model, args=_args(tmp_path), data_collator=mine, compute_metrics=len, processing_class=None
    )
    assert given.data_collator is mine
    assert given.compute_metrics is len


def test_trainer_refuses_datasets_whose_classes_differ_from_the_model(
    tiny_ser_model, feature_extractor, four_clips, tmp_path
):
    model = tiny_ser_model(pooling="mean", id2label={0: "neutral", 1: "anger", 2: "happiness", 3: "sadness"})
    with pytest.raises(ValueError, match=r"classes \['anger', 'happiness', 'neutral', 'sadness'\] differ"):
        SERTrainer(
            model=model, args=_args(tmp_path), processing_class=feature_extractor, train_dataset=four_clips
        )
