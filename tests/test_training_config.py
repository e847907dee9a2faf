"""Recipe configuration: YAML + flag merging, validation before any compute, shipped configs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

from hf_ser.training.config import (
    TrainConfig,
    field_descriptions,
    known_keys,
    load_yaml,
    parse_config,
    usage,
)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "recipes" / "configs").glob("*.yaml"))
DATA_DIR = Path(os.environ.get("HF_SER_DATA_DIR", REPO.parent / "shared" / "data"))


def test_defaults_are_wav2vec2_base_categorical_attentive():
    cfg = parse_config([])
    assert (cfg.model_type, cfg.backbone, cfg.task, cfg.pooling) == (
        "ser",
        "facebook/wav2vec2-base",
        "classification",
        "attentive_stats",
    )
    assert cfg.freeze_feature_encoder
    assert not cfg.resume


def test_flags_override_yaml_and_are_typed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "learning_rate": 1e-3,
                "max_steps": 10,
                "model": {"projector_size": 64},
                "lora_target_modules": ["q_proj"],
            }
        )
    )
    cfg = parse_config(
        [
            "--config",
            str(path),
            "--max_steps",
            "4",
            "--learning_rate=3e-5",
            "--resume",
            "--model.layer_weighting",
            "weighted",
            "--folds",
            "none",
            "--bf16",
            "false",
            "--labels",
            "anger,neutral",
            "--max_train_seconds",
            "2",
        ]
    )
    assert cfg.max_steps == 4
    assert cfg.learning_rate == pytest.approx(3e-5)
    assert cfg.resume is True
    assert cfg.model == {"projector_size": 64, "layer_weighting": "weighted"}
    assert cfg.folds is None
    assert cfg.bf16 is False
    assert cfg.labels == ["anger", "neutral"]
    assert cfg.lora_target_modules == ["q_proj"]
    assert cfg.max_train_seconds == 2.0


def test_help_lists_every_key_as_a_flag():
    text = usage()
    assert all(f"--{key} (default" in text for key in known_keys())


def test_help_describes_every_key_from_the_docstring():
    descriptions = field_descriptions()
    assert set(descriptions) == set(known_keys())  # documented keys are exactly the config's keys
    assert all(len(text) > 8 for text in descriptions.values()), descriptions
    lines = usage().splitlines()
    line = lines.index("  --seed (default: 42)")
    assert lines[line + 1].strip() == "random seed."
    assert "Run length" in descriptions["max_steps"]
    assert "Run length" in descriptions["num_train_epochs"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--lerning_rate", "1e-4"], "Did you mean 'learning_rate'"),
        (["--max_steps", "four"], "expects an integer"),
        (["--task", "ranking"], "`task` must be one of"),
        (["--resume", "maybe"], "expects true/false"),
        (["--max_steps", "0"], "max_steps"),
        (["--folds", "1"], "folds"),
        (["--ctc_alpha", "0.1", "--max_train_seconds", "3"], "transcript"),
        (["--lora", "--model_type", "lstm_sa"], "lora"),
        (["--pooling.size", "3"], "not a mapping"),
        (["--max_steps"], "needs a value"),
        (["max_steps", "3"], "Expected a flag"),
    ],
)
def test_bad_flags_fail_with_a_clear_message(argv, message):
    with pytest.raises(ValueError, match=message):
        parse_config(argv)


def test_unknown_yaml_key_lists_known_keys(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("learning_rate: 1.0e-4\nbatch_size: 8\n")
    with pytest.raises(ValueError, match="Unknown config key 'batch_size'") as error:
        parse_config(["--config", str(path)])
    assert "per_device_train_batch_size" in str(error.value)
    assert str(path) in str(error.value)


def test_missing_config_file():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        parse_config(["--config", "/nonexistent/config.yaml"])


def test_replace_and_yaml_round_trip(tmp_path):
    cfg = TrainConfig(max_steps=3).replace(**{"model.hidden_size": 32, "seed": 5})
    cfg.to_yaml(tmp_path / "c.yaml")
    again = TrainConfig(**load_yaml(tmp_path / "c.yaml"))
    assert again == cfg
    assert again.model == {"hidden_size": 32}


@pytest.mark.parametrize(
    "corpus, language",
    [("emodb", "de"), ("urdu", "ur"), ("ravdess", "en"), ("tess", "en"), ("crema_d", "en"), ("iemocap", "en"),
     ("msp_podcast", "en"), ("turev", "tr"), ("folder", None)],
)  # fmt: skip
def test_model_card_facts_from_the_config(corpus, language, tmp_path):
    from hf_ser.training.finetune import recipe_card

    card = recipe_card(TrainConfig(corpus=corpus, output_dir=str(tmp_path / "run"), augment="light"))
    assert card.datasets == [corpus]
    assert card.language == ([language] if language else [])
    assert card.model_name == "run"
    assert card.hyperparameters["augment"] == "light"
    assert card.base_model == "facebook/wav2vec2-base"  # a Hub id is the card's base_model, a local path not:
    assert recipe_card(TrainConfig(corpus=corpus, backbone=str(tmp_path))).base_model is None
    assert recipe_card(TrainConfig(model_type="lstm_sa")).base_model is None
    speeds = recipe_card(TrainConfig(speed_perturbation=[0.9, 1.1], test_time_speeds=[0.95])).hyperparameters
    assert speeds["speed_perturbation"] == [0.9, 1.1]
    assert speeds["test_time_speeds"] == [0.95]
    assert "test_time_speeds" not in card.hyperparameters  # unset keys stay off the card


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_parse_and_name_valid_model_options(path):
    from hf_ser.training.model_factory import check_model_options

    cfg = parse_config(["--config", str(path)])
    check_model_options(cfg)


LSTM_SA_CONFIGS = [p for p in CONFIGS if p.stem.startswith(("lstm_sa_h", "reslstm_sa_h"))]


@pytest.mark.parametrize("path", LSTM_SA_CONFIGS, ids=[p.name for p in LSTM_SA_CONFIGS])
def test_lstm_sa_configs_train_on_every_non_test_speaker_and_keep_the_final_weights(path):
    """The shipped LSTM-SA protocol (benchmarks/small_models_crossval.py `v3-tta`): no validation hold-out,
    the training split is every speaker but the test one, no evaluation, no best-checkpoint reload; speed
    perturbation in training and speed averaging of the test predictions."""
    from hf_ser.training.finetune import build_training_arguments
    from hf_ser.training.preparation import load_dataset_for, split_data

    cfg = parse_config(["--config", str(path), "--data_dir", str(DATA_DIR / "emodb"), "--fold", "3"])
    dataset = load_dataset_for(cfg)
    data = split_data(cfg, dataset)
    assert data.validation is None
    assert len(data.speakers["test"]) == 1
    assert sorted(data.speakers["train"] + data.speakers["test"]) == sorted(set(dataset["speaker"]))
    args = build_training_arguments(cfg, data.validation is not None, len(data.train))
    assert args.eval_strategy == "no"
    assert not args.load_best_model_at_end
    assert args.num_train_epochs == 30
    assert args.learning_rate == pytest.approx(1e-2)
    assert cfg.speed_perturbation == [0.85, 0.9, 0.95, 1.05, 1.1, 1.15]  # recipe "v3-tta"
    assert cfg.test_time_speeds == [0.9, 1.1]


def test_unknown_model_option_rejected_before_compute():
    from hf_ser.training.model_factory import check_model_options

    with pytest.raises(ValueError, match="Unknown `model` option.*'poolingg'.*Known options"):
        check_model_options(parse_config(["--model.poolingg", "mean"]))
    with pytest.raises(ValueError, match="top-level"):
        check_model_options(parse_config(["--model.task", "regression"]))


def _finetune_fails_fast(argv, error, match):
    from hf_ser.training import run_finetune

    start = time.monotonic()
    with pytest.raises(error, match=match):
        run_finetune(parse_config(argv))
    assert time.monotonic() - start < 20  # no model built, nothing trained


def test_missing_data_dir_fails_before_compute(tmp_path):
    _finetune_fails_fast(
        ["--data_dir", str(tmp_path / "nope"), "--output_dir", str(tmp_path / "o")],
        FileNotFoundError,
        "does not exist",
    )
    _finetune_fails_fast(["--output_dir", str(tmp_path / "o")], ValueError, "data_dir` is required")
    assert not (tmp_path / "o").exists()


def test_labels_that_do_not_fit_the_task_fail_before_compute(tmp_path):
    emodb = str(DATA_DIR / "emodb")
    out = ["--output_dir", str(tmp_path / "o")]
    _finetune_fails_fast(
        ["--data_dir", emodb, "--task", "regression", *out], ValueError, "needs regression columns .* lacks"
    )
    _finetune_fails_fast(["--data_dir", emodb, "--ctc_alpha", "0.1", *out], ValueError, "transcripts")
    _finetune_fails_fast(
        ["--data_dir", emodb, "--labels", "anger", *out], ValueError, "at least 2 emotion classes"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model_type", "lstm_sa", "--feature_normalization", "cmvn"], "feature_normalization.*utterance"),
        (["--feature_normalization", "global"], "applies to the MFCC.*'ser'"),
    ],
)
def test_feature_normalization_is_validated(argv, message):
    with pytest.raises(ValueError, match=message):
        parse_config(argv)
    assert parse_config([]).feature_normalization == "utterance"  # today's behaviour stays the default


def test_feature_extractor_options_checked_before_compute():
    from hf_ser.training.model_factory import build_model, check_model_options

    with pytest.raises(ValueError, match=r"Unknown `feature_extractor` option.*'hop'.*hop_length"):
        check_model_options(parse_config(["--model_type", "lstm_sa", "--feature_extractor.hop", "512"]))
    with pytest.raises(ValueError, match="not to model_type 'ser'"):
        check_model_options(parse_config(["--feature_extractor.hop_length", "512"]))
    argv = ["--model_type", "lstm_sa", "--pooling", "null", "--feature_extractor.hop_length", "512"]
    cfg = parse_config(argv)
    check_model_options(cfg)
    _, extractor = build_model(cfg, {0: "anger", 1: "neutral"}, [])
    assert extractor.hop_length == 512
    assert extractor.normalization == "utterance"


@pytest.mark.parametrize(
    "value, expected",
    [("[0.9, 1.1]", [0.9, 1.1]), ("0.8,1.2", [0.8, 1.2]), ("null", None)],
)
def test_speed_perturbation_flag_is_a_list_of_speeds(value, expected):
    assert parse_config(["--speed_perturbation", value]).speed_perturbation == expected


@pytest.mark.parametrize("value", ["[]", "[0, 1.1]", "fast", "[-0.9]"])
def test_bad_speed_perturbation_names_the_key(value):
    with pytest.raises(ValueError, match="speed_perturbation.*positive speeds"):
        parse_config(["--speed_perturbation", value])


def test_speed_perturbation_draws_one_speed_per_clip_reproducibly():
    """``speed_perturbation: [0.5, 2.0]`` alone: every clip comes out at 1x, 0.5x or 2x speed (length 2x,
    1x or 0.5x), one speed per clip and epoch, all three speeds occur over epochs, and the same seed gives
    the same speeds (no sequential state: the draw depends on seed, epoch and clip only)."""
    import numpy as np

    from hf_ser.training.preparation import build_augmentation

    assert build_augmentation(parse_config([])) is None
    clip = np.sin(np.linspace(0, 800, 16000)).astype(np.float32)

    def lengths(seed: int) -> list[int]:
        augment = build_augmentation(
            parse_config(["--speed_perturbation", "[0.5, 2.0]", "--seed", str(seed)])
        )
        drawn = []
        for epoch in range(30):
            augment.epoch = epoch
            drawn.append(len(augment(clip, 16000)))
        assert len(augment(clip, 16000)) == drawn[-1]  # the same clip in the same epoch: the same speed
        return drawn

    first = lengths(1)
    assert set(first) == {8000, 16000, 32000}
    assert first == lengths(1)
    assert first != lengths(2)
    preset = build_augmentation(parse_config(["--speed_perturbation", "[0.5]", "--augment", "light"]))
    seen = set()
    for epoch in range(30):
        preset.epoch = epoch
        seen.add(len(preset(clip, 16000)))
    assert seen == {16000, 32000}
