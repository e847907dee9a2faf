"""Cross-validated accuracy of LSTM-SA / ResLSTM-SA on EmoDB and URDU, an RBF-SVM baseline, and ablations.

The commands behind ``benchmarks/results/small_models.md`` (settings chosen with ``--part tune``, below)::

    S="--normalization global --class_weights true --dropout 0.5 --learning_rate 3e-3 --hop_length 512"
    S="$S --epochs 30"
    python benchmarks/small_models_crossval.py --part svm
    python benchmarks/small_models_crossval.py --part main --models lstm_sa_h64 reslstm_sa_h64 --seeds 3 $S
    python benchmarks/small_models_crossval.py --part ablations --seeds 1 --workers 2 $S
    M="lstm_sa_h32 reslstm_sa_h32 lstm_sa_h128 reslstm_sa_h128"
    python benchmarks/small_models_crossval.py --part main --models $M --seeds 1 --workers 4 $S
    python benchmarks/small_models_crossval.py --part report
    # validation-scored search, e.g. --part tune --tune_folds 6 --epochs 25 --grid '{"dropout": 0.5}' ...

Protocol (identical to ``recipes/crossval.py`` / :func:`hf_ser.training.run_crossval`): folds from
:func:`hf_ser.training.data.compute_folds` (EmoDB: leave-one-speaker-out, 10 folds; URDU: 5 speaker-disjoint
folds of :func:`hf_ser.data.speaker_folds`); each run is split by :func:`hf_ser.training.data.split_data`:
test fold ``k``, validation = the next fold's speakers (best epoch chosen on its UAR, like the recipe's
``load_best_model_at_end``), training = the remaining speakers. Per seed, test UAR is averaged over the
folds; tables give mean ± std and max over seeds (:func:`hf_ser.training.crossval.summarize`, the recipe's
own summary). Hyper-parameters were chosen on the *validation* folds only (``--part tune``).

Why not ``recipes/crossval.py`` itself: same protocol, but it decodes every clip and recomputes MFCC+chroma
every epoch and evaluates through ``Trainer``; measured on this machine (2 shared cores) one epoch of
ResLSTM-SA-h64 on one EmoDB fold took ~220 s there against ~3 s here, i.e. 10 folds x 5 seeds x 30 epochs
would take ~90 h instead of ~1 h. This script decodes the corpus once with
:func:`hf_ser.data.with_decoded_audio`, computes features once with the project's
``MfccChromaFeatureExtractor`` (cached in ``--work_dir``), and trains
:class:`hf_ser.LSTMSAForAudioClassification`
with the recipe's optimisation (AdamW, decay on weights only, cosine annealing with warm restarts from
transformers' scheduler, warm-up ratio, gradient clipping 1.0, optional inverse-frequency class weights as
``class_weights: true``). Metrics come from :mod:`hf_ser.metrics`; augmentations from :mod:`hf_ser.augment`
(``SpecAugment``, ``CopyPaste``, ``SpeedPerturbation``).
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    # Multi-threaded BLAS makes the numpy feature extraction ~14x slower on a loaded 2-core machine.
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import copy  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Optional  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HF_SER_DATA_DIR", REPO.parent / "shared" / "data"))
RESULTS = REPO / "benchmarks" / "results"
WORK_DIR = REPO / "outputs" / "small_models"

MODELS = {  # name -> (hidden_size, residual)
    "lstm_sa_h32": (32, False),
    "lstm_sa_h64": (64, False),
    "lstm_sa_h128": (128, False),
    "reslstm_sa_h32": (32, True),
    "reslstm_sa_h64": (64, True),
    "reslstm_sa_h128": (128, True),
}
CORPORA = {"emodb": None, "urdu": 5}  # name -> number of speaker folds (None = leave-one-speaker-out)
ABLATIONS = {  # variant -> training options on top of the plain recipe
    "plain": {},
    "spec_augment": {"spec_augment": True},
    "copy_paste": {"copy_paste": True},
    "speed_perturbation": {"speed_perturbation": True},
    "label_smoothing": {"label_smoothing": 0.1},
}
SPEED_FACTORS = (0.9, 1.1)  # with 1.0: SpeedPerturbation's default (0.9, 1.0, 1.1)
COPY_PASTE_VARIANTS = 2  # CopyPaste versions of every training clip, precomputed per fold


@dataclass
class Settings:
    """Training settings of one run (the recipe keys of the same name in brackets)."""

    epochs: int = 30  # num_train_epochs
    learning_rate: float = 2e-3  # learning_rate
    weight_decay: float = 1e-2  # weight_decay (AdamW, weights only)
    batch_size: int = 32  # per_device_train_batch_size
    restart_period_epochs: int = 10  # T0 of cosine annealing with warm restarts
    warmup_ratio: float = 0.05  # warmup_ratio
    dropout: float = 0.3  # model.classifier_dropout
    normalization: str = "utterance"  # MfccChromaFeatureExtractor(normalization=...)
    hop_length: int = 256  # MfccChromaFeatureExtractor(hop_length=...): 16 ms at 16 kHz
    class_weights: bool = False  # class_weights
    spec_augment: bool = False
    copy_paste: bool = False
    speed_perturbation: bool = False
    label_smoothing: float = 0.0
    max_grad_norm: float = 1.0


# ---------------------------------------------------------------------------------------------- data
@dataclass
class CorpusData:
    """One corpus: the `datasets.Dataset`, its folds and per-clip raw MFCC+chroma features."""

    name: str
    dataset: Any
    folds: list
    labels: np.ndarray
    speakers: list
    label_names: list
    raw: list  # (frames, 46) float32 un-normalised features, one per row
    speed: dict = field(default_factory=dict)  # factor -> list like `raw`
    path_index: dict = field(default_factory=dict)
    hop_length: int = 256


def recipe_config(corpus: str, fold: int = 0):
    """The recipe configuration whose protocol the runs follow (``recipes/crossval.py`` flags)."""
    from hf_ser.training import TrainConfig

    return TrainConfig(
        model_type="lstm_sa",
        corpus=corpus,
        data_dir=str(DATA_DIR / corpus),
        folds=CORPORA[corpus],
        fold=fold,
        use_validation=True,
    )


def _path(value: Any) -> str:
    return value["path"] if isinstance(value, dict) else str(value)


def raw_extractor(hop_length: int = 256):
    from hf_ser.models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor

    return MfccChromaFeatureExtractor(normalization="none", hop_length=hop_length)


def load_corpus_data(corpus: str, work_dir: Path, speed: bool = False, hop_length: int = 256) -> CorpusData:
    """Load the corpus and its folds; compute (or read the cached) raw features of every clip."""
    from tqdm.auto import tqdm

    from hf_ser.data import with_decoded_audio
    from hf_ser.data.augment import SpeedPerturbation
    from hf_ser.training.data import compute_folds, load_dataset_for

    cfg = recipe_config(corpus)
    dataset = load_dataset_for(cfg)
    folds = compute_folds(cfg, dataset)
    plain = dataset.with_format(None)
    paths = [_path(value) for value in plain["audio"]]
    data = CorpusData(
        name=corpus,
        dataset=dataset,
        folds=folds,
        labels=np.asarray(plain["label"]),
        speakers=list(plain["speaker"]),
        label_names=list(dataset.features["label"].names),
        raw=[],
        path_index={path: row for row, path in enumerate(paths)},
        hop_length=hop_length,
    )
    wanted = {1.0: "raw"} | ({factor: f"speed{factor}" for factor in SPEED_FACTORS} if speed else {})
    cache = (
        work_dir / "features" / (f"{corpus}.npz" if hop_length == 256 else f"{corpus}_hop{hop_length}.npz")
    )
    stored = dict(np.load(cache)) if cache.is_file() else {}
    extractor = raw_extractor(hop_length)
    missing = [factor for factor, key in wanted.items() if f"{key}_values" not in stored]
    if missing:
        decoded = with_decoded_audio(dataset)
        for factor in missing:
            perturb = SpeedPerturbation((factor,), p=1.0) if factor != 1.0 else None
            features = []
            for row in tqdm(range(len(dataset)), desc=f"{corpus} features (speed {factor})", leave=False):
                array = decoded[row]["audio"]["array"]
                if perturb is not None:
                    array = perturb(array, 16000)
                features.append(extractor.extract(array))
            key = wanted[factor]
            stored[f"{key}_values"] = np.concatenate(features)
            stored[f"{key}_lengths"] = np.asarray([len(f) for f in features])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **stored)
    for factor, key in wanted.items():
        values, lengths = stored[f"{key}_values"], stored[f"{key}_lengths"]
        features = np.split(values, np.cumsum(lengths)[:-1])
        if factor == 1.0:
            data.raw = features
        else:
            data.speed[factor] = features
    return data


def fold_rows(data: CorpusData, fold: int) -> dict[str, np.ndarray]:
    """Row indices of the recipe's train / validation / test splits of ``fold`` (via ``split_data``)."""
    from hf_ser.training.data import split_data

    split = split_data(recipe_config(data.name, fold), data.dataset, data.folds)
    parts = {"train": split.train, "validation": split.validation, "test": split.tests["test"]}
    return {
        name: np.asarray([data.path_index[_path(v)] for v in part.with_format(None)["audio"]])
        for name, part in parts.items()
    }


