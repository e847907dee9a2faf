"""recipes/reproduce_reslstm_sa.py: paper 004's protocol end to end on a tiny EmoDB subset, resumable."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest

from hf_ser.training.reproduce import PAPER_RESULTS, SEARCH_SPACES, ReproduceSettings

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "reproduce_reslstm_sa.py"


def load_recipe():
    spec = importlib.util.spec_from_file_location("reproduce_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_reproduction_runs_end_to_end_and_resumes(data_dir, tmp_path):
    out = tmp_path / "reproduce"
    argv = [
        "--corpus", "emodb", "--data_dir", str(data_dir / "emodb"), "--output_dir", str(out),
        "--models", "lstm_sa_h32", "--trials", "2", "--seeds", "2", "--folds", "0,1", "--n_folds", "3",
        "--set", "num_train_epochs=1", "--set", "max_samples=36", "--set", "test_time_speeds=null",
    ]  # fmt: skip
    start = time.time()
    result = load_recipe().main(argv)
    assert time.time() - start < 60
    (row,) = result["rows"]
    assert row["model"] == "lstm_sa_h32" and row["paper"] == PAPER_RESULTS["lstm_sa_h32"]
    assert 10_000 < row["params"] < 11_000  # the paper's 10.6 k (7 EmoDB classes instead of 8)
    summary = row["summary"]
    assert len(summary["runs"]) == 4 and summary["over"] == "seeds" and summary["complete"]
    assert set(row["best_per_fold"]) == {"0", "1"}
    for fold, best in row["best_per_fold"].items():
        study = json.loads(
            (out / "lstm_sa_h32" / f"fold{int(fold):02d}" / "hpo" / "hpo_summary.json").read_text()
        )
        assert study["n_complete"] + study["n_pruned"] == 2
        assert set(best["best_params"]) == set(SEARCH_SPACES["paper"])
    table = (out / "reproduce.md").read_text()
    assert "| LSTM-SA-h32 | 10." in table and "0.5352 ± 0.0123" in table
    # Same command again: studies complete, test runs have their metrics.json: nothing retrained.
    again = load_recipe().main(argv)
    assert again["rows"][0]["summary"]["mean"] == pytest.approx(summary["mean"])
    assert again["wall_time_s"] < result["wall_time_s"]


def test_settings_are_validated():
    with pytest.raises(ValueError, match="Unknown model"):
        ReproduceSettings(corpus="emodb", data_dir=".", output_dir=".", models=("lstm_sa_h16",))
    with pytest.raises(ValueError, match="search_space"):
        ReproduceSettings(corpus="emodb", data_dir=".", output_dir=".", search_space="huge")
    assert SEARCH_SPACES["wide"]["learning_rate"]["high"] >= 1e-2  # covers the shipped configs' lr
    assert SEARCH_SPACES["paper"]["learning_rate"] == {
        "type": "float",
        "low": 3e-5,
        "high": 2e-4,
        "log": True,
    }
