"""Cross-validation summaries flag collapsed runs: test UAR at or below chance (1 / number of classes)."""

from __future__ import annotations

import pytest

from hf_ser.training import TrainConfig
from hf_ser.training.crossval import collapsed_runs, summarize, summary_markdown, warn_collapsed


def make_runs(values: dict[tuple[int, int], float | None]) -> list[dict]:
    return [
        {
            "fold": fold,
            "seed": seed,
            "value": value,
            "test_split": "test",
            "metrics": {"test": {"uar": value}},
        }
        for (fold, seed), value in values.items()
    ]


def test_runs_at_or_below_chance_are_listed_as_collapsed():
    runs = make_runs({(0, 42): 0.60, (1, 42): 0.25, (2, 42): 0.20, (3, 42): 0.2501})
    summary = summarize(runs, "uar", n_folds=4, n_seeds=1, chance=0.25)
    assert summary["chance"] == 0.25
    assert summary["collapsed"] == [
        {"fold": 1, "seed": 42, "value": 0.25},  # at chance counts
        {"fold": 2, "seed": 42, "value": 0.20},
    ]


def test_missing_values_count_as_collapsed_and_no_chance_flags_nothing():
    runs = make_runs({(0, 42): None, (1, 42): 0.9})
    assert collapsed_runs(runs, 1 / 7) == [{"fold": 0, "seed": 42, "value": None}]
    assert summarize(runs, "ccc", n_folds=2, n_seeds=1)["collapsed"] == []


def test_collapsed_runs_appear_in_markdown_and_in_a_warning():
    cfg = TrainConfig(model_type="lstm_sa", pooling=None, corpus="emodb")
    summary = summarize(make_runs({(0, 42): 0.1, (1, 42): 0.7}), "uar", n_folds=2, n_seeds=1, chance=1 / 7)
    text = summary_markdown(cfg, summary)
    assert "**Collapsed runs** (UAR at or below chance 0.1429): 1 of 2." in text
    assert "| 0 | 42 | 0.1 |" in text.split("Collapsed runs")[1]
    with pytest.warns(UserWarning, match=r"1 run\(s\) at or below chance .*fold 0 seed 42"):
        warn_collapsed(summary)
    healthy = summarize(make_runs({(0, 42): 0.7}), "uar", n_folds=1, n_seeds=1, chance=1 / 7)
    assert "Collapsed" not in summary_markdown(cfg, healthy)
