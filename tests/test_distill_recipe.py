"""End-to-end tests of recipes/distill.py: tiny random teachers saved to disk, a tiny Wav2Small student,
real EmoDB clips (16-clip subset, 4 speaker folds).

The teachers are tiny random wav2vec2 hf_ser models whose output layers are scaled up, so that their
soft targets differ from clip to clip (a random head is near-uniform) and the student has something to
learn. Teacher calls are counted by wrapping `trainer_distillation.teacher_targets`, through which every
labelling path (cached or on the fly) goes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import make_tiny_ser_model, read_clip

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HF_SER_DATA_DIR", REPO.parent / "shared" / "data"))
EMODB = DATA_DIR / "emodb"
EMODB_CLASSES = ["anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"]

FAST = {
    "corpus": "emodb", "data_dir": str(EMODB), "max_samples": 16, "folds": 4, "use_validation": "false",
    "eval_strategy": "no", "per_device_train_batch_size": 4, "per_device_eval_batch_size": 8,
    "max_train_seconds": 1, "max_eval_seconds": 1, "logging_steps": 1, "disable_tqdm": "true",
    "learning_rate": 5e-3, "lr_scheduler_type": "constant", "warmup_ratio": 0, "save_total_limit": 1,
    "model.conv_channels": "[8, 8, 8, 8]", "model.hidden_size": 16, "model.classifier_dropout": 0.0,
}  # fmt: skip


def flags(**changes) -> list[str]:
    merged = {**FAST, **changes}
    return [item for key, value in merged.items() if value is not None for item in (f"--{key}", str(value))]


def run_distill(argv: list[str]):
    import importlib.util

    spec = importlib.util.spec_from_file_location("recipe_distill", REPO / "recipes" / "distill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def save_teacher(tiny_checkpoint, name: str, seed: int, scale: float, **config) -> str:
    """Save a tiny one-layer hf_ser teacher whose output layers are scaled by ``scale``."""
    from transformers import Wav2Vec2FeatureExtractor

    model = make_tiny_ser_model(seed=seed, backbone_overrides={"num_hidden_layers": 1}, **config)
    with torch.no_grad():
        for head in ("classifier", "regressor"):
            if getattr(model, head, None) is not None:
                getattr(model, head).out_proj.weight.mul_(scale)
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True, do_normalize=True)
    return str(tiny_checkpoint(name, model=model, extractor=extractor))


@pytest.fixture(scope="module")
def teachers(tiny_checkpoint) -> dict[str, str]:
    emodb_labels = dict(enumerate(EMODB_CLASSES))
    return {
        "classes": save_teacher(tiny_checkpoint, "classes", 0, 40.0, id2label=emodb_labels),
        "classes_b": save_teacher(tiny_checkpoint, "classes_b", 1, 40.0, id2label=emodb_labels),
        "four_classes": save_teacher(
            tiny_checkpoint, "four", 0, 1.0, id2label=dict(enumerate(EMODB_CLASSES[:4]))
        ),
        "adv": save_teacher(tiny_checkpoint, "adv", 2, 20.0, task="regression"),
    }


@pytest.fixture(scope="module")
def unlabelled(tmp_path_factory) -> Path:
    """Four 1 s EmoDB clips of speaker 16 as WAV files in a directory: audio without labels."""
    directory = tmp_path_factory.mktemp("unlabelled")
    for name in ("16a01Wb.flac", "16a01Fc.flac", "16a01Tb.flac", "16a01Nc.flac"):
        sf.write(directory / f"{name[:-5]}.wav", read_clip(EMODB / name, 1.0), 16000)
    return directory


@pytest.fixture
def teacher_calls(monkeypatch) -> list[int]:
    """Clips per teacher call (every labelling path goes through `trainer_distillation.teacher_targets`)."""
    import hf_ser.training.trainer_distillation as kd

    calls: list[int] = []
    original = kd.teacher_targets

    def counting(teacher, extractor, clips, sampling_rate=16000):
        calls.append(len(clips))
        return original(teacher, extractor, clips, sampling_rate)

    monkeypatch.setattr(kd, "teacher_targets", counting)
    return calls


def logged_losses(output_dir: Path) -> list[float]:
    (checkpoint,) = output_dir.glob("checkpoint-*")
    history = json.loads((checkpoint / "trainer_state.json").read_text())["log_history"]
    return [entry["loss"] for entry in history if "loss" in entry]


def decreased(losses: list[float]) -> bool:
    return np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])


def test_classification_kd_writes_outputs_and_reuses_the_cache(teachers, teacher_calls, tmp_path):
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    from hf_ser.training import parse_config

    out = tmp_path / "student"
    argv = flags(teacher=teachers["classes"], output_dir=out, max_steps=12, distill_temperature=1.0)
    results = run_distill(argv)
    assert sum(teacher_calls) == 13  # the 13 training clips of fold 0, labelled once (test clips never)
    cache = out / "teacher_cache" / "train_teacher0.npz"
    with np.load(cache, allow_pickle=False) as saved:
        assert saved["logits"].shape == (13, 7)
        assert "regression" not in saved
    for name in ("model.safetensors", "config.json", "preprocessor_config.json", "metrics.json",
                 "confusion_matrix.png", "train_config.yaml", "README.md"):  # fmt: skip
        assert (out / name).is_file(), name
    assert 0.0 <= json.loads((out / "metrics.json").read_text())["test"]["uar"] == results["test"]["uar"] <= 1
    card = (out / "README.md").read_text()
    # The card names the teacher and how it labelled (hyper-parameter rows) and says the model is distilled.
    assert teachers["classes"] in card
    assert "Distilled from" in card
    assert "- knowledge-distillation" in card
    assert "teacher_task" in card
    assert "cached once (full clips)" in card
    saved_cfg = parse_config(["--config", str(out / "train_config.yaml")])
    assert saved_cfg.teacher == [teachers["classes"]]
    assert saved_cfg.model_type == "student"
    student = AutoModelForAudioClassification.from_pretrained(out)
    assert type(student).__name__ == "Wav2SmallForAudioClassification"
    assert student.config.num_labels == 7
    assert AutoFeatureExtractor.from_pretrained(out) is not None
    losses = logged_losses(out)
    assert len(losses) == 12, losses
    assert decreased(losses), losses

    # Resuming (or any later run in this output_dir) serves the targets from the cache: no teacher call.
    written = cache.stat().st_mtime_ns
    teacher_calls.clear()
    run_distill([*flags(teacher=teachers["classes"], output_dir=out, max_steps=14, distill_temperature=1.0),
                 "--resume"])  # fmt: skip
    assert teacher_calls == []
    assert cache.stat().st_mtime_ns == written
    assert len(logged_losses(out)) == 14


def test_on_the_fly_ensemble_with_unlabelled_audio(teachers, teacher_calls, unlabelled, tmp_path):
    out = tmp_path / "otf"
    ensemble = f"[{teachers['classes']}, {teachers['classes_b']}]"
    run_distill(flags(teacher=ensemble, teacher_cache="false", unlabelled_data_dir=unlabelled,
                      output_dir=out, max_steps=8, logging_steps=1))  # fmt: skip
    # 2 teachers x the training batches (17 clips, batch 4: an epoch ends with 1 clip) of the crops the
    # student sees, plus the one batch accelerate's loader reads ahead; evaluation never calls them.
    assert teacher_calls == [size for size in (4, 4, 4, 4, 1, 4, 4, 4, 4) for _member in range(2)]
    assert not (out / "teacher_cache").exists()
    card = (out / "README.md").read_text()
    assert teachers["classes_b"] in card
    assert "on the fly (training crops)" in card
    assert "unlabelled_clips" in card
    assert "| train | 17 |" in card  # 13 labelled + 4 unlabelled


def test_regression_kd_from_adv_teacher_on_a_corpus_without_adv(
    teachers, teacher_calls, unlabelled, tmp_path
):
    out = tmp_path / "adv"
    results = run_distill(flags(teacher=teachers["adv"], task="regression", output_dir=out, max_steps=12,
                                distill_regression_loss="mse", unlabelled_data_dir=unlabelled))  # fmt: skip
    # EmoDB has no A/D/V: the teacher labels all 16 clips once (its values are every split's targets),
    # and the 4 unlabelled clips once.
    assert sum(teacher_calls) == 16 + 4
    for name, clips in (("corpus", 16), ("unlabelled", 4)):
        with np.load(out / "teacher_cache" / f"{name}_teacher0.npz", allow_pickle=False) as saved:
            assert saved["regression"].shape == (clips, 3)
            assert "logits" not in saved
    assert {"ccc", "ccc_arousal", "ccc_dominance", "ccc_valence"} <= set(results["test"])
    assert (out / "regression_scatter.png").is_file()
    assert "measure agreement with the teacher" in (out / "README.md").read_text()
    assert json.loads((out / "config.json").read_text())["task"] == "regression"
    losses = logged_losses(out)
    assert decreased(losses), losses


def test_ensemble_averages_its_members(teachers, emodb_clips):
    from hf_ser.training.distill import Teacher
    from hf_ser.training.trainer_distillation import teacher_targets

    ensemble = Teacher.from_pretrained([teachers["classes"], teachers["classes_b"]])
    pairs = zip(ensemble.models, ensemble.extractors, strict=True)
    members = [teacher_targets(model, extractor, emodb_clips) for model, extractor in pairs]
    assert not np.allclose(members[0].logits, members[1].logits)
    np.testing.assert_allclose(
        ensemble(emodb_clips).logits, (members[0].logits + members[1].logits) / 2, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"teacher": None}, ValueError, "needs a teacher"),
        ({"teacher": "/nonexistent/teacher"}, FileNotFoundError, "does not exist"),
        ({"teacher": "four_classes"}, ValueError, "differ from student classes"),
        ({"teacher": "classes,adv"}, ValueError, "Ensemble teachers disagree"),
        ({"teacher": "classes", "task": "regression"}, ValueError, "share no output"),
        ({"teacher": "classes", "task": "multitask"}, ValueError, "regression head would learn nothing"),
        ({"teacher": "classes", "unlabelled_data_dir": "x", "distill_alpha": 0.5}, ValueError, "unlabelled"),
        ({"teacher": "classes", "distill_regression_loss": "l1"}, ValueError, "distill_regression_loss"),
    ],
)
def test_configuration_errors_before_any_compute(teachers, teacher_calls, tmp_path, changes, error, message):
    if changes.get("teacher"):  # fixture names -> directories ("a,b" is a list: an ensemble)
        changes["teacher"] = ",".join(teachers.get(name, name) for name in changes["teacher"].split(","))
    out = tmp_path / "never"
    with pytest.raises(error, match=message):
        run_distill(flags(output_dir=out, max_steps=2, **changes))
    assert teacher_calls == []
    assert not out.exists()
