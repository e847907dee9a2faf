"""recipes/svm_baseline.py and hf_ser.data.opensmile_features on a tiny EmoDB subset."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from hf_ser.data.opensmile_features import cached_clip_features, is_opensmile_available, opensmile_functionals
from hf_ser.training.svm_baseline import C_GRID, mfcc_chroma_functionals, summarize_folds

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "svm_baseline.py"
needs_opensmile = pytest.mark.skipif(
    not is_opensmile_available(), reason='opensmile not installed (pip install "hf_ser[opensmile]")'
)


def load_recipe():
    spec = importlib.util.spec_from_file_location("svm_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_opensmile
@pytest.mark.parametrize(("feature_set", "dims"), [("egemaps", 88), ("compare", 6373)])
def test_opensmile_functionals_have_the_published_sizes(feature_set, dims):
    clip = np.sin(np.linspace(0, 2000, 16000)).astype(np.float32) * 0.1
    values = opensmile_functionals(clip, 16000, feature_set)
    assert values.shape == (dims,) and values.dtype == np.float32 and np.isfinite(values).all()


def test_missing_opensmile_names_the_extra(monkeypatch):
    import hf_ser.data.opensmile_features as module

    module._smile.cache_clear()
    monkeypatch.setattr(module, "is_opensmile_available", lambda: False)
    with pytest.raises(ImportError, match=r'pip install "hf_ser\[opensmile\]"'):
        opensmile_functionals(np.zeros(1600, dtype=np.float32), 16000, "egemaps")
    module._smile.cache_clear()


def test_features_are_cached_per_file(data_dir, tmp_path):
    from hf_ser.data import load_corpus

    clips = load_corpus("emodb", data_dir / "emodb").select(range(3))
    calls = []

    def counting(array, rate, name):
        calls.append(name)
        return mfcc_chroma_functionals(array, rate)

    first = cached_clip_features(clips, counting, "mfcc_chroma", tmp_path)
    again = cached_clip_features(clips, counting, "mfcc_chroma", tmp_path)
    assert first.shape == (3, 92) and len(calls) == 3  # the second pass read the cache
    np.testing.assert_array_equal(first, again)


def test_summary_flags_folds_at_chance():
    folds = [{"uar": 0.8}, {"uar": 0.25}, {"uar": 0.6}]
    summary = summarize_folds(folds, chance=0.25)
    assert summary["collapsed"] == [1] and summary["mean"] == pytest.approx(0.55)


@pytest.mark.parametrize("features", ["mfcc_chroma", pytest.param("egemaps", marks=needs_opensmile)])
def test_recipe_runs_speaker_folds_with_inner_group_cv(features, data_dir, tmp_path):
    argv = ["--corpus", "urdu", "--data_dir", str(data_dir / "urdu"), "--features", features,
            "--output_dir", str(tmp_path), "--max_samples", "60", "--n_folds", "3"]  # fmt: skip
    summary = load_recipe().main(argv)
    assert len(summary["folds"]) == 3 and summary["clips"] == 60
    tested = [speaker for fold in summary["folds"] for speaker in fold["test_speakers"]]
    assert len(tested) == len(set(tested))  # every speaker tested once: speaker-disjoint folds
    assert all(fold["C"] in C_GRID for fold in summary["folds"])
    assert 0.0 <= summary["mean"] <= 1.0
    assert (tmp_path / f"svm_{features}.md").read_text().startswith("# Linear SVM")
