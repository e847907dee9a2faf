"""Distillation from stored labels: ``hf-ser label`` shards -> teacher targets joined on path -> student.

The built-in model labels the real EmoDB corpus (all 535 clips, once per module); a tiny Wav2Small student
learns those stored outputs through ``recipes/distill.py --teacher_labels DIR`` with no teacher in memory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hf_ser.labelling import label
from hf_ser.labelling.reading import read_stored_labels
from hf_ser.training.stored_teacher import StoredTeacher

REPO = Path(__file__).resolve().parents[1]
EMODB = Path(os.environ.get("HF_SER_DATA_DIR", REPO.parent / "shared" / "data")) / "emodb"
FAST = [
    "--corpus", "emodb", "--data_dir", str(EMODB), "--max_samples", "16", "--folds", "4",
    "--use_validation", "false", "--eval_strategy", "no", "--per_device_train_batch_size", "4",
    "--max_train_seconds", "1", "--max_eval_seconds", "1", "--logging_steps", "1", "--disable_tqdm", "true",
    "--learning_rate", "5e-3", "--lr_scheduler_type", "constant", "--warmup_ratio", "0",
    "--model.conv_channels", "[8, 8, 8, 8]", "--model.hidden_size", "16", "--max_steps", "6",
]  # fmt: skip


@pytest.fixture(scope="module")
def emodb_labels(tmp_path_factory) -> Path:
    """The built-in model's labels of the whole EmoDB folder (Parquet shards)."""
    out = tmp_path_factory.mktemp("emodb_labels")
    label(EMODB, out, shard_size=128, batch_size=16, progress=False)
    return out


def audio_dataset(paths: list[str]):
    import datasets

    features = datasets.Features(
        {"audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")}}
    )
    rows = {"audio": [{"bytes": None, "path": path} for path in paths]}
    return datasets.Dataset.from_dict(rows, features=features).cast_column(
        "audio", datasets.Audio(decode=False)
    )


def test_windows_are_averaged_by_duration_and_errors_dropped(tmp_path):
    audio, rate = sf.read(EMODB / "03a01Wa.flac", dtype="float32")
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "long.wav", np.concatenate([audio, audio[: rate // 2]]), rate)
    (tmp_path / "in" / "bad.wav").write_text("no audio")
    label(tmp_path / "in", tmp_path / "out", chunk_length_s=1.0, progress=False)
    stored = read_stored_labels(tmp_path / "out")
    assert stored.task == "classification" and len(stored.classes) == 7 and stored.regression is None
    assert stored.paths == [str((tmp_path / "in" / "long.wav").resolve())]
    import datasets

    rows = datasets.load_dataset(
        "parquet", data_files=str(tmp_path / "out" / "shard-*.parquet"), split="train"
    )
    windows = [row for row in rows if not row["error"]]
    weights = np.array([row["end"] - row["start"] for row in windows])
    scores = np.array([[row[f"score_{name}"] for name in stored.classes] for row in windows])
    np.testing.assert_allclose(stored.probabilities[0], weights @ scores / weights.sum(), atol=1e-6)


def test_stored_teacher_joins_on_path_in_row_order(emodb_labels):
    teacher = StoredTeacher.from_directory(emodb_labels)
    assert teacher.config.task == "classification" and teacher.config.id2label[0] == "anger"
    paths = [str(EMODB / "16a01Wb.flac"), str(EMODB / "03a01Fa.flac")]
    targets = teacher.label(audio_dataset(paths))
    stored = teacher.labels
    expected = stored.probabilities[[stored.paths.index(os.path.realpath(path)) for path in paths]]
    np.testing.assert_allclose(np.exp(targets.logits), expected, atol=1e-6)
    with pytest.raises(ValueError, match="1 of 1 clips have no stored label"):
        teacher.label(audio_dataset([str(REPO / "nowhere" / "missing.wav")]))


def test_distill_recipe_learns_stored_labels_without_a_teacher_model(emodb_labels, tmp_path, monkeypatch):
    import importlib.util

    import hf_ser.training.distill as distill

    monkeypatch.setattr(distill.Teacher, "from_pretrained", None)  # any teacher load would fail
    spec = importlib.util.spec_from_file_location("recipe_distill", REPO / "recipes" / "distill.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    out = tmp_path / "student"
    results = recipe.main([*FAST, "--teacher_labels", str(emodb_labels), "--output_dir", str(out)])
    assert 0.0 <= results["test"]["uar"] <= 1.0
    assert json.loads((out / "metrics.json").read_text())["test"]["uar"] == results["test"]["uar"]
    card = (out / "README.md").read_text()
    assert "Distilled from" in card and str(emodb_labels) in card and "stored labels" in card
    with pytest.raises(ValueError, match="not both"):
        recipe.main(
            [*FAST, "--teacher_labels", str(emodb_labels), "--teacher", "x", "--output_dir", str(out)]
        )