def copy_paste_features(
    data: CorpusData, fold: int, train_rows: np.ndarray, work_dir: Path, seed: int = 0
) -> list:
    """``COPY_PASTE_VARIANTS`` CopyPaste versions (raw features) of every training clip of ``fold``.

    Uses :class:`hf_ser.augment.CopyPaste` (mode ``"both"``: a neutral or same-emotion partner from the
    *training* speakers of the fold, pasted before or after) on the waveform, then the project's extractor.
    Cached in ``work_dir``; returns ``variants[k][position in train_rows]``.
    """
    from hf_ser.data import decode_example_audio
    from hf_ser.data.augment import CopyPaste

    hop = "" if data.hop_length == 256 else f"_hop{data.hop_length}"
    cache = work_dir / "features" / f"{data.name}_copy_paste{hop}_fold{fold:02d}.npz"
    if cache.is_file():
        stored = np.load(cache)
        return [
            np.split(stored[f"v{k}_values"], np.cumsum(stored[f"v{k}_lengths"])[:-1])
            for k in range(COPY_PASTE_VARIANTS)
        ]
    pool = data.dataset.select(train_rows)
    augment = CopyPaste(pool, mode="both", probability=1.0, chunk_seconds=2.0)
    extractor = raw_extractor(data.hop_length)
    rng = np.random.default_rng([seed, fold])
    audio = data.dataset.with_format(None)["audio"]
    variants, stored = [], {}
    for k in range(COPY_PASTE_VARIANTS):
        features = []
        for row in train_rows:
            array = decode_example_audio(audio[row], 16000)
            features.append(extractor.extract(augment(array, 16000, label=int(data.labels[row]), rng=rng)))
        variants.append(features)
        stored[f"v{k}_values"] = np.concatenate(features)
        stored[f"v{k}_lengths"] = np.asarray([len(f) for f in features])
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **stored)
    return variants


