"""Train hf_ser's built-in default model (``hf_ser/default_model``): ResLSTM-SA-h64 on EmoDB + URDU.

    python recipes/train_default_model.py --data_dir ../shared/data                  # protocols + final model
    python recipes/train_default_model.py --data_dir ../shared/data --protocol cross-corpus --final false \
        --recipe current --seeds 2                                                   # compare a candidate

What it does (about ten minutes on 2 CPU cores):

1. loads EmoDB and URDU with ``hf_ser.data.load_corpus`` (canonical labels; the union of both label sets,
   7 classes) and turns every clip into MFCC + chroma frames once, at speed 1.0 and at every speed of
   ``--speed_perturbation`` / ``--test_time_speeds`` (``hf_ser.data.audio.change_speed``, as
   ``SpeedPerturbation`` and the pipeline's test-time averaging; ``--cache_dir`` keeps them);
   ``--normalization global`` standardises them with mean/std fitted on the training clips of each run,
   ``utterance`` per clip;
2. ``--protocol cross-corpus``: trains on EmoDB and tests on URDU, and the reverse, over the classes the
   two share (anger, happiness, neutral, sadness; training and test clips restricted to them, as
   ``hf_ser.evaluation.cross_corpus_matrix``), UAR averaged over ``--seeds`` seeds. This is the figure the
   recipe (``--recipe``, :data:`RECIPES`) was selected on (BENCHMARKS §5);
3. ``--protocol cv``: ``--folds`` speaker-independent folds per corpus (``hf_ser.data.speaker_folds``),
   fold k of the run = fold k of EmoDB + fold k of URDU, so no test speaker is seen in training; a fixed
   number of epochs (no early stopping); UAR per corpus (mean ± std over folds). The out-of-fold logits
   (held-out speakers) fit the calibration temperature; ECE (15 bins) is reported before and after, the
   latter cross-fitted (each fold scaled by the temperature fitted on the other folds);
4. trains the final model on all clips with the same settings and saves it (safetensors; its config holds
   ``temperature``, ``test_time_speeds`` and ``arousal_from_categories``), its feature extractor, its ONNX
   export (``model.onnx``, run by the torch-free ``hf_ser.runtime``), the protocol figures
   (``crossval.json``) and a model card (``hf_ser.cards``) into ``--output_dir``.

Training uses a plain PyTorch loop over pre-computed features rather than ``recipes/finetune.py``: the
Trainer recipe re-extracts features every epoch and handles one corpus per run, which would make this
several times slower on the shared CPU; the model, its loss, the folds, the augmentation and the metrics
are hf_ser's own.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from transformers import BatchFeature, get_cosine_with_hard_restarts_schedule_with_warmup

from hf_ser import LSTMSAConfig, LSTMSAForAudioClassification, MfccChromaFeatureExtractor
from hf_ser.cards import SERCardData, save_model_card
from hf_ser.data import load_audio, load_corpus, speaker_folds
from hf_ser.data.audio import change_speed
from hf_ser.metrics import uar
from hf_ser.metrics.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    probabilities_at,
)
from hf_ser.models.audio_features import normalize_features

REPO = Path(__file__).resolve().parents[1]
CORPORA = ("emodb", "urdu")
RECIPES: dict[str, dict] = {
    # Candidate recipes, compared with --protocol cross-corpus; command-line flags override them.
    "current": {  # the recipe of the first built-in model (card: EmoDB 0.500, URDU 0.561)
        "model": "reslstm_sa", "hop_length": 256, "learning_rate": 3e-3, "weight_decay": 1e-4,
        "dropout": 0.3, "scheduler": "onecycle", "normalization": "global",
        "speed_perturbation": "", "test_time_speeds": "",
    },
    "v3-tta": {  # recipes/configs/reslstm_sa_h64.yaml: speed perturbation + test-time speed averaging
        "model": "reslstm_sa", "hop_length": 512, "learning_rate": 1e-2, "weight_decay": 1e-2,
        "dropout": 0.5, "scheduler": "cosine_restarts", "normalization": "global",
        "speed_perturbation": "0.85,0.9,0.95,1.05,1.1,1.15", "test_time_speeds": "0.9,1.1",
    },
}  # fmt: skip
AROUSAL_FROM_CATEGORIES = {
    # Weight of each class in the derived arousal (high +1, low -1; Russell's circumplex, as in the
    # arousal ratings of acted corpora: anger/fear/happiness high, sadness/boredom low).
    "anger": 1.0, "fear": 1.0, "happiness": 1.0, "disgust": 0.0, "neutral": -0.5, "boredom": -1.0,
    "sadness": -1.0,
}  # fmt: skip
DEFAULT_RECIPE = "v3-tta"


def parse_speeds(text: str) -> tuple[float, ...]:
    """``"0.9,1.1"`` -> ``(0.9, 1.1)`` (``""``: none)."""
    return tuple(float(value) for value in str(text).split(",") if value.strip())


def needed_speeds(args: argparse.Namespace) -> tuple[float, ...]:
    """1.0 and every speed the run trains on (perturbation) or tests at (test-time averaging)."""
    return tuple(sorted({1.0, *parse_speeds(args.speed_perturbation), *parse_speeds(args.test_time_speeds)}))


def subset(dataset, per_label: Optional[int]):
    """The first ``per_label`` clips of every label (``None``: all), for quick runs and tests."""
    if not per_label:
        return dataset
    labels, seen, keep = dataset["label"], {}, []
    for row, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] <= per_label:
            keep.append(row)
    return dataset.select(keep)


def load_features(data_dir: Path, args: argparse.Namespace) -> dict:
    """Raw (unnormalised) features at every needed speed, labels (joint label space), corpus and speaker.

    ``features[speed][i]`` is clip ``i`` played ``speed`` times faster (``hf_ser.data.audio.change_speed``,
    used by :class:`hf_ser.data.augment.SpeedPerturbation` and by the pipeline's test-time speeds).
    With ``--cache_dir`` the features are stored there and reused by later runs.
    """
    corpora = {name: subset(load_corpus(name, data_dir / name), args.clips_per_label) for name in CORPORA}
    labels = sorted({label for dataset in corpora.values() for label in dataset.features["label"].names})
    data = {"labels": labels, "label": [], "corpus": [], "speaker": [], "corpora": corpora, "paths": []}
    for name, dataset in corpora.items():
        names = dataset.features["label"].names
        for example in dataset:
            data["label"].append(labels.index(names[example["label"]]))
            data["corpus"].append(name)
            data["speaker"].append(f"{name}:{example['speaker']}")
            data["paths"].append(example["audio"]["path"])
    data["label"], data["corpus"] = np.asarray(data["label"]), np.asarray(data["corpus"])
    data["features"] = speed_features(data["paths"], needed_speeds(args), args)
    return data


def speed_features(paths: list[str], speeds: tuple[float, ...], args: argparse.Namespace) -> dict:
    """``{speed: [raw features of each clip played at that speed]}``, cached in ``args.cache_dir``."""
    extractor = MfccChromaFeatureExtractor(normalization="none", hop_length=args.hop_length)
    cache = None
    if args.cache_dir is not None:
        cache = args.cache_dir / f"features_hop{args.hop_length}_{len(paths)}clips.npz"
    stored = dict(np.load(cache)) if cache is not None and cache.is_file() else {}
    missing = [speed for speed in speeds if f"{speed}_values" not in stored]
    if missing:
        computed: dict[float, list] = {speed: [] for speed in missing}
        for path in paths:
            audio = load_audio(path)
            for speed in missing:
                computed[speed].append(extractor.extract(change_speed(audio, 16000, speed)))
        for speed, values in computed.items():
            stored[f"{speed}_values"] = np.concatenate(values)
            stored[f"{speed}_lengths"] = np.asarray([len(v) for v in values])
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache, **stored)
    return {
        speed: np.split(stored[f"{speed}_values"], np.cumsum(stored[f"{speed}_lengths"])[:-1])
        for speed in speeds
    }


def restrict(data: dict, rows: np.ndarray, labels: list[str]) -> dict:
    """The clips ``rows`` of ``data`` with their labels re-indexed into ``labels`` (a subset of them)."""
    index = [labels.index(data["labels"][i]) for i in data["label"][rows]]
    return {
        "labels": labels,
        "features": {speed: [values[i] for i in rows] for speed, values in data["features"].items()},
        "label": np.asarray(index),
        "corpus": data["corpus"][rows],
        "speaker": [data["speaker"][i] for i in rows],
    }


def combined_folds(data: dict, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fold k = fold k of each corpus (speaker-independent, label-stratified), as row indices of ``data``."""
    offsets, folds = 0, [([], []) for _ in range(n_folds)]
    for name in CORPORA:
        dataset = data["corpora"][name]
        for k, (train, test) in enumerate(speaker_folds(dataset, n_folds=n_folds, seed=seed)):
            folds[k][0].extend((train + offsets).tolist())
            folds[k][1].extend((test + offsets).tolist())
        offsets += len(dataset)
    return [(np.asarray(train), np.asarray(test)) for train, test in folds]


def fit_stats(data: dict, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and std over all frames of the clips ``indices`` (global normalisation)."""
    frames = np.concatenate([data["features"][1.0][i] for i in indices])
    return frames.mean(axis=0), np.maximum(frames.std(axis=0), 1e-5)


def normalise(clip: np.ndarray, args: argparse.Namespace, stats) -> np.ndarray:
    """One clip's raw features as the saved extractor would normalise them (global or per utterance)."""
    if args.normalization == "global":
        return ((clip - stats[0]) / stats[1]).astype(np.float32)
    return normalize_features(clip, "utterance")


def batches(data: dict, indices: np.ndarray, args, stats, rng=None, speed: float = 1.0):
    """Padded ``(inputs, labels)`` batches; with ``rng``: shuffled, each clip at a random training speed."""
    order = rng.permutation(indices) if rng is not None else indices
    speeds = (1.0, *parse_speeds(args.speed_perturbation))
    extractor = MfccChromaFeatureExtractor(normalization="none", hop_length=args.hop_length)
    batch_size = args.batch_size if rng is not None else 64
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        picked = [speed] * len(chosen)
        if rng is not None:  # speed perturbation: one speed (or 1.0) per clip and epoch
            picked = [speeds[int(rng.integers(len(speeds)))] for _ in chosen]
        clips = [normalise(data["features"][s][i], args, stats) for s, i in zip(picked, chosen, strict=True)]
        features = BatchFeature({"input_values": clips})
        inputs = extractor.pad(features, padding=True, return_attention_mask=True, return_tensors="pt")
        yield inputs, torch.as_tensor(data["label"][chosen])


def build_model(labels: list[str], train_labels: np.ndarray, args: argparse.Namespace):
    """A fresh (Res)LSTM-SA for ``labels``; class-weighted CE (inverse label frequency) unless disabled."""
    counts = np.bincount(train_labels, minlength=len(labels)).astype(np.float64)
    weights = (counts.sum() / np.maximum(counts, 1) / len(labels)).round(4).tolist()
    torch.manual_seed(args.seed)
    config = LSTMSAConfig(
        hidden_size=args.hidden_size,
        residual=args.model == "reslstm_sa",
        classifier_dropout=args.dropout,
        id2label=dict(enumerate(labels)),
        classification_loss="weighted_ce" if args.class_weights else "ce",
        class_weights=weights if args.class_weights else None,
    )
    return LSTMSAForAudioClassification(config)


def build_scheduler(optimizer, args: argparse.Namespace, steps: int):
    """One-cycle, or cosine with hard restarts every 10 epochs after 5% warm-up (the v3-tta recipe)."""
    if args.scheduler == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.learning_rate, total_steps=steps)
    cycles = max(1, round(args.epochs / 10))
    return get_cosine_with_hard_restarts_schedule_with_warmup(optimizer, int(0.05 * steps), steps, cycles)


def train(data: dict, indices: np.ndarray, args: argparse.Namespace) -> tuple:
    """Train a fresh model on ``indices`` for ``args.epochs`` epochs (final weights, no early stopping).

    Returns ``(model, stats)``: ``stats`` are the global normalisation statistics (``None`` for utterance).
    """
    model = build_model(data["labels"], data["label"][indices], args)
    stats = fit_stats(data, indices) if args.normalization == "global" else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=args.weight_decay)
    scheduler = build_scheduler(optimizer, args, args.epochs * int(np.ceil(len(indices) / args.batch_size)))
    rng = np.random.default_rng(args.seed)
    model.train()
    for _ in range(args.epochs):
        for inputs, targets in batches(data, indices, args, stats, rng):
            loss = model(**inputs, labels=targets).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
    return model.eval(), stats


