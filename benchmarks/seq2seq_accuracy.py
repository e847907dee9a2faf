"""Accuracy of the seq2seq mechanisms on real speech: EmoDB, log-mel frames, speaker-independent folds.

The shape of paper 000's table (accuracy next to latency), on what is available offline: every
mechanism of ``SEQ2SEQ_MECHANISMS`` is trained under the same budget on the same log-mel features and
folds, and reported as UAR mean ± std over the folds, next to the scaling benchmark's block latency
(read from ``benchmarks/results/seq2seq_scaling.json`` when it exists).

Model (identical except for the token mixer): 64 log-mel bands at 50 Hz (25 ms window, 20 ms hop,
16 kHz) -> Conv1d(64 -> 64, kernel 3) + GELU (local context; no positional encoding otherwise) ->
``Seq2SeqEncoder(mechanism, 64, 4 heads, 2 layers, dropout 0.1)`` -> soft attention pooling ->
linear classifier over the 7 EmoDB emotions. Training: AdamW (lr 1e-3, weight decay 1e-2), cosine
schedule, class-weighted cross-entropy, batch 32, ``--epochs`` epochs (20, as paper 000), seeds
0 .. ``--seeds`` - 1, no early stopping (the score is the last epoch's, on the held-out speakers).
Features are standardised per mel band with training-fold statistics. EmoDB's clips are all 2.0 s
(100 frames), so there is no padding.

Usage::

    python benchmarks/seq2seq_accuracy.py                 # 5 speaker folds, all mechanisms
    python benchmarks/seq2seq_accuracy.py --epochs 2 --folds 2 --mechanisms none gla   # smoke test
    python benchmarks/seq2seq_accuracy.py --folds 10 --seeds 3 --mechanisms forgetting \\
        --output benchmarks/results/small_models_fox_loso.json   # EmoDB leave-one-speaker-out (BENCHMARKS §3)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing hf_ser
    sys.path.insert(0, str(ROOT))

from hf_ser.data import load_audio, load_corpus, speaker_folds  # noqa: E402
from hf_ser.metrics import uar  # noqa: E402
from hf_ser.models.pooling import build_pooling  # noqa: E402
from hf_ser.models.seq2seq import SEQ2SEQ_MECHANISMS, Seq2SeqEncoder  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DATA_DIR = Path(os.environ.get("HF_SER_DATA_DIR", ROOT.parent / "shared" / "data"))
N_MELS, HIDDEN, HEADS, LAYERS = 64, 64, 4, 2


def log_mel_features(dataset) -> list[np.ndarray]:
    """``(frames, N_MELS)`` float32 log-mel spectrogram per clip, 50 frames per second."""
    import librosa
    from tqdm import tqdm

    features = []
    for row in tqdm(dataset, desc="log-mel"):
        audio = load_audio(row["audio"]["path"], sampling_rate=16000)
        mel = librosa.feature.melspectrogram(
            y=audio, sr=16000, n_fft=400, win_length=400, hop_length=320, n_mels=N_MELS
        )
        features.append(np.log(mel + 1e-6).T.astype(np.float32))
    return features


class MelEmotionClassifier(nn.Module):
    """Log-mel frames -> local conv -> seq2seq encoder -> soft attention pooling -> classifier."""

    def __init__(self, mechanism: str, num_labels: int) -> None:
        super().__init__()
        self.front = nn.Sequential(nn.Conv1d(N_MELS, HIDDEN, kernel_size=3, padding=1), nn.GELU())
        self.encoder = Seq2SeqEncoder(mechanism, HIDDEN, HEADS, LAYERS, dropout=0.1)
        self.pooling = build_pooling("soft_attention", HIDDEN, attention_size=64)
        self.classifier = nn.Linear(self.pooling.output_size, num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.front(features.transpose(1, 2)).transpose(1, 2)
        return self.classifier(self.pooling(self.encoder(hidden)).pooled)


def train_and_score(mechanism, features, labels, train_idx, test_idx, num_labels, epochs, seed=0) -> float:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    train_x, test_x = features[train_idx], features[test_idx]
    mean, std = train_x.mean(dim=(0, 1)), train_x.std(dim=(0, 1)) + 1e-5
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    train_y = labels[train_idx]
    counts = torch.bincount(train_y, minlength=num_labels).float()
    loss_fn = nn.CrossEntropyLoss(weight=counts.sum() / (num_labels * counts.clamp(min=1)))
    model = MelEmotionClassifier(mechanism, num_labels)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    steps_per_epoch = (len(train_idx) + 31) // 32
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train_idx), generator=generator)
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            loss = loss_fn(model(train_x[batch]), train_y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    model.eval()
    with torch.no_grad():
        predictions = model(test_x).argmax(dim=-1)
    return uar(predictions=predictions.tolist(), references=labels[test_idx].tolist())


def block_latencies() -> dict:
    """Block latency (s) at the shortest and longest length per mechanism, from the scaling benchmark."""
    path = RESULTS / "seq2seq_scaling.json"
    if not path.exists():
        return {}
    records = [r for r in json.loads(path.read_text())["records"] if r["level"] == "block"]
    if not records:
        return {}
    shortest, longest = min(r["seconds"] for r in records), max(r["seconds"] for r in records)
    latencies = {}
    for record in records:
        if record["seconds"] in (shortest, longest):
            latencies.setdefault(record["mechanism"], {})[f"{record['seconds']:g} s"] = record["latency_s"]
    return latencies


def write_report(output: Path, folds: int, epochs: int) -> str:
    """Assemble the JSON + Markdown report from the per-mechanism result files next to ``output``."""
    parts = {path.stem: json.loads(path.read_text()) for path in sorted(_parts_dir(output).glob("*.json"))}
    results = {m: parts[m]["uar_per_fold"] for m in SEQ2SEQ_MECHANISMS if m in parts}
    latencies = block_latencies()
    columns = sorted({key for values in latencies.values() for key in values}, key=lambda k: float(k[:-2]))
    header = "| mechanism | UAR mean ± std |" + "".join(f" block latency {c} (s) |" for c in columns)
    lines = [
        f"EmoDB, {folds} speaker-independent folds, log-mel, {epochs} epochs, "
        f"{HIDDEN}-d {LAYERS}-layer encoder",
        "",
        header,
        "|---" * (2 + len(columns)) + "|",
    ]
    for mechanism, scores in results.items():
        cells = "".join(f" {latencies.get(mechanism, {}).get(c, float('nan')):.3f} |" for c in columns)
        per_seed = parts[mechanism].get("uar_per_fold_per_seed", [scores])
        if len(per_seed) > 1:  # mean over folds per seed, then mean ± std over seeds
            means = [statistics.mean(seed_scores) for seed_scores in per_seed]
            summary = f"{statistics.mean(means):.4f} ± {statistics.stdev(means):.4f} ({len(means)} seeds)"
        else:  # one seed: mean ± std over folds
            summary = f"{statistics.mean(scores):.4f} ± {statistics.stdev(scores):.4f}"
        lines.append(f"| {mechanism} | {summary} |" + cells)
    protocol = {
        "corpus": "emodb",
        "folds": folds,
        "epochs": epochs,
        "features": f"log-mel {N_MELS} bands, 50 Hz",
        "encoder": {"hidden_size": HIDDEN, "num_heads": HEADS, "num_layers": LAYERS},
        "train_seconds": {m: parts[m]["train_seconds"] for m in results},
    }
    per_seed = {m: parts[m].get("uar_per_fold_per_seed", [parts[m]["uar_per_fold"]]) for m in results}
    report = {
        "protocol": protocol,
        "uar_per_fold": results,
        "uar_per_fold_per_seed": per_seed,
        "block_latency_s": latencies,
    }
    output.write_text(json.dumps(report, indent=2))
    table = "\n".join(lines)
    output.with_suffix(".md").write_text(table + "\n")
    return table


def _parts_dir(output: Path) -> Path:
    return output.with_suffix(".parts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mechanisms", nargs="+", default=list(SEQ2SEQ_MECHANISMS), choices=SEQ2SEQ_MECHANISMS
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--seeds", type=int, default=1, help="seeds 0..N-1 per fold (table: mean ± std over seeds)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS / "seq2seq_accuracy.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    dataset = load_corpus("emodb", DATA_DIR / "emodb")
    features = torch.from_numpy(np.stack(log_mel_features(dataset)))
    labels = torch.tensor(dataset["label"])
    num_labels = dataset.features["label"].num_classes
    folds = speaker_folds(dataset, n_folds=args.folds)

    # one result file per mechanism, so mechanisms can be trained by several processes in parallel
    _parts_dir(args.output).mkdir(parents=True, exist_ok=True)
    for mechanism in args.mechanisms:
        started = time.time()
        per_seed = []
        for seed in range(args.seeds):
            scores = [
                train_and_score(
                    mechanism, features, labels, train_idx, test_idx, num_labels, args.epochs, seed=seed
                )
                for train_idx, test_idx in folds
            ]
            per_seed.append(scores)
            print(
                f"{mechanism:10s} seed {seed} UAR "
                f"{statistics.mean(scores):.4f} ± {statistics.stdev(scores):.4f}"
            )
        part = {
            "uar_per_fold": per_seed[0],
            "uar_per_fold_per_seed": per_seed,
            "train_seconds": time.time() - started,
        }
        (_parts_dir(args.output) / f"{mechanism}.json").write_text(json.dumps(part, indent=2))
    print(write_report(args.output, args.folds, args.epochs))


if __name__ == "__main__":
    main()
