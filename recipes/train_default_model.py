"""Train hf_ser's built-in default model (``hf_ser/default_model``): ResLSTM-SA-h64 on EmoDB + URDU.

    python recipes/train_default_model.py --data_dir ../shared/data                  # CV + final model
    python recipes/train_default_model.py --data_dir ../shared/data --folds 0        # final model only

What it does (a few minutes on 2 CPU cores):

1. loads EmoDB and URDU with ``hf_ser.data.load_corpus`` (canonical labels; the union of both label
   sets, 7 classes) and turns every clip into MFCC + chroma frames once (``MfccChromaFeatureExtractor``);
   ``--normalization global`` standardises them with mean/std fitted on the training clips of each fold
   (keeps loudness and spectral-level cues), ``utterance`` per clip (level-independent);
2. cross-validates: ``--folds`` speaker-independent folds per corpus (``hf_ser.data.speaker_folds``),
   fold k of the run = fold k of EmoDB + fold k of URDU, so no test speaker is ever seen in training;
   a fixed number of epochs (no early stopping, so the test folds never influence training); reports
   UAR per corpus (mean ± std over folds) and pooled over all test predictions;
3. trains the final model on all clips with the same settings and saves it (safetensors), its feature
   extractor, its ONNX export (``model.onnx``, run by the torch-free ``hf_ser.runtime``) and a model card
   (``hf_ser.cards``) with the cross-validation results into ``--output_dir``.

Training uses a plain PyTorch loop over pre-computed features rather than ``recipes/finetune.py``: the
Trainer recipe re-extracts features every epoch and handles one corpus per run, which would make this
several times slower on the shared CPU; the model, its loss, the folds and the metrics are hf_ser's own.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from transformers import BatchFeature

from hf_ser import LSTMSAConfig, LSTMSAForAudioClassification, MfccChromaFeatureExtractor
from hf_ser.cards import SERCardData, save_model_card
from hf_ser.data import load_audio, load_corpus, speaker_folds
from hf_ser.metrics import uar

REPO = Path(__file__).resolve().parents[1]
CORPORA = ("emodb", "urdu")


def load_features(data_dir: Path, extractor: MfccChromaFeatureExtractor) -> dict:
    """Features, labels (in the joint label space), corpus and speaker of every clip, and per-corpus folds."""
    corpora = {name: load_corpus(name, data_dir / name) for name in CORPORA}
    labels = sorted({label for dataset in corpora.values() for label in dataset.features["label"].names})
    rows = {"features": [], "label": [], "corpus": [], "speaker": []}
    for name, dataset in corpora.items():
        names = dataset.features["label"].names
        for example in dataset:
            rows["features"].append(extractor.extract(load_audio(example["audio"]["path"])))
            rows["label"].append(labels.index(names[example["label"]]))
            rows["corpus"].append(name)
            rows["speaker"].append(f"{name}:{example['speaker']}")
    rows["label"] = np.asarray(rows["label"])
    rows["corpus"] = np.asarray(rows["corpus"])
    return {"labels": labels, "rows": rows, "corpora": corpora}


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
    frames = np.concatenate([data["rows"]["features"][i] for i in indices])
    return frames.mean(axis=0), np.maximum(frames.std(axis=0), 1e-5)


def batches(data: dict, indices: np.ndarray, extractor, batch_size: int, rng=None, stats=None):
    """Padded ``(inputs, labels)`` batches, normalised with ``stats`` when given; shuffled with ``rng``."""
    order = rng.permutation(indices) if rng is not None else indices
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        clips = [data["rows"]["features"][i] for i in chosen]
        if stats is not None:
            clips = [((clip - stats[0]) / stats[1]).astype(np.float32) for clip in clips]
        features = BatchFeature({"input_values": clips})
        inputs = extractor.pad(features, padding=True, return_attention_mask=True, return_tensors="pt")
        yield inputs, torch.as_tensor(data["rows"]["label"][chosen])


def train(data: dict, indices: np.ndarray, extractor, args: argparse.Namespace) -> tuple:
    """Train a fresh ResLSTM-SA on ``indices`` for ``args.epochs`` epochs, class-weighted by frequency.

    Returns ``(model, stats)``: ``stats`` are the global normalisation statistics (``None`` for utterance).
    """
    labels = data["labels"]
    counts = np.bincount(data["rows"]["label"][indices], minlength=len(labels)).astype(np.float64)
    weights = (counts.sum() / np.maximum(counts, 1) / len(labels)).round(4).tolist()
    torch.manual_seed(args.seed)
    config = LSTMSAConfig(
        hidden_size=args.hidden_size,
        residual=True,
        classifier_dropout=args.dropout,
        id2label=dict(enumerate(labels)),
        classification_loss="weighted_ce",
        class_weights=weights,
    )
    model = LSTMSAForAudioClassification(config)
    stats = fit_stats(data, indices) if args.normalization == "global" else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=1e-4)
    steps = args.epochs * int(np.ceil(len(indices) / args.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.learning_rate, total_steps=steps)
    rng = np.random.default_rng(args.seed)
    model.train()
    for _ in range(args.epochs):
        for inputs, targets in batches(data, indices, extractor, args.batch_size, rng, stats):
            loss = model(**inputs, labels=targets).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
    return model.eval(), stats


@torch.inference_mode()
def predict(model, data: dict, indices: np.ndarray, extractor, stats=None) -> np.ndarray:
    batched = batches(data, indices, extractor, 64, stats=stats)
    return np.concatenate([model(**inputs).logits.argmax(-1).numpy() for inputs, _ in batched])


def cross_validate(data: dict, extractor, args: argparse.Namespace) -> dict:
    """Per-fold and summary UAR (per corpus and pooled) of ``args.folds``-fold speaker-independent CV."""
    rows, fold_rows = data["rows"], []
    all_true, all_pred, all_corpus = [], [], []
    for k, (train_idx, test_idx) in enumerate(combined_folds(data, args.folds, args.seed)):
        start = time.perf_counter()
        model, stats = train(data, train_idx, extractor, args)
        predictions = predict(model, data, test_idx, extractor, stats)
        truth, corpus = rows["label"][test_idx], rows["corpus"][test_idx]
        row = {"fold": k, "uar": uar(predictions=predictions, references=truth)}
        for name in CORPORA:
            row[f"uar_{name}"] = uar(predictions[corpus == name], truth[corpus == name])
        fold_rows.append(row)
        all_true.append(truth), all_pred.append(predictions), all_corpus.append(corpus)
        print(f"fold {k}: " + ", ".join(f"{key} {value:.3f}" for key, value in row.items() if key != "fold")
              + f" ({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
    truth, predictions, corpus = map(np.concatenate, (all_true, all_pred, all_corpus))
    summary = {}
    for key in ["uar"] + [f"uar_{name}" for name in CORPORA]:
        values = np.asarray([row[key] for row in fold_rows])
        summary[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)), "n": len(values)}
    summary["pooled_uar"] = {
        name: uar(predictions[corpus == name], truth[corpus == name]) for name in CORPORA
    }
    return {"folds": fold_rows, "summary": summary}


def write_card(model, data: dict, cv: dict, args: argparse.Namespace, output_dir: Path) -> None:
    rows = data["rows"]
    protocol = (
        f"{args.folds}-fold speaker-independent cross-validation on each corpus (fold k = EmoDB fold k + "
        f"URDU fold k), {args.epochs} epochs per fold, no early stopping"
    )
    card = SERCardData(
        model_name="hf_ser default model (ResLSTM-SA-h64, EmoDB + URDU)",
        language=["de", "ur"],
        datasets=list(CORPORA),
        labels=data["labels"],
        architecture={
            "model": "ResLSTM-SA (Krasnoproshin & Vashkevich)",
            "features": f"34 MFCC + 12 chroma per 16 ms frame, {args.normalization} normalisation",
            "hidden_size": args.hidden_size,
        },
        num_parameters=sum(p.numel() for p in model.parameters()),
        hyperparameters={
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "learning_rate": args.learning_rate,
            "optimizer": "AdamW (weight decay 1e-4), one-cycle schedule",
            "loss": "class-weighted cross-entropy (inverse label frequency)",
            "dropout": args.dropout,
            "seed": args.seed,
            "training command": "python recipes/train_default_model.py --data_dir ../shared/data",
        },
        protocol=protocol if cv else None,
        split_sizes={"train (final model)": len(rows["label"])},
        label_counts={
            name: {
                label: int(((rows["corpus"] == name) & (rows["label"] == i)).sum())
                for i, label in enumerate(data["labels"])
            }
            for name in CORPORA
        },
        num_speakers={
            name: len({s for s in rows["speaker"] if s.startswith(f"{name}:")}) for name in CORPORA
        },
        fold_results=cv.get("folds", []),
        intended_use=(
            "The default model of `hf_ser.pipeline()` and `hf-ser predict`: a small, fast, offline "
            "demonstration model that works out of the box. For real use, fine-tune an SSL model."
        ),
        limitations=[
            "Trained on 935 clips of two small corpora: EmoDB (German, 10 actors, acted, studio quality) "
            "and URDU (Urdu, spontaneous talk-show speech, 4 emotions). It knows nothing about other "
            "languages, speakers, microphones or noise; cross-validated scores on these corpora overstate "
            "its accuracy anywhere else.",
            "Boredom, disgust and fear occur only in the German acted data; in practice they mean 'sounds "
            "like an EmoDB actor portraying that emotion'.",
            "MFCC + chroma features with a 47k-parameter LSTM are far weaker than self-supervised speech "
            "models fine-tuned on large corpora.",
            *SERCardData().limitations,
        ],
    )
    for key, value in cv.get("summary", {}).items():
        if key.startswith("uar"):
            dataset = "+".join(CORPORA) if key == "uar" else key.removeprefix("uar_")
            card.add_result("uar", value["mean"], dataset=dataset, split=protocol, std=value["std"],
                            num_runs=value["n"])  # fmt: skip
    save_model_card(card, output_dir)


def write_onnx(model, extractor, output_dir: Path) -> None:
    """Export ``model.onnx`` next to the weights (only the ONNX file: config and extractor are there)."""
    import shutil
    import tempfile

    from hf_ser.export import to_onnx

    with tempfile.TemporaryDirectory() as directory:
        shutil.copy(to_onnx(model.eval(), directory, feature_extractor=extractor), output_dir / "model.onnx")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--output_dir", type=Path, default=REPO / "hf_ser" / "default_model")
    parser.add_argument("--folds", type=int, default=5, help="speaker folds per corpus (0 = skip CV)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=3e-3)
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--normalization", choices=("global", "utterance"), default="global")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    extractor = MfccChromaFeatureExtractor(
        normalization="none" if args.normalization == "global" else "utterance"
    )
    start = time.perf_counter()
    data = load_features(args.data_dir, extractor)
    elapsed = time.perf_counter() - start
    print(f"{len(data['rows']['label'])} clips, labels {data['labels']} ({elapsed:.0f} s)")
    cv = cross_validate(data, extractor, args) if args.folds else {}
    if cv:
        print(json.dumps(cv["summary"], indent=2))
    model, stats = train(data, np.arange(len(data["rows"]["label"])), extractor, args)
    if stats is not None:  # the saved extractor applies the training-set statistics itself
        extractor = MfccChromaFeatureExtractor(normalization="global", mean=stats[0], std=stats[1])
    args.output_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.output_dir)
    extractor.save_pretrained(args.output_dir)
    for code in args.output_dir.glob("*.py"):  # save_pretrained's code copies would go stale in the package:
        code.unlink()  # the installed hf_ser loads the model, and hf_ser.hub.publish writes the current code
    write_onnx(model, extractor, args.output_dir)
    if cv:
        (args.output_dir / "crossval.json").write_text(json.dumps(cv, indent=2) + "\n")
    write_card(model, data, cv, args, args.output_dir)
    print(f"saved to {args.output_dir} ({time.perf_counter() - start:.0f} s in total)")


if __name__ == "__main__":
    main()