@torch.inference_mode()
def predict_logits(model, data: dict, indices: np.ndarray, args: argparse.Namespace, stats) -> np.ndarray:
    """Logits ``(speeds, clips, classes)`` at speed 1.0 and at every test-time speed."""
    runs = []
    for speed in (1.0, *parse_speeds(args.test_time_speeds)):
        chunks = batches(data, indices, args, stats, speed=speed)
        runs.append(np.concatenate([model(**inputs).logits.numpy() for inputs, _ in chunks]))
    return np.stack(runs)


def seeds_of(args: argparse.Namespace) -> list[argparse.Namespace]:
    """One copy of ``args`` per seed (``args.seed``, ``args.seed + 1``, ...)."""
    return [argparse.Namespace(**{**vars(args), "seed": args.seed + k}) for k in range(args.seeds)]


def cross_corpus(data: dict, args: argparse.Namespace) -> dict:
    """Train on one corpus, test on the other, over the shared classes only; UAR (mean over seeds).

    Both training and test clips are restricted to the classes the corpora share (EmoDB + URDU: anger,
    happiness, neutral, sadness), as in :func:`hf_ser.evaluation.cross_corpus_matrix` (BENCHMARKS §5).
    """
    present = [{data["labels"][i] for i in data["label"][data["corpus"] == name]} for name in CORPORA]
    shared = sorted(set.intersection(*present))
    keep = np.isin(data["label"], [data["labels"].index(label) for label in shared])
    results = {"labels": shared}
    for source, target in (CORPORA, CORPORA[::-1]):
        train_view = restrict(data, np.flatnonzero(keep & (data["corpus"] == source)), shared)
        test_view = restrict(data, np.flatnonzero(keep & (data["corpus"] == target)), shared)
        scores, start = [], time.perf_counter()
        for run in seeds_of(args):
            model, stats = train(train_view, np.arange(len(train_view["label"])), run)
            logits = predict_logits(model, test_view, np.arange(len(test_view["label"])), run, stats)
            predictions = probabilities_at(logits, 1.0).argmax(-1)
            scores.append(uar(predictions=predictions, references=test_view["label"]))
        key = f"{source}->{target}"
        results[key] = {"uar": float(np.mean(scores)), "std": float(np.std(scores)), "runs": scores}
        print(f"cross-corpus {key}: UAR {np.mean(scores):.3f} over {len(scores)} seed(s) "
              f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
    results["mean_uar"] = float(np.mean([results[f"{a}->{b}"]["uar"] for a, b in (CORPORA, CORPORA[::-1])]))
    return results


def cross_validate(data: dict, args: argparse.Namespace) -> dict:
    """Per-fold and summary UAR (per corpus and pooled) of ``args.folds``-fold speaker-independent CV.

    Also returns the out-of-fold logits (``"oof_logits"``, speeds x clips x classes) and fold of every
    clip, from which :func:`calibrate` fits the temperature on held-out speakers.
    """
    fold_rows, n = [], len(data["label"])
    oof = np.zeros((1 + len(parse_speeds(args.test_time_speeds)), n, len(data["labels"])))
    fold_of = np.full(n, -1)
    for k, (train_idx, test_idx) in enumerate(combined_folds(data, args.folds, args.seed)):
        start = time.perf_counter()
        model, stats = train(data, train_idx, args)
        oof[:, test_idx] = predict_logits(model, data, test_idx, args, stats)
        fold_of[test_idx] = k
        predictions = probabilities_at(oof[:, test_idx], 1.0).argmax(-1)
        truth, corpus = data["label"][test_idx], data["corpus"][test_idx]
        row = {"fold": k, "uar": uar(predictions=predictions, references=truth)}
        for name in CORPORA:
            row[f"uar_{name}"] = uar(predictions[corpus == name], truth[corpus == name])
        fold_rows.append(row)
        print(f"fold {k}: " + ", ".join(f"{key} {value:.3f}" for key, value in row.items() if key != "fold")
              + f" ({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
    summary = {}
    for key in ["uar"] + [f"uar_{name}" for name in CORPORA]:
        values = np.asarray([row[key] for row in fold_rows])
        summary[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)), "n": len(values)}
    return {"folds": fold_rows, "summary": summary, "oof_logits": oof, "fold_of": fold_of}