# ---------------------------------------------------------------------------------------------- training
_DATA: dict[str, CorpusData] = {}  # set in the parent before the worker pool forks


def normalizer(settings: Settings, train_raw: list):
    """The project's extractor with the run's normalisation (global statistics from the training clips)."""
    from hf_ser.models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor

    if settings.normalization != "global":
        return MfccChromaFeatureExtractor(
            normalization=settings.normalization, hop_length=settings.hop_length
        )
    frames = np.concatenate(train_raw).astype(np.float64)
    return MfccChromaFeatureExtractor(
        normalization="global", mean=frames.mean(0), std=frames.std(0), hop_length=settings.hop_length
    )


def batch_inputs(extractor, features: list) -> dict[str, torch.Tensor]:
    """Normalise and pad features with the project's extractor (as its ``__call__`` does after extraction)."""
    from transformers import BatchFeature

    normalized = [extractor._normalize(f.astype(np.float64)).astype(np.float32) for f in features]
    padded = extractor.pad(
        BatchFeature({"input_values": normalized}), padding=True, return_attention_mask=True
    )
    return {
        "input_values": torch.tensor(np.asarray(padded["input_values"], dtype=np.float32)),
        "attention_mask": torch.tensor(np.asarray(padded["attention_mask"])),
    }


def predict(model, extractor, features: list, batch_size: int = 64) -> np.ndarray:
    model.eval()
    probabilities = []
    with torch.no_grad():
        for start in range(0, len(features), batch_size):
            inputs = batch_inputs(extractor, features[start : start + batch_size])
            probabilities.append(torch.softmax(model(**inputs).logits, -1).numpy())
    return np.concatenate(probabilities)


