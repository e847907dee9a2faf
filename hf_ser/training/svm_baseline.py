"""The field's standard baseline: clip functionals + standardisation + linear SVM, speaker-independent.

Features (:data:`FEATURES`): openSMILE eGeMAPSv02 (88) or ComParE_2016 (6,373) functionals
(:mod:`hf_ser.data.opensmile_features`, optional extra ``opensmile``), or ``mfcc_chroma``: mean and std over
frames of the 34 MFCC + 12 chroma of the small models' extractor (un-normalised, hop 256; 92 dims).

Protocol: the recipes' speaker folds (:func:`hf_ser.data.speaker_folds`, ``seed=0``, stratified:
the folds of :func:`hf_ser.training.preparation.compute_folds`): leave-one-speaker-out for EmoDB, 5 speaker
folds otherwise. In each outer fold, ``StandardScaler`` + ``SVC(kernel="linear", class_weight="balanced")``
is fitted on every training speaker; C is chosen from :data:`C_GRID` by an inner ``GroupKFold`` over the
*training speakers only* (at most 5 groups), scored by balanced accuracy (= UAR). Deterministic: mean ± std
are over the outer folds. Folds at or below chance (1 / classes) are listed as collapsed.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np

FEATURES = ("egemaps", "compare", "mfcc_chroma")
C_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
"""Linear-SVM C values tried by the inner cross-validation (the ComParE baselines' range; 1e-5 added
because the inner search picked the lowest value, 1e-4, on 3 of 5 URDU folds with ComParE)."""


def mfcc_chroma_functionals(array: np.ndarray, sampling_rate: int, name: str = "mfcc_chroma") -> np.ndarray:
    """Mean and std over frames of the raw (un-normalised) 34 MFCC + 12 chroma of one clip (92 dims)."""
    from ..models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor

    frames = MfccChromaFeatureExtractor(sampling_rate=sampling_rate, normalization="none").extract(array)
    return np.concatenate([frames.mean(axis=0), frames.std(axis=0)]).astype(np.float32)


def clip_features(dataset: Any, features: str, cache_dir: Optional[str]) -> np.ndarray:
    """``(clips, dims)`` functionals of the corpus, cached per file under ``cache_dir``."""
    from ..data.opensmile_features import cached_clip_features, opensmile_functionals

    if features not in FEATURES:
        raise ValueError(f"`features` must be one of {list(FEATURES)}, got {features!r}.")
    function = mfcc_chroma_functionals if features == "mfcc_chroma" else opensmile_functionals
    return cached_clip_features(dataset, function, features, cache_dir)


def default_n_folds(corpus: str) -> Optional[int]:
    """The corpus' usual protocol: leave-one-speaker-out (None) for EmoDB, 5 speaker folds otherwise."""
    return None if corpus == "emodb" else 5


def fit_fold(
    features: np.ndarray, y: np.ndarray, speakers: np.ndarray, train: np.ndarray, test: np.ndarray
) -> dict[str, Any]:
    """Fit one outer fold (C by inner GroupKFold over the training speakers) and score its test speakers."""
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from ..metrics import uar

    pipeline = make_pipeline(StandardScaler(), SVC(kernel="linear", class_weight="balanced"))
    inner = GroupKFold(n_splits=min(5, len(set(speakers[train].tolist()))))
    search = GridSearchCV(pipeline, {"svc__C": list(C_GRID)}, scoring="balanced_accuracy", cv=inner, n_jobs=1)
    with warnings.catch_warnings():
        # Inner folds of one-emotion speakers (most URDU speakers) miss classes: expected, not news.
        warnings.filterwarnings("ignore", message=".*(single label|classes not in y_true).*")
        search.fit(features[train], y[train], groups=speakers[train])
    predictions = search.predict(features[test])
    return {
        "uar": float(uar(y[test].tolist(), predictions.tolist())),
        "C": float(search.best_params_["svc__C"]),
        "inner_uar": float(search.best_score_),
        "test_speakers": sorted(set(speakers[test].tolist())),
        "n_test": int(len(test)),
    }