def calibrate(data: dict, cv: dict) -> dict:
    """Temperature fitted on all out-of-fold logits (held-out speakers), and ECE (15 bins) before / after.

    The "after" ECE is cross-fitted: each fold's clips are scaled with the temperature fitted on the other
    folds' out-of-fold logits, so no clip is scored with a temperature fitted on itself.
    """
    logits, labels, fold_of = cv["oof_logits"], data["label"], cv["fold_of"]
    crossfitted = np.zeros(logits.shape[1:])
    for k in np.unique(fold_of):
        rest, mine = fold_of != k, fold_of == k
        crossfitted[mine] = probabilities_at(logits[:, mine], fit_temperature(logits[:, rest], labels[rest]))
    before = probabilities_at(logits, 1.0)
    return {
        "temperature": round(fit_temperature(logits, labels), 4),
        "ece_before": expected_calibration_error(before, labels, n_bins=15),
        "ece_after": expected_calibration_error(crossfitted, labels, n_bins=15),
        "nll_before": negative_log_likelihood(before, labels),
        "nll_after": negative_log_likelihood(crossfitted, labels),
    }


def cv_protocol(args: argparse.Namespace) -> str:
    """The in-corpus protocol, in words (the card's split name)."""
    return (
        f"{args.folds}-fold speaker-independent cross-validation on each corpus (fold k = EmoDB fold k + "
        f"URDU fold k), {args.epochs} epochs per fold, no early stopping"
    )