def train_run(corpus: str, model_name: str, fold: int, seed: int, settings: Settings, work_dir: str) -> dict:
    """Train one model on one fold with one seed; return validation/test metrics and test probabilities."""
    import torch.nn.functional as F
    from transformers import set_seed
    from transformers.optimization import get_cosine_with_hard_restarts_schedule_with_warmup

    from hf_ser import LSTMSAConfig, LSTMSAForAudioClassification
    from hf_ser.augment import SpecAugment
    from hf_ser.metrics import classification_metrics, uar
    from hf_ser.training.data import class_weights_from

    torch.set_num_threads(1)
    started = time.perf_counter()
    data = _DATA[corpus]
    if data.hop_length != settings.hop_length:
        raise ValueError(
            f"features were computed with hop {data.hop_length}, settings ask {settings.hop_length}"
        )
    rows = fold_rows(data, fold)
    train_rows = rows["train"]
    train_raw = [data.raw[r] for r in train_rows]
    extractor = normalizer(settings, train_raw)
    copy_paste = copy_paste_features(data, fold, train_rows, Path(work_dir)) if settings.copy_paste else None

    set_seed(seed)
    hidden, residual = MODELS[model_name]
    num_labels = len(data.label_names)
    config_kwargs: dict[str, Any] = {}
    if settings.class_weights:
        split = data.dataset.select(train_rows)
        config_kwargs = {
            "class_weights": class_weights_from(split, num_labels),
            "classification_loss": "weighted_ce",
        }
    config = LSTMSAConfig(
        hidden_size=hidden,
        residual=residual,
        classifier_dropout=settings.dropout,
        id2label=dict(enumerate(data.label_names)),
        **config_kwargs,
    )
    model = LSTMSAForAudioClassification(config)
    decay = [p for n, p in model.named_parameters() if "bias" not in n]
    no_decay = [p for n, p in model.named_parameters() if "bias" in n]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.learning_rate,
    )
    steps_per_epoch = math.ceil(len(train_rows) / settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    scheduler = get_cosine_with_hard_restarts_schedule_with_warmup(
        optimizer,
        math.ceil(settings.warmup_ratio * total_steps),
        total_steps,
        num_cycles=max(1, math.ceil(settings.epochs / settings.restart_period_epochs)),
    )
    spec_augment = SpecAugment(seed=seed) if settings.spec_augment else None
    rng = np.random.default_rng(seed)
    labels = torch.tensor(data.labels[train_rows])
    validation_features = [data.raw[r] for r in rows["validation"]]
    validation_labels = data.labels[rows["validation"]]
    test_features = [data.raw[r] for r in rows["test"]]
    test_labels = data.labels[rows["test"]]

    def training_features(position: int) -> np.ndarray:
        row = train_rows[position]
        if copy_paste is not None and rng.random() < 0.5:
            return copy_paste[int(rng.integers(len(copy_paste)))][position]
        if settings.speed_perturbation:
            factor = (1.0, *SPEED_FACTORS)[int(rng.integers(1 + len(SPEED_FACTORS)))]
            return data.raw[row] if factor == 1.0 else data.speed[factor][row]
        return data.raw[row]

    best_uar, best_state, best_epoch, history, test_history, loss_history = -1.0, None, -1, [], [], []
    args_trace_test = os.environ.get("SMALLBENCH_TRACE_TEST") == "1"
    for epoch in range(settings.epochs):
        model.train()
        if spec_augment is not None:
            spec_augment.train()
        order = rng.permutation(len(train_rows))
        epoch_loss = 0.0
        for start in range(0, len(order), settings.batch_size):
            positions = order[start : start + settings.batch_size]
            inputs = batch_inputs(extractor, [training_features(p) for p in positions])
            if spec_augment is not None:
                inputs["input_values"] = spec_augment(inputs["input_values"], inputs["attention_mask"].bool())
            batch_labels = labels[positions]
            if settings.label_smoothing > 0:
                logits = model(**inputs).logits
                weight = torch.tensor(config.class_weights) if config.class_weights else None
                loss = F.cross_entropy(
                    logits, batch_labels, weight=weight, label_smoothing=settings.label_smoothing
                )
            else:
                loss = model(**inputs, labels=batch_labels).loss
            loss.backward()
            epoch_loss += float(loss.detach()) * len(positions) / len(order)
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        validation_uar = uar(validation_labels, predict(model, extractor, validation_features).argmax(-1))
        history.append(round(validation_uar, 4))
        loss_history.append(round(epoch_loss, 4))
        if args_trace_test:  # diagnostics only: never used for selection
            test_history.append(
                round(uar(test_labels, predict(model, extractor, test_features).argmax(-1)), 4)
            )
        if validation_uar > best_uar:  # strictly better, as Trainer's best-checkpoint tracking
            best_uar, best_epoch, best_state = validation_uar, epoch, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    probabilities = predict(model, extractor, test_features)
    metrics = classification_metrics(test_labels, probabilities.argmax(-1))
    return {
        "corpus": corpus,
        "model": model_name,
        "fold": fold,
        "seed": seed,
        "settings": asdict(settings),
        "validation_uar": best_uar,
        "best_epoch": best_epoch,
        "validation_history": history,
        "test_history": test_history,
        "loss_history": loss_history,
        "test": {k: float(v) for k, v in metrics.items()},
        "test_labels": test_labels.tolist(),
        "test_probabilities": np.round(probabilities, 5).tolist(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": time.perf_counter() - started,
        "sizes": {k: len(v) for k, v in rows.items()},
    }


# ---------------------------------------------------------------------------------------------- experiments
def run_key(run: dict) -> tuple:
    return run["corpus"], run["model"], run["fold"], run["seed"]


def run_experiment(
    name: str, corpus: str, model_names: list, seeds: int, settings: Settings, args
) -> list[dict]:
    """Every (model, fold, seed) of one experiment, resumable from ``<work_dir>/<name>/<corpus>.jsonl``."""
    log = Path(args.work_dir) / name / f"{corpus}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if log.is_file():
        for line in log.read_text().splitlines():
            run = json.loads(line)
            if run["settings"] == asdict(settings):
                done[run_key(run)] = run
    data = _DATA[corpus]
    if settings.copy_paste:  # build the per-fold CopyPaste pools once, before forking
        for fold in range(len(data.folds)):
            copy_paste_features(data, fold, fold_rows(data, fold)["train"], Path(args.work_dir))
    folds = range(len(data.folds) if name != "tune" or args.tune_folds is None else args.tune_folds)
    tasks = [(corpus, m, fold, args.seed + s) for m in model_names for s in range(seeds) for fold in folds]
    todo = [t for t in tasks if t not in done]
    print(f"[{name}] {corpus}: {len(tasks)} runs, {len(todo)} to do", flush=True)
    started = time.perf_counter()

    def record(run: dict) -> None:
        done[run_key(run)] = run
        with log.open("a") as handle:
            handle.write(json.dumps(run) + "\n")
        finished = sum(t in done for t in todo)
        print(
            f"[{name}] {corpus} {run['model']} fold {run['fold']} seed {run['seed']}: test UAR "
            f"{run['test']['uar']:.4f} (val {run['validation_uar']:.4f} @ epoch {run['best_epoch']}) "
            f"{run['seconds']:.0f}s; {finished}/{len(todo)} in {time.perf_counter() - started:.0f}s",
            flush=True,
        )

    if args.workers > 1 and todo:
        with ProcessPoolExecutor(args.workers) as pool:
            futures = [pool.submit(train_run, *task, settings, args.work_dir) for task in todo]
            for future in as_completed(futures):
                record(future.result())
    else:
        for task in todo:
            record(train_run(*task, settings, args.work_dir))
    return [done[t] for t in tasks]


def summarize_runs(runs: list[dict], n_folds: int, seeds: int) -> dict:
    """The recipe's crossval summary (mean ± std / max over seeds of the fold-averaged UAR) + extras."""
    from hf_ser.metrics import uar
    from hf_ser.training.crossval import summarize

    summary = summarize(
        [
            {
                "fold": r["fold"],
                "seed": r["seed"],
                "value": r["test"]["uar"],
                "test_split": "test",
                "output_dir": "",
                "metrics": {"test": r["test"]},
            }
            for r in runs
        ],
        "uar",
        n_folds,
        seeds,
    )
    summary.pop("runs")
    summary["wa_mean"] = float(np.mean([r["test"]["wa"] for r in runs]))
    summary["validation_uar_mean"] = float(np.mean([r["validation_uar"] for r in runs]))
    summary["parameters"] = runs[0]["parameters"]
    summary["train_seconds_total"] = float(sum(r["seconds"] for r in runs))
    summary["train_seconds_per_run"] = summary["train_seconds_total"] / len(runs)
    if seeds > 1:  # seed ensembling: average the seeds' test probabilities per fold
        per_fold = []
        for fold in sorted({r["fold"] for r in runs}):
            fold_runs = [r for r in runs if r["fold"] == fold]
            probabilities = np.mean([np.asarray(r["test_probabilities"]) for r in fold_runs], axis=0)
            per_fold.append(uar(fold_runs[0]["test_labels"], probabilities.argmax(-1)))
        summary["ensemble"] = {
            "uar_mean_over_folds": float(np.mean(per_fold)),
            "uar_std_over_folds": float(np.std(per_fold, ddof=1)),
            "members": seeds,
            "per_fold": [float(v) for v in per_fold],
        }
    return summary


def main_part(args) -> None:
    settings = settings_from(args)
    results = load_results("small_models_crossval.json")
    for corpus in args.corpora:
        _DATA[corpus] = load_corpus_data(corpus, Path(args.work_dir), hop_length=settings.hop_length)
        runs = run_experiment("main", corpus, args.models, args.seeds, settings, args)
        for model_name in args.models:
            model_runs = [r for r in runs if r["model"] == model_name]
            summary = summarize_runs(model_runs, len(_DATA[corpus].folds), args.seeds)
            summary["settings"] = asdict(settings)
            results.setdefault(corpus, {})[model_name] = summary
            print(
                f"{corpus} {model_name}: UAR {summary['mean']:.4f} ± {summary['std']:.4f} "
                f"(max {summary['max']:.4f})"
            )
        save_results("small_models_crossval.json", results)


def ablation_part(args) -> None:
    for corpus in args.corpora:
        _DATA[corpus] = load_corpus_data(
            corpus,
            Path(args.work_dir),
            speed="speed_perturbation" in args.variants,
            hop_length=settings_from(args).hop_length,
        )
        # "plain" last: its runs are the main table's (same settings), usually finished by then.
        for variant in sorted(args.variants, key=lambda v: v == "plain"):
            settings = settings_from(args, **ABLATIONS[variant])
            name = "main" if variant == "plain" else f"ablation_{variant}"
            runs = run_experiment(name, corpus, [args.ablation_model], args.seeds, settings, args)
            summary = summarize_runs(runs, len(_DATA[corpus].folds), args.seeds)
            summary["settings"] = asdict(settings)
            results = load_results("small_models_ablations.json")  # re-read: one process per corpus may write
            results.setdefault(corpus, {})[variant] = summary
            save_results("small_models_ablations.json", results)
            print(
                f"{corpus} {variant}: UAR {summary['mean']:.4f} ± {summary['std']:.4f}"
                + (
                    f", {args.seeds}-seed ensemble {summary['ensemble']['uar_mean_over_folds']:.4f}"
                    if "ensemble" in summary
                    else ""
                )
            )


def tune_part(args) -> None:
    """Small grid on ResLSTM-SA-h64, one seed, scored on the VALIDATION folds only (test UAR only logged)."""
    for corpus in args.corpora:
        _DATA[corpus] = load_corpus_data(
            corpus, Path(args.work_dir), hop_length=settings_from(args).hop_length
        )
        for point in args.grid:
            settings = settings_from(args, **point)
            runs = run_experiment("tune", corpus, [args.ablation_model], 1, settings, args)
            entry = {
                "settings": asdict(settings),
                "changed": point,
                "folds": len(runs),
                "validation_uar": float(np.mean([r["validation_uar"] for r in runs])),
                "test_uar": float(np.mean([r["test"]["uar"] for r in runs])),
            }
            results = load_results("small_models_tuning.json")  # re-read: several tune processes may write
            results.setdefault(corpus, []).append(entry)
            save_results("small_models_tuning.json", results)
            print(
                f"tune {corpus} {point}: validation UAR {entry['validation_uar']:.4f} "
                f"(test {entry['test_uar']:.4f})"
            )


# ---------------------------------------------------------------------------------------------- SVM baseline
def svm_part(args) -> None:
    """StandardScaler + RBF-SVC on mean+std of the 46 raw MFCC+chroma dims; C, gamma by inner group CV."""
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from hf_ser.metrics import classification_metrics

    results = load_results("small_models_svm.json")
    grid = {"svc__C": [1.0, 3.0, 10.0, 30.0, 100.0], "svc__gamma": ["scale", 0.003, 0.01, 0.03]}
    for corpus in args.corpora:
        data = _DATA.get(corpus) or load_corpus_data(corpus, Path(args.work_dir))
        features = np.stack([np.concatenate([f.mean(0), f.std(0)]) for f in data.raw])
        speakers = np.asarray(data.speakers)
        entry: dict[str, Any] = {}
        for name, tuned in (("svm_fixed_C10_scale", False), ("svm_tuned_inner_cv", True)):
            started = time.perf_counter()
            per_fold, chosen = [], []
            for train_rows, test_rows in data.folds:  # all non-test speakers train the SVM
                pipeline = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=10.0, gamma="scale"))
                if tuned:
                    inner = GroupKFold(n_splits=min(5, len(set(speakers[train_rows]))))
                    search = GridSearchCV(pipeline, grid, scoring="balanced_accuracy", cv=inner, n_jobs=1)
                    search.fit(features[train_rows], data.labels[train_rows], groups=speakers[train_rows])
                    pipeline, _ = search.best_estimator_, chosen.append(search.best_params_)
                else:
                    pipeline.fit(features[train_rows], data.labels[train_rows])
                predictions = pipeline.predict(features[test_rows])
                per_fold.append(classification_metrics(data.labels[test_rows], predictions))
            values = [m["uar"] for m in per_fold]
            entry[name] = {
                "uar_mean_over_folds": float(np.mean(values)),
                "uar_std_over_folds": float(np.std(values, ddof=1)),
                "uar_max_fold": float(np.max(values)),
                "wa_mean": float(np.mean([m["wa"] for m in per_fold])),
                "per_fold": values,
                "n_folds": len(values),
                "seconds": time.perf_counter() - started,
                "chosen": [{k: v for k, v in c.items()} for c in chosen],
            }
            print(f"{corpus} {name}: UAR {np.mean(values):.4f} ± {np.std(values, ddof=1):.4f} over folds")
        results[corpus] = entry
    save_results("small_models_svm.json", results)