def run_svm_baseline(
    corpus: str,
    data_dir: str,
    features: str = "egemaps",
    output_dir: str = "outputs/svm_baseline",
    n_folds: Optional[int] = None,
    max_samples: Optional[int] = None,
    cache_dir: Optional[str] = None,
) -> dict[str, Any]:
    """Run the baseline on every speaker fold; write ``svm_<features>.json`` / ``.md``; return the summary.

    ``n_folds`` None = :func:`default_n_folds`; ``max_samples`` a stratified subset (quick runs, tests);
    ``cache_dir`` defaults to ``<output_dir>/features``.
    """
    from ..data import load_corpus, speaker_folds
    from .preparation import SAMPLING_RATE, stratified_subset

    start = time.time()
    dataset = load_corpus(corpus, data_dir, SAMPLING_RATE)
    if max_samples is not None and max_samples < len(dataset):
        dataset = dataset.select(stratified_subset(dataset["label"], max_samples, 0))
    n_folds = default_n_folds(corpus) if n_folds is None else n_folds
    features_matrix = clip_features(dataset, features, cache_dir or str(Path(output_dir) / "features"))
    feature_time = time.time() - start
    y, speakers = np.asarray(dataset["label"]), np.asarray([str(s) for s in dataset["speaker"]])
    folds = speaker_folds(dataset, n_folds=n_folds, stratify=True, seed=0)
    results = [fit_fold(features_matrix, y, speakers, train, test) for train, test in folds]
    summary = summarize_folds(results, 1.0 / len(dataset.features["label"].names))
    summary.update(
        corpus=corpus,
        features=features,
        dims=int(features_matrix.shape[1]),
        clips=int(len(y)),
        protocol="leave-one-speaker-out" if n_folds is None else f"{n_folds} speaker folds",
        feature_time_s=round(feature_time, 1),
        wall_time_s=round(time.time() - start, 1),
    )
    write_outputs(summary, Path(output_dir))
    return summary


def summarize_folds(results: list[dict[str, Any]], chance: float) -> dict[str, Any]:
    """Mean, sample std (ddof=1), min and max of the per-fold UAR; folds at or below chance as collapsed."""
    values = np.array([fold["uar"] for fold in results])
    return {
        "metric": "uar",
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        "min": float(values.min()),
        "max": float(values.max()),
        "chance": chance,
        "collapsed": [index for index, fold in enumerate(results) if fold["uar"] <= chance + 1e-12],
        "folds": results,
    }


def write_outputs(summary: dict[str, Any], output_dir: Path) -> None:
    """``svm_<features>.json`` and ``svm_<features>.md`` in ``output_dir``."""
    from .artifacts import write_json

    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(output_dir / f"svm_{summary['features']}.json", summary)
    (output_dir / f"svm_{summary['features']}.md").write_text(summary_markdown(summary))


def summary_markdown(summary: dict[str, Any]) -> str:
    """One table row for the corpus plus the per-fold UAR and chosen C."""
    lines = [
        f"# Linear SVM on {summary['features']} functionals ({summary['dims']} dims): {summary['corpus']}, "
        f"{summary['protocol']}",
        "",
        "| features | UAR mean ± std (over folds) | UAR min | UAR max | collapsed folds | wall time |",
        "|---|---|---|---|---|---|",
        f"| {summary['features']} | {summary['mean']:.4f} ± {summary['std']:.4f} | {summary['min']:.4f} "
        f"| {summary['max']:.4f} | {len(summary['collapsed'])} | {summary['wall_time_s']:.0f} s |",
        "",
        "| fold | test speakers | UAR | C | inner UAR |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {index} | {', '.join(fold['test_speakers'])} | {fold['uar']:.4f} | {fold['C']:g} "
        f"| {fold['inner_uar']:.4f} |"
        for index, fold in enumerate(summary["folds"])
    ]
    return "\n".join(lines) + "\n"