def describe_recipe(args: argparse.Namespace) -> dict:
    """The card's hyper-parameters of the final model's recipe."""
    speeds = parse_speeds(args.speed_perturbation)
    return {
        "recipe": args.recipe,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "optimizer": f"AdamW (weight decay {args.weight_decay}), {args.scheduler} schedule",
        "loss": "class-weighted cross-entropy (inverse label frequency)" if args.class_weights else "CE",
        "dropout": args.dropout,
        "speed perturbation": ", ".join(map(str, speeds)) if speeds else "none",
        "test-time speeds (averaged with 1.0)": args.test_time_speeds or "none",
        "seed": args.seed,
        "training command": "python recipes/train_default_model.py --data_dir ../shared/data "
        f"--recipe {args.recipe}",
    }


def card_limitations() -> list[str]:
    """What the card warns about, besides hf_ser's general limitations."""
    return [
        "Trained on 935 clips of two small corpora: EmoDB (German, 10 actors, acted, studio quality) "
        "and URDU (Urdu, spontaneous talk-show speech, 4 emotions). Cross-validated scores inside these "
        "corpora overstate its accuracy anywhere else: trained on one of them and tested on the other "
        "(4 shared classes, chance 0.25) it reaches UAR about 0.3-0.4, and that is closer to what to "
        "expect on new speakers, languages and microphones.",
        "Boredom, disgust and fear occur only in the German acted data; in practice they mean 'sounds "
        "like an EmoDB actor portraying that emotion'.",
        "`arousal` is derived from the class probabilities (config `arousal_from_categories`), not "
        "trained on arousal ratings; it inherits every error of the classifier.",
        "MFCC + chroma features with a small LSTM are far weaker than self-supervised speech "
        "models fine-tuned on large corpora.",
        *SERCardData().limitations,
    ]