# ---------------------------------------------------------------------------------------------- I/O, report
def load_results(name: str) -> dict:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else {}


def save_results(name: str, results: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results["_environment"] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "threads_per_worker": 1,
        "written": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (RESULTS / name).write_text(json.dumps(results, indent=1) + "\n")


def settings_from(args, **changes: Any) -> Settings:
    keys = {f for f in Settings.__dataclass_fields__}
    values = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    return Settings(**(values | changes))


PROTOCOL = {"emodb": "leave-one-speaker-out (10 folds)", "urdu": "5 speaker-disjoint folds"}

NOTES = """## How to read these numbers

- Neural rows: the recipe protocol. Each run trains on the speakers of the other folds minus the next fold
  (EmoDB: 8 speakers, URDU: 3 of 5 folds), keeps the epoch with the best validation UAR (next fold's speakers)
  and is scored on the test fold. Per seed, UAR is averaged over the folds; mean ± std and max are over seeds
  (over folds for one seed). All std are sample std (ddof=1), as the recipe's crossval summary reports them.
- RBF-SVM rows: `StandardScaler` + `SVC(kernel="rbf")` on the mean and std over frames of the 46 raw
  MFCC+chroma dims (hop 256), trained on all non-test speakers; `tuned inner cv` picks C in {1,3,10,30,100}
  and gamma in {scale, 0.003, 0.01, 0.03} by `GroupKFold` over the training speakers only (balanced
  accuracy = UAR). Deterministic, so mean ± std are over folds. It sees one more fold of speakers than the
  neural models (no validation hold-out).
- Hyper-parameters of the neural models were chosen on EmoDB *validation* folds only (ResLSTM-SA-h64,
  1 seed, first 6 folds; table at the end) and used unchanged for URDU and for LSTM-SA. During development
  a few pilot runs on EmoDB fold 0 also traced that fold's test UAR (diagnostics, not used for the choice).
- Time: `time / run` is the wall time of one run in a worker (1 torch thread; 3-4 workers shared 2 cores
  with other jobs at load 10-18), so the sums overstate CPU time. Wall time of the main h64 command
  (2 models x 3 seeds x both corpora, 90 runs, 3 workers): ~46 min under that load. The 1-seed h32 / h128
  rows ran later on a quieter machine (4 workers, ~3 and ~5 min wall), so their times are not comparable.
- `hop_length` 512 (32 ms) instead of the extractor's default 256: similar validation UAR, ~1.7x faster.
- Ablations use the project's augmentations: `SpecAugment` (defaults: 2 feature masks <= 8 of 46 dims, 2 time
  masks <= 20 frames) on the normalised features; `CopyPaste` (mode "both", partner from the fold's training
  speakers) with 2 precomputed versions per training clip and fold, used with probability 0.5 per epoch;
  `SpeedPerturbation` factors 0.9 / 1.0 / 1.1 (precomputed, one drawn per clip and epoch); label smoothing
  0.1 via `torch.nn.functional.cross_entropy` (the model's loss has no smoothing option), class weights kept.
"""


def report_part(args) -> None:
    """Write ``benchmarks/results/small_models.md`` from the JSON results."""
    main = load_results("small_models_crossval.json")
    ablations = load_results("small_models_ablations.json")
    svm = load_results("small_models_svm.json")
    tuning = load_results("small_models_tuning.json")
    lines = [
        "# Small models: cross-validated UAR on EmoDB and URDU",
        "",
        "Generated by `python benchmarks/small_models_crossval.py --part report` from the JSON files next to "
        "this one; see the module docstring of `benchmarks/small_models_crossval.py` for the protocol.",
        "",
    ]
    for corpus in CORPORA:
        if corpus not in main and corpus not in svm:
            continue
        lines += [
            f"## {corpus}: {PROTOCOL[corpus]}, metric UAR",
            "",
            "| model | params | seeds | UAR mean ± std | UAR max | seed ensemble | "
            "time / run | sum of run times |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for model_name in MODELS:
            summary = main.get(corpus, {}).get(model_name)
            if summary is None:
                continue
            ensemble = summary.get("ensemble", {}).get("uar_mean_over_folds")
            lines.append(
                f"| {display_name(model_name)} | {summary['parameters'] / 1000:.1f} k | "
                f"{summary['n_seeds']} | {summary['mean']:.4f} ± {summary['std']:.4f} "
                f"(over {summary['over']}) | "
                f"{summary['max']:.4f}{' (best fold)' if summary['over'] == 'folds' else ''} | "
                f"{'' if ensemble is None else f'{ensemble:.4f}'} | "
                f"{summary['train_seconds_per_run']:.0f} s | "
                f"{summary['train_seconds_total'] / 60:.1f} min |"
            )
        for name, entry in svm.get(corpus, {}).items():
            lines.append(
                f"| RBF-SVM ({name.removeprefix('svm_').replace('_', ' ')}) | - | - (deterministic) | "
                f"{entry['uar_mean_over_folds']:.4f} ± {entry['uar_std_over_folds']:.4f} (over folds) | "
                f"{entry['uar_max_fold']:.4f} (best fold) | | | {entry['seconds']:.0f} s |"
            )
        lines.append("")
        settings = next(iter(main.get(corpus, {}).values()), {}).get("settings")
        if settings:
            lines += [f"Neural settings: `{json.dumps(settings)}`.", ""]
    if ablations:
        lines += [
            "## Beyond the paper: ablations on ResLSTM-SA-h64",
            "",
            "Each variant adds one thing to the main table's settings; same folds and seeds as its `plain` "
            "row (whose runs are the main table's). With one seed, mean ± std are over folds. "
            "`folds better` counts folds whose test UAR beats `plain` on the same fold (paired).",
            "",
            "| corpus | variant | seeds | UAR mean ± std | Δ vs plain | folds better | train time / run |",
            "|---|---|---|---|---|---|---|",
        ]
        for corpus in CORPORA:
            rows = ablations.get(corpus, {})
            plain = rows.get("plain")
            order = ["plain"] + [v for v in rows if v != "plain"]
            for variant in (v for v in order if v in rows):
                summary = rows[variant]
                delta, better = "", ""
                if plain is not None and variant != "plain":
                    delta = f"{summary['mean'] - plain['mean']:+.4f}"
                    wins = [
                        summary["per_fold"][f]["mean"] > plain["per_fold"][f]["mean"]
                        for f in plain["per_fold"]
                        if f in summary["per_fold"]
                    ]
                    better = f"{sum(wins)}/{len(wins)}"
                lines.append(
                    f"| {corpus} | {variant} | {summary['n_seeds']} | {summary['mean']:.4f} ± "
                    f"{summary['std']:.4f} | {delta} | {better} | {summary['train_seconds_per_run']:.0f} s |"
                )
            reference = main.get(corpus, {}).get("reslstm_sa_h64", {})
            if "ensemble" in reference:
                ensemble = reference["ensemble"]
                single = [reference["per_fold"][str(f)]["mean"] for f in range(len(ensemble["per_fold"]))]
                wins = sum(e > m for e, m in zip(ensemble["per_fold"], single, strict=True))
                lines.append(
                    f"| {corpus} | seed ensemble: mean probabilities of the main table's "
                    f"{ensemble['members']} seeds per fold, vs their single-model mean "
                    f"{reference['mean']:.4f} | {ensemble['members']} | "
                    f"{ensemble['uar_mean_over_folds']:.4f} ± {ensemble['uar_std_over_folds']:.4f} "
                    "(over folds) | "
                    f"{ensemble['uar_mean_over_folds'] - reference['mean']:+.4f} | {wins}/{len(single)} | |"
                )
        lines.append("")
    if tuning:
        lines += [
            "## Hyper-parameter selection (ResLSTM-SA-h64, 1 seed, scored on the validation folds)",
            "",
            "Each grid point changes the defaults below; the choice is made on validation UAR (the next "
            "fold's speakers). Test UAR is logged only to show the gap, it was not used.",
            "",
            "| corpus | change vs defaults | folds | validation UAR | test UAR (not used) |",
            "|---|---|---|---|---|",
        ]
        for corpus, entries in tuning.items():
            if corpus.startswith("_"):
                continue
            defaults = asdict(Settings())
            for e in entries:
                changed = {k: v for k, v in e["settings"].items() if defaults.get(k) != v}
                lines.append(
                    f"| {corpus} | `{json.dumps(changed)}` | {e.get('folds', '')} | "
                    f"{e['validation_uar']:.4f} | {e['test_uar']:.4f} |"
                )
        lines += ["", f"Defaults: `{json.dumps(asdict(Settings()))}`.", ""]
    lines += [NOTES]
    (RESULTS / "small_models.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def display_name(model_name: str) -> str:
    hidden, residual = MODELS[model_name]
    return f"{'ResLSTM-SA' if residual else 'LSTM-SA'}-h{hidden}"


def parse_args(argv: Optional[list] = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["main", "ablations", "svm", "tune", "report"], required=True)
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--models", nargs="+", default=["lstm_sa_h64", "reslstm_sa_h64"])
    parser.add_argument("--variants", nargs="+", default=list(ABLATIONS), choices=list(ABLATIONS))
    parser.add_argument("--ablation_model", default="reslstm_sa_h64", choices=list(MODELS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=2, help="training processes (1 torch thread each)")
    parser.add_argument("--work_dir", default=str(WORK_DIR), help="feature cache and per-run logs")
    for name, value in asdict(Settings()).items():
        kind = type(value) if not isinstance(value, bool) else (lambda s: s.lower() in ("1", "true", "yes"))
        parser.add_argument(f"--{name}", type=kind, default=None, help=f"default {value}")
    parser.add_argument(
        "--grid",
        type=json.loads,
        nargs="+",
        default=[
            {"normalization": "utterance"},
            {"normalization": "global"},
            {"normalization": "global", "class_weights": True},
        ],
        help="tune: JSON objects of Settings changes, one per grid point",
    )
    parser.add_argument("--tune_folds", type=int, default=None, help="tune: only the first N folds")
    args = parser.parse_args(argv)
    if args.models == ["all"]:
        args.models = list(MODELS)
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {list(MODELS)} or 'all'")
    return args


def main(argv: Optional[list] = None) -> None:
    args = parse_args(argv)
    {
        "main": main_part,
        "ablations": ablation_part,
        "svm": svm_part,
        "tune": tune_part,
        "report": report_part,
    }[args.part](args)


if __name__ == "__main__":
    main()
