"""Write the committed evaluation reports in ``reports/``: a model on EmoDB and URDU, per corpus and across.

    python benchmarks/make_reports.py                       # built-in default model, everything
    python benchmarks/make_reports.py --limit 40 --in-corpus-folds 2 --epochs 2 --out /tmp/r   # smoke run

For each corpus (``reports/<corpus>/``): overall UAR / WA / F1, per sex, per speaker, fairness (best-worst
gap and std over groups) with 1000-replicate bootstrap intervals, robustness to every perturbation of
``hf_ser.evaluation.PERTURBATIONS``, and the cross-corpus matrix; as ``report.json``, ``report.md``,
``report.html`` and PNG figures. The cross-corpus matrix trains the built-in model's own recipe
(``recipes/train_default_model.py``: ResLSTM-SA-h64 on MFCC + chroma) on the classes EmoDB and URDU
share: off-diagonal cells train on all of one corpus and test on the other, diagonal cells pool the
predictions of speaker-independent folds. ``reports/README.md`` collects the headline tables.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_ROOT = REPO.parent / "shared" / "data"
def load_default_recipe() -> Any:
    """``recipes/train_default_model.py`` as a module (recipes are scripts, not a package)."""
    path = REPO / "recipes" / "train_default_model.py"
    spec = importlib.util.spec_from_file_location("train_default_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def default_recipe_trainer(epochs: Optional[int] = None) -> Callable[[Any], Any]:
    """A ``train_fn`` for :func:`hf_ser.evaluation.cross_corpus_matrix`: the default model's own recipe.

    Settings are the recipe's defaults (its default ``--recipe``). Features of each clip (at every speed the
    recipe trains or tests at) are computed once, by path, and shared by all training runs, as the recipe
    does; each call trains a fresh model on the given clips with the recipe's ``train`` and returns an
    :func:`hf_ser.pipeline` around it (averaging the recipe's test-time speeds, as the built-in model).
    """
    from hf_ser import MfccChromaFeatureExtractor
    from hf_ser.data import decode_example_audio
    from hf_ser.data.audio import change_speed
    from hf_ser.inference.pipeline import pipeline

    recipe = load_default_recipe()
    settings = recipe.parse_args(["--epochs", str(epochs)] if epochs else [])
    raw = MfccChromaFeatureExtractor(normalization="none", hop_length=settings.hop_length)
    speeds = recipe.needed_speeds(settings)
    cache: dict[str, dict[float, np.ndarray]] = {}

    def clip_features(audio: dict) -> dict[float, np.ndarray]:
        if audio["path"] not in cache:
            array = decode_example_audio(audio)
            cache[audio["path"]] = {s: raw.extract(change_speed(array, 16000, s)) for s in speeds}
        return cache[audio["path"]]

    def train_fn(dataset: Any) -> Any:
        rows = dataset.with_format(None)
        clips = [clip_features(audio) for audio in rows["audio"]]
        data = {
            "labels": list(dataset.features["label"].names),
            "features": {s: [clip[s] for clip in clips] for s in speeds},
            "label": np.asarray(rows["label"]),
        }
        model, stats = recipe.train(data, np.arange(len(clips)), settings)
        model.config.test_time_speeds = list(recipe.parse_speeds(settings.test_time_speeds)) or None
        global_stats = {"mean": stats[0], "std": stats[1]} if stats is not None else {}
        extractor = MfccChromaFeatureExtractor(
            normalization=settings.normalization, hop_length=settings.hop_length, **global_stats
        )
        return pipeline(model, feature_extractor=extractor, dtype="float32")

    train_fn.settings = argparse.Namespace(
        **{k: v for k, v in vars(settings).items() if not isinstance(v, Path)}
    )
    return train_fn


def describe_model(model_dir: Path) -> str:
    """One line naming the model: family, parameters, classes (from its config.json)."""
    from safetensors import safe_open

    config = json.loads((model_dir / "config.json").read_text())
    with safe_open(str(model_dir / "model.safetensors"), "np") as weights:
        count = sum(int(np.prod(weights.get_slice(name).get_shape())) for name in weights.keys())
    labels = [config["id2label"][k] for k in sorted(config.get("id2label", {}), key=int)]
    digest = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()[:12]
    return (
        f"{config.get('model_type')} ({count:,} parameters; classes: {', '.join(labels)}; "
        f"model.safetensors sha256 {digest}…)"
    )


def training_notes(model_dir: Path, corpora: list[str]) -> list[str]:
    """What the model was trained on (``card_data.json``) and its own cross-validation (``crossval.json``)."""
    notes = []
    card = model_dir / "card_data.json"
    trained_on = json.loads(card.read_text()).get("datasets", []) if card.is_file() else []
    seen = [name for name in corpora if name in trained_on]
    if seen:
        notes.append(
            f"The model was trained on every clip of {' and '.join(seen)}: its figures there are "
            "training-set figures (how well it fits, per speaker and sex, and how stable that fit is under "
            "perturbations), not generalisation. For generalisation see the cross-corpus matrix and the "
            "speaker-independent cross-validation of the same recipe."
        )
    crossval = model_dir / "crossval.json"
    if crossval.is_file():
        results = json.loads(crossval.read_text())
        notes += recipe_notes(results)
    return notes


def recipe_notes(results: dict) -> list[str]:
    """The recipe's own figures from ``crossval.json``: in-corpus CV, cross-corpus UAR, calibration."""
    notes = []
    summary = results.get("cv", {}).get("summary") or results.get("summary")  # older files: top level
    if summary:
        parts = [
            f"{key.removeprefix('uar_')} {value['mean']:.3f} ± {value['std']:.3f}"
            for key, value in summary.items()
            if key.startswith("uar_")
        ]
        notes.append(
            f"Speaker-independent {summary['uar']['n']}-fold cross-validated UAR of its recipe: "
            f"{', '.join(parts)}."
        )
    cross = results.get("cross_corpus")
    if cross:
        pairs = [f"{key.replace('->', ' → ')} {row['uar']:.3f}" for key, row in cross.items() if "->" in key]
        notes.append(f"Cross-corpus UAR of its recipe ({', '.join(cross['labels'])}): {', '.join(pairs)}.")
    calibration = results.get("calibration")
    if calibration:
        notes.append(
            f"Temperature {calibration['temperature']}: ECE (15 bins, out-of-fold) "
            f"{calibration['ece_before']:.3f} → {calibration['ece_after']:.3f}."
        )
    return notes


def summary_markdown(
    reports: dict[str, dict], cross: Optional[dict], command: str, model: str, note: str
) -> str:
    """``reports/README.md``: how the reports were made and their headline tables."""
    from hf_ser.evaluation import markdown_tables

    lines = [
        "# Evaluation reports",
        "",
        f"Model: **{model}**. {note}",
        "",
        f"Regenerate with `{command}` (from the repository root; corpora in `../shared/data`).",
        "Each corpus directory holds `report.json`, `report.md`, `report.html` and the figures. "
        "Robustness rows use a seeded random subset of clips per corpus (see each report; its `clean` row "
        "is that subset).",
        "",
    ]
    for corpus, report in reports.items():
        tables = markdown_tables(report)
        lines += [f"## {corpus} — [full report]({corpus}/report.md)", ""]
        lines += [
            f"{tables[name]}\n" for name in ("overall", "by_sex", "fairness", "robustness") if name in tables
        ]
        lines += [f"![per speaker]({corpus}/by_speaker.png) ![robustness]({corpus}/robustness_snr.png)", ""]
    if cross is not None:
        first = next(iter(reports.values()))
        lines += ["## Cross-corpus", "", markdown_tables(first)["cross_corpus"], "",
                  f"![cross-corpus]({next(iter(reports))}/cross_corpus.png)", ""]  # fmt: skip
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="checkpoint directory (default: the built-in model)")
    parser.add_argument("--corpora", nargs="+", default=["emodb", "urdu"])
    parser.add_argument(
        "--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="holds <corpus>/ directories"
    )
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--perturb", default="all", help="perturbation families/names, comma-separated")
    parser.add_argument(
        "--limit", type=int, default=None, help="seeded subset of N clips per corpus (smoke runs)"
    )
    parser.add_argument(
        "--in-corpus-folds", type=int, default=5, help="speaker folds of the diagonal (0: skip)"
    )
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--skip-cross-corpus", action="store_true")
    parser.add_argument("--cross-corpus-only", action="store_true", help="stop after the cross-corpus matrix")
    parser.add_argument(
        "--robustness-limit", type=int, default=200, help="seeded subset of N clips per corpus for robustness"
    )
    parser.add_argument("--note", default="", help="a sentence on the model's training data for README.md")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from hf_ser.data import load_corpus
    from hf_ser.evaluation import (
        CrossCorpusResult,
        as_predictor,
        cross_corpus_matrix,
        decode_audio_column,
        get_perturbations,
        robustness_from_arrays,
        score_predictions,
        write_report,
    )
    from hf_ser.evaluation.report import build_report
    from hf_ser.inference.pipeline import DEFAULT_MODEL_DIR

    torch.set_num_threads(1)  # on a busy 2-core machine, 2 intra-op threads make LSTMs ~50x slower
    model_dir = Path(args.model) if args.model else Path(DEFAULT_MODEL_DIR)
    model_name = ("built-in default model: " if args.model is None else f"{args.model}: ") + describe_model(
        model_dir
    )
    notes = training_notes(model_dir, args.corpora)
    corpora = {}
    for name in args.corpora:
        dataset = load_corpus(name, args.data_root / name)
        if args.limit is not None and args.limit < len(dataset):
            dataset = dataset.shuffle(seed=args.seed).select(range(args.limit))
        corpora[name] = dataset

    cross = None
    if not args.skip_cross_corpus:
        started = time.time()
        train_fn = default_recipe_trainer(args.epochs)
        recipe_summary = (
            "ResLSTM-SA trained by recipes/train_default_model.py's train() on the shared classes, "
            + ", ".join(f"{key} {value}" for key, value in vars(train_fn.settings).items())
        )
        # The matrix depends on the recipe, not on the evaluated model: reuse a saved one made by the
        # same recipe code with the same settings.
        recipe_code = (REPO / "recipes" / "train_default_model.py").read_bytes()
        key = {
            "recipe_sha256": hashlib.sha256(recipe_code).hexdigest(),
            "settings": vars(train_fn.settings), "corpora": list(corpora), "limit": args.limit,
            "in_corpus_folds": args.in_corpus_folds, "seed": args.seed,
        }  # fmt: skip
        saved = args.out / "cross_corpus.json"
        if saved.is_file() and json.loads(saved.read_text())["key"] == key:
            cross = CrossCorpusResult.from_dict(json.loads(saved.read_text())["result"])
            print(f"cross-corpus matrix reused from {saved}")
        else:
            cross = cross_corpus_matrix(
                corpora, train_fn, in_corpus_folds=args.in_corpus_folds or None, seed=args.seed
            )
            args.out.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps({"key": key, "result": cross.to_dict()}, indent=2) + "\n")
        print(f"cross-corpus matrix ({time.time() - started:.0f} s):\n{cross.matrix}")
        if args.cross_corpus_only:
            return 0

    predictor = as_predictor(args.model, batch_size=32)
    perturbations = get_perturbations(args.perturb.split(","))
    reports = {}
    for name, dataset in corpora.items():
        started = time.time()
        arrays = decode_audio_column(dataset)
        predictions = predictor.predict(arrays, progress=name)
        result = score_predictions(predictions, dataset, bootstrap=args.bootstrap, seed=args.seed)
        rows = np.arange(len(dataset))
        if args.robustness_limit and args.robustness_limit < len(dataset):
            rows = np.sort(
                np.random.default_rng(args.seed).choice(len(dataset), args.robustness_limit, replace=False)
            )
        subset = dataset.select(rows)
        clean = score_predictions(predictions.select(rows), subset, group_columns=[], bootstrap=0)
        robustness = robustness_from_arrays(
            predictor, [arrays[i] for i in rows], subset, clean, perturbations, seed=args.seed
        )
        meta = {
            "model": model_name,
            **({"note": " ".join(notes)} if notes else {}),
            "corpus": f"{name} ({result.num_samples} clips"
            + (f", seeded subset of {args.limit})" if args.limit else ")"),
            "protocol": "every clip of the corpus scored once; intervals by bootstrap over clips",
            "robustness": f"{len(rows)} clips"
            + (" (seeded random subset)" if len(rows) < len(dataset) else ""),
            "seconds": round(time.time() - started, 1),
        }
        if cross is not None:
            meta["cross-corpus models"] = recipe_summary
        write_report(args.out / name, result, robustness=robustness, cross_corpus=cross,
                     title=f"hf_ser evaluation: {name}", meta=meta)  # fmt: skip
        reports[name] = build_report(result, robustness=robustness, cross_corpus=cross)
        print(f"{name}: UAR {result.overall['uar']:.4f}; report in {args.out / name}")
    command = "python benchmarks/make_reports.py" + (f" --model {args.model}" if args.model else "")
    note = args.note or " ".join(notes)
    (args.out / "README.md").write_text(
        summary_markdown(reports, cross and cross.to_dict(), command, model_name, note)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