def add_results(card: SERCardData, results: dict, args: argparse.Namespace) -> None:
    """In-corpus CV, cross-corpus and calibration figures, next to each other."""
    for key, value in results.get("cv", {}).get("summary", {}).items():
        dataset = "+".join(CORPORA) if key == "uar" else key.removeprefix("uar_")
        card.add_result("uar", value["mean"], dataset=dataset, split=cv_protocol(args), std=value["std"],
                        num_runs=value["n"])  # fmt: skip
    cross = results.get("cross_corpus", {})
    for source, target in (CORPORA, CORPORA[::-1]):
        if f"{source}->{target}" in cross:
            row = cross[f"{source}->{target}"]
            split = f"cross-corpus: trained on {source} only, {', '.join(cross['labels'])}"
            card.add_result("uar", row["uar"], dataset=target, split=split, std=row["std"],
                            num_runs=len(row["runs"]))  # fmt: skip
    calibration = results.get("calibration")
    if calibration:
        split = "out-of-fold predictions of the cross-validation, 15 bins"
        card.add_result("ece", calibration["ece_before"], dataset="emodb+urdu", split=f"{split}, T = 1")
        card.add_result("ece", calibration["ece_after"], dataset="emodb+urdu",
                        split=f"{split}, temperature fitted on the other folds")  # fmt: skip


