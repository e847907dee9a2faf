"""recipes/train_default_model.py: its protocols run end to end on a tiny subset, and what it saves (a
calibrated model with derived arousal) gives the same results in the torch pipeline and hf_ser.runtime."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from hf_ser import pipeline
from hf_ser.runtime import load

REPO = Path(__file__).resolve().parents[1]


def recipe():
    """The recipe module (imported from its file: recipes/ is not a package)."""
    path = REPO / "recipes" / "train_default_model.py"
    spec = importlib.util.spec_from_file_location("train_default_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cross_corpus_protocol_runs_on_a_tiny_subset(data_dir, tmp_path):
    argv = ["--data_dir", str(data_dir), "--protocol", "cross-corpus", "--final", "false", "--epochs", "1",
            "--clips_per_label", "3", "--results", str(tmp_path / "results.json")]  # fmt: skip
    results = recipe().main(argv)
    cross = results["cross_corpus"]
    assert cross["labels"] == ["anger", "happiness", "neutral", "sadness"]
    for key in ("emodb->urdu", "urdu->emodb"):
        assert 0.0 <= cross[key]["uar"] <= 1.0 and len(cross[key]["runs"]) == 1
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["cross_corpus"]["mean_uar"] == cross["mean_uar"]
    assert results["recipe"]["test_time_speeds"] == "0.9,1.1"  # the default recipe: v3-tta


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory) -> Path:
    """A tiny model trained by the recipe (2-fold CV, calibration, final model) into a directory."""
    output = tmp_path_factory.mktemp("default_model")
    argv = ["--data_dir", str(data_dir), "--output_dir", str(output), "--protocol", "cv", "--folds", "2",
            "--epochs", "1", "--clips_per_label", "6", "--speed_perturbation", "0.9,1.1"]  # fmt: skip
    recipe().main(argv)
    return output


def test_recipe_saves_calibration_arousal_and_cv_figures(trained):
    config = json.loads((trained / "config.json").read_text())
    assert config["temperature"] > 0 and config["test_time_speeds"] == [0.9, 1.1]
    assert config["arousal_from_categories"]["anger"] == 1.0
    results = json.loads((trained / "crossval.json").read_text())
    assert set(results["calibration"]) >= {"temperature", "ece_before", "ece_after"}
    assert results["calibration"]["temperature"] == config["temperature"]
    assert "temperature" in (trained / "README.md").read_text().lower()


def test_temperature_and_arousal_identical_in_pipeline_and_runtime(trained, emodb_clips):
    clips = [{"array": clip, "sampling_rate": 16000} for clip in emodb_clips]
    theirs = pipeline(str(trained), dtype="float32", device="cpu")(clips)
    ours = load(trained)(clips)
    assert theirs[0]["scores"] and "arousal" in theirs[0]
    for mine, other in zip(ours, theirs, strict=True):
        assert mine["label"] == other["label"] and list(mine["scores"]) == list(other["scores"])
        np.testing.assert_allclose(list(mine["scores"].values()), list(other["scores"].values()), atol=1e-5)
        assert abs(mine["arousal"] - other["arousal"]) <= 1e-5 and 0.0 <= mine["arousal"] <= 1.0