def write_card(model, data: dict, results: dict, args: argparse.Namespace, output_dir: Path) -> None:
    """The model card (``hf_ser.cards``): recipe, data, in-corpus and cross-corpus UAR, calibration."""
    name = "ResLSTM-SA" if args.model == "reslstm_sa" else "LSTM-SA"
    temperature = results.get("calibration", {}).get("temperature", 1.0)
    card = SERCardData(
        model_name=f"hf_ser default model ({name}-h{args.hidden_size}, EmoDB + URDU)",
        language=["de", "ur"],
        datasets=list(CORPORA),
        labels=data["labels"],
        architecture={
            "model": f"{name} (Krasnoproshin & Vashkevich)",
            "features": f"34 MFCC + 12 chroma per {args.hop_length // 16} ms frame, "
            f"{args.normalization} normalisation",
            "hidden_size": args.hidden_size,
            "calibration": f"temperature {temperature} (fitted on out-of-fold predictions, held-out "
            "speakers)",
            "arousal": "(1 + sum weight x P(class)) / 2 with weights " + json.dumps(AROUSAL_FROM_CATEGORIES),
            "torch-free runtime": "`model.onnx` next to the weights (`hf_ser.runtime`)",
        },
        num_parameters=sum(p.numel() for p in model.parameters()),
        hyperparameters=describe_recipe(args),
        protocol=cv_protocol(args) if "cv" in results else None,
        split_sizes={"train (final model)": len(data["label"])},
        label_counts={
            name: {label: int(((data["corpus"] == name) & (data["label"] == i)).sum())
                   for i, label in enumerate(data["labels"])}
            for name in CORPORA
        },  # fmt: skip
        num_speakers={n: len({s for s in data["speaker"] if s.startswith(f"{n}:")}) for n in CORPORA},
        fold_results=results.get("cv", {}).get("folds", []),
        intended_use=(
            "The default model of `hf_ser.pipeline()` and `hf-ser predict`: a small, fast, offline "
            "demonstration model that works out of the box; its scores are temperature-calibrated and it "
            "adds an `arousal` value derived from them. For real use, fine-tune an SSL model."
        ),
        limitations=card_limitations(),
    )
    add_results(card, results, args)
    save_model_card(card, output_dir)


def write_onnx(model, extractor, output_dir: Path) -> None:
    """Export ``model.onnx`` next to the weights (only the ONNX file: config and extractor are there)."""
    import shutil
    import tempfile

    from hf_ser.export import to_onnx

    with tempfile.TemporaryDirectory() as directory:
        shutil.copy(to_onnx(model.eval(), directory, feature_extractor=extractor), output_dir / "model.onnx")


def parse_args(argv=None) -> argparse.Namespace:
    """Command line; ``--recipe`` picks a preset of :data:`RECIPES`, other flags override its values."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--output_dir", type=Path, default=REPO / "hf_ser" / "default_model")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default=DEFAULT_RECIPE)
    parser.add_argument("--protocol", choices=("cv", "cross-corpus", "both", "none"), default="both")
    parser.add_argument("--final", type=_flag, default=True, help="train and save the final model")
    parser.add_argument("--results", type=Path, help="also write the protocol figures to this JSON file")
    parser.add_argument("--folds", type=int, default=5, help="speaker folds per corpus (0 = skip CV)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds averaged by the cross-corpus protocol")
    parser.add_argument("--cache_dir", type=Path, help="store / reuse the clips' features here")
    parser.add_argument("--clips_per_label", type=int, help="only the first N clips per label (tests)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--model", choices=("lstm_sa", "reslstm_sa"))
    parser.add_argument("--hop_length", type=int)
    parser.add_argument("--learning_rate", type=float)
    parser.add_argument("--weight_decay", type=float)
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--scheduler", choices=("onecycle", "cosine_restarts"))
    parser.add_argument("--normalization", choices=("global", "utterance"))
    parser.add_argument("--speed_perturbation", help="training speeds drawn with 1.0 per clip and epoch")
    parser.add_argument("--test_time_speeds", help="speeds averaged with 1.0 at test time (saved)")
    parser.add_argument("--class_weights", type=_flag, default=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    for key, value in RECIPES[args.recipe].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def _flag(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1")


def run_protocols(data: dict, args: argparse.Namespace) -> dict:
    """The figures of ``args.protocol``: cross-corpus UAR, speaker-independent CV and its calibration."""
    results: dict = {"recipe": {k: v for k, v in vars(args).items() if not isinstance(v, Path)}}
    if args.protocol in ("cross-corpus", "both"):
        results["cross_corpus"] = cross_corpus(data, args)
    if args.protocol in ("cv", "both") and args.folds:
        cv = cross_validate(data, args)
        results["cv"] = {"folds": cv["folds"], "summary": cv["summary"]}
        results["calibration"] = calibrate(data, cv)
        print(json.dumps({**cv["summary"], **results["calibration"]}, indent=2), flush=True)
    return results


def save_final(data: dict, results: dict, args: argparse.Namespace) -> None:
    """Train on every clip and save weights (with temperature, test-time speeds and arousal weights),
    feature extractor, ONNX export, cross-validation figures and card into ``args.output_dir``."""
    model, stats = train(data, np.arange(len(data["label"])), args)
    model.config.temperature = results.get("calibration", {}).get("temperature", 1.0)
    model.config.test_time_speeds = list(parse_speeds(args.test_time_speeds)) or None
    model.config.arousal_from_categories = {
        label: weight for label, weight in AROUSAL_FROM_CATEGORIES.items() if label in data["labels"]
    }
    global_stats = {"mean": stats[0], "std": stats[1]} if stats is not None else {}
    extractor = MfccChromaFeatureExtractor(
        normalization=args.normalization, hop_length=args.hop_length, **global_stats
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.output_dir)
    extractor.save_pretrained(args.output_dir)
    for code in args.output_dir.glob("*.py"):  # save_pretrained's code copies would go stale in the package:
        code.unlink()  # the installed hf_ser loads the model, and hf_ser.hub.publish writes the current code
    write_onnx(model, extractor, args.output_dir)
    (args.output_dir / "crossval.json").write_text(json.dumps(results, indent=2) + "\n")
    write_card(model, data, results, args, args.output_dir)


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = load_features(args.data_dir, args)
    print(f"{len(data['label'])} clips, labels {data['labels']}, speeds {sorted(data['features'])} "
          f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
    results = run_protocols(data, args)
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(results, indent=2) + "\n")
    if args.final:
        save_final(data, results, args)
        print(f"saved to {args.output_dir}")
    print(f"{time.perf_counter() - start:.0f} s in total")
    return results


if __name__ == "__main__":
    main()
