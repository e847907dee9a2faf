"""Cross-validated accuracy of LSTM-SA / ResLSTM-SA on EmoDB and URDU, an RBF-SVM baseline, and ablations.

The commands behind ``benchmarks/results/small_models.md`` (settings chosen with ``--part tune``, below)::

    B="python benchmarks/small_models_crossval.py"
    # v1 rows (first recipe: validation hold-out, best epoch, lr 3e-3)
    S="--normalization global --class_weights true --dropout 0.5 --learning_rate 3e-3 --hop_length 512"
    S="$S --epochs 30"
    $B --part svm
    $B --part svm --normalization speaker   # SVM on speaker-normalised features (separate protocol rows)
    $B --part main --models lstm_sa_h64 reslstm_sa_h64 --seeds 3 $S
    $B --part ablations --seeds 1 --workers 2 $S
    M="lstm_sa_h32 reslstm_sa_h32 lstm_sa_h128 reslstm_sa_h128"
    $B --part main --models $M --seeds 1 --workers 4 $S
    # v2 rows (the shipped recipe, recipes/configs/*lstm_sa_h*.yaml): all non-test speakers, final weights
    S2="--normalization global --class_weights true --dropout 0.5 --hop_length 512 --learning_rate 1e-2"
    S2="$S2 --epochs 30 --validation false --checkpoint last"
    $B --part main --label v2 --models lstm_sa_h64 reslstm_sa_h64 --seeds 5 --workers 1 $S2
    $B --part main --label v2 --corpora emodb --models lstm_sa_h64 reslstm_sa_h64 --seeds 10 --workers 1 $S2
    $B --part main --label v2-speaker-norm --models lstm_sa_h64 reslstm_sa_h64 --seeds 5 --workers 1 \
        $S2 --normalization speaker
    # v3 rows: v2 + speed perturbation of the training clips
    S3="$S2 --speed_perturbation true --speed_factors 0.85,0.9,0.95,1.05,1.1,1.15"
    $B --part main --label v3 --models lstm_sa_h64 reslstm_sa_h64 --seeds 10 --workers 2 $S3
    $B --part main --label v3 --corpora emodb --models lstm_sa_h128 reslstm_sa_h128 --seeds 3 --workers 2 $S3
    # v3-tta rows (the shipped recipe): v3 + test-time averaging over speeds 0.9 / 1 / 1.1
    S4="$S3 --test_time_speeds 0.9,1.1"
    $B --part main --label v3-tta --models lstm_sa_h64 reslstm_sa_h64 --seeds 10 --workers 2 $S4
    $B --part ablations --label v3-tta --seeds 3 --workers 2 $S4 --variants plain no_test_time_speeds \
        no_speed_perturbation spec_augment label_smoothing mixup   # CopyPaste: v1 ablations only
    $B --part main --label v3-tta --corpora urdu --models lstm_sa_h128 --seeds 10 --workers 2 $S4
    $B --part main --label v3-tta --corpora emodb --models lstm_sa_h128 reslstm_sa_h128 --seeds 3 \
        --workers 2 $S4
    $B --part report
    # validation-scored search behind v3 / v3-tta (EmoDB, ResLSTM-SA-h64, 2 seeds x 10 validation folds):
    $B --part tune --corpora emodb --tune_seeds 2 --workers 2 $S2 --validation true --grid '{}' \
        '{"speed_perturbation": true}' \
        '{"speed_perturbation": true, "speed_factors": "0.85,0.9,0.95,1.05,1.1,1.15"}' \
        '{"spec_augment": true}' '{"input_noise": 0.1}' ...   # every point is in the md table
    $B --part tune --corpora emodb --tune_seeds 2 --workers 2 $S3 --validation true --grid '{}' \
        '{"test_time_speeds": "0.9,1.1"}' '{"speaker_adversarial": 0.1}' ...
    # validation-scored search behind v2 (EmoDB, ResLSTM-SA-h64, 2 seeds x 10 validation folds):
    $B --part tune --corpora emodb --tune_seeds 2 --workers 1 $S --grid '{"checkpoint": "best"}' \
        '{"checkpoint": "last"}' '{"checkpoint": "last", "learning_rate": 0.01}' ...   # see the md table

Protocol (identical to ``recipes/crossval.py`` / :func:`hf_ser.training.run_crossval`): folds from
:func:`~hf_ser.training.preparation.compute_folds` (EmoDB: leave-one-speaker-out, 10 folds; URDU: 5
speaker-disjoint folds of :func:`hf_ser.data.speaker_folds`); each run is split by
:func:`~hf_ser.training.preparation.split_data`.
With ``validation: true`` (the recipe's ``use_validation: true``): test fold ``k``, validation = the next
fold's speakers, training = the remaining speakers; ``checkpoint: best`` keeps the epoch with the best
validation UAR (the recipe's ``load_best_model_at_end``), ``checkpoint: last`` the final weights. With
``validation: false`` (``use_validation: false``, the shipped LSTM-SA configs): every non-test speaker
trains and the final weights are kept, as the recipe does without a validation set. Per seed, test UAR is
averaged over the folds; tables give mean ± std and max over seeds
(:func:`hf_ser.training.crossval.summarize`, the recipe's own summary). Hyper-parameters were chosen on the
*validation* folds only (``--part tune``); ``normalization: speaker`` (per-speaker standardisation, see
:func:`speaker_normalized`) is a separate, transductive protocol reported in its own rows.

Why not ``recipes/crossval.py`` itself: same protocol, but it decodes every clip and recomputes MFCC+chroma
every epoch and evaluates through ``Trainer``; measured on this machine (2 shared cores) one epoch of
ResLSTM-SA-h64 on one EmoDB fold took ~220 s there against ~3 s here, i.e. 10 folds x 5 seeds x 30 epochs
would take ~90 h instead of ~1 h. This script decodes the corpus once with
:func:`hf_ser.data.with_decoded_audio`, computes features once with the project's
``MfccChromaFeatureExtractor`` (cached in ``--work_dir``), and trains
:class:`hf_ser.LSTMSAForAudioClassification`
with the recipe's optimisation (AdamW, decay on weights only, cosine annealing with warm restarts from
transformers' scheduler, warm-up ratio, gradient clipping 1.0, optional inverse-frequency class weights as
``class_weights: true``). Metrics come from :mod:`hf_ser.metrics`;
augmentations from :mod:`hf_ser.data.augment`
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
from typing import Any, Optional, Sequence  # noqa: E402

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
ABLATIONS = {  # variant -> training options changed on top of the plain recipe (the --label's settings)
    "plain": {},
    "spec_augment": {"spec_augment": True},
    "copy_paste": {"copy_paste": True},
    "speed_perturbation": {"speed_perturbation": True},
    "label_smoothing": {"label_smoothing": 0.1},
    "mixup": {"mixup": 0.4},
    "input_noise": {"input_noise": 0.1},
    "no_speed_perturbation": {"speed_perturbation": False},  # for recipes that already use it (v3)
    "no_test_time_speeds": {"test_time_speeds": ""},  # for recipes that average over speeds (v3-tta)
}
CHECKPOINTS = ("best", "last")
# "speaker": each speaker's frames standardised with that speaker's own mean/std over all of their clips
# (unsupervised and transductive: the test speaker's statistics come from their unlabelled test clips).
NORMALIZATIONS = ("utterance", "global", "none", "speaker")
SPEED_FACTORS = "0.9,1.1"  # Settings.speed_factors default; with 1.0: SpeedPerturbation's (0.9, 1.0, 1.1)
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
    # protocol: `validation` mirrors the recipe's `use_validation`. True: the next fold's speakers are
    # held out (training sees EmoDB 8 / URDU 3 folds). False: training sees every non-test speaker
    # (EmoDB 9 / URDU 4 folds, like the SVM); as the recipe without a validation set, the run keeps the
    # final weights.
    validation: bool = True
    # "best": weights of the epoch with the best validation UAR (the recipe's load_best_model_at_end);
    # "last": the final weights (then `validation_uar` is an unselected, honest score of the final model).
    checkpoint: str = "best"
    average_last_epochs: int = 0  # > 1: final weights = mean of the weights after each of the last N epochs
    mixup: float = 0.0  # Beta(alpha, alpha) mixup of padded batches (union of the masks); 0 = off
    # max_train_seconds: a random window of the training clips' frames (1 + samples // hop frames), a new one
    # every time a clip is drawn, as the recipe's RandomCrop of the audio; 0 = whole clips.
    max_train_seconds: float = 0.0
    # input_noise: std of Gaussian noise added to the normalised training features (real frames only),
    # drawn anew for every batch; 0 = off.
    input_noise: float = 0.0
    # speed_factors: comma-separated speeds drawn (with 1.0, uniformly) for every training clip and epoch
    # when speed_perturbation is on; features of every factor are precomputed once per corpus.
    speed_factors: str = SPEED_FACTORS
    # test_time_speeds: comma-separated speeds whose predictions are averaged with the clip's own (1.0) for
    # validation and test clips (test-time augmentation); "" = off.
    test_time_speeds: str = ""
    # speaker_adversarial: weight of a speaker classifier on the pooled vector behind a gradient-reversal
    # layer (domain-adversarial training, so the pooled vector carries less speaker identity); 0 = off.
    speaker_adversarial: float = 0.0

    def __post_init__(self) -> None:
        if self.checkpoint not in CHECKPOINTS:
            raise ValueError(f"checkpoint={self.checkpoint!r}; choose one of {CHECKPOINTS}.")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization={self.normalization!r}; choose one of {NORMALIZATIONS}.")
        if self.checkpoint == "best" and not self.validation:
            raise ValueError("checkpoint='best' needs validation=True (no validation set to select on).")
        if self.average_last_epochs > 1 and self.checkpoint != "last":
            raise ValueError("average_last_epochs > 1 averages the final epochs: it needs checkpoint='last'.")


DEFAULTS = {  # values of the Settings fields added later, for runs logged before them (resuming, reports)
    "validation": True,
    "checkpoint": "best",
    "average_last_epochs": 0,
    "mixup": 0.0,
    "max_train_seconds": 0.0,
    "input_noise": 0.0,
    "speed_factors": SPEED_FACTORS,
    "test_time_speeds": "",
    "speaker_adversarial": 0.0,
}


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


def recipe_config(corpus: str, fold: int = 0, validation: bool = True):
    """The recipe configuration whose protocol the runs follow (``recipes/crossval.py`` flags)."""
    from hf_ser.training import TrainConfig

    return TrainConfig(
        model_type="lstm_sa",
        corpus=corpus,
        data_dir=str(DATA_DIR / corpus),
        folds=CORPORA[corpus],
        fold=fold,
        use_validation=validation,
    )


def _path(value: Any) -> str:
    return value["path"] if isinstance(value, dict) else str(value)


def raw_extractor(hop_length: int = 256):
    from hf_ser.models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor

    return MfccChromaFeatureExtractor(normalization="none", hop_length=hop_length)


def parse_speed_factors(text: str) -> tuple[float, ...]:
    """``"0.9,1.1"`` -> ``(0.9, 1.1)``."""
    return tuple(float(value) for value in text.split(",") if value.strip())


def needed_speeds(settings: Settings) -> set[float]:
    """Speeds whose features a run reads: its speed perturbation's and its test-time speeds."""
    speeds = set(parse_speed_factors(settings.test_time_speeds))
    if settings.speed_perturbation:
        speeds |= set(parse_speed_factors(settings.speed_factors))
    return speeds


def load_corpus_data(
    corpus: str, work_dir: Path, speed: Sequence[float] = (), hop_length: int = 256
) -> CorpusData:
    """Load the corpus and its folds; compute (or read the cached) raw features of every clip.

    ``speed``: speed-perturbation factors whose features are computed (or read) too, in ``data.speed``.
    """
    from tqdm.auto import tqdm

    from hf_ser.data import with_decoded_audio
    from hf_ser.data.augment import SpeedPerturbation
    from hf_ser.training.preparation import compute_folds, load_dataset_for

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
    wanted = {1.0: "raw"} | {factor: f"speed{factor}" for factor in speed if factor != 1.0}
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


def fold_rows(data: CorpusData, fold: int, validation: bool = True) -> dict[str, np.ndarray]:
    """Row indices of the recipe's train / validation / test splits of ``fold`` (via ``split_data``).

    Without ``validation`` (the recipe's ``use_validation: false``) there is no ``"validation"`` entry and
    ``"train"`` holds every non-test speaker.
    """
    from hf_ser.training.preparation import split_data

    split = split_data(recipe_config(data.name, fold, validation), data.dataset, data.folds)
    parts = {"train": split.train, "test": split.tests["test"]}
    if split.validation is not None:
        parts["validation"] = split.validation
    return {
        name: np.asarray([data.path_index[_path(v)] for v in part.with_format(None)["audio"]])
        for name, part in parts.items()
    }


def copy_paste_features(
    data: CorpusData, fold: int, train_rows: np.ndarray, work_dir: Path, seed: int = 0
) -> list:
    """``COPY_PASTE_VARIANTS`` CopyPaste versions (raw features) of every training clip of ``fold``.

    Uses :class:`hf_ser.data.augment.CopyPaste` (mode ``"both"``: a neutral or same-emotion partner from the
    *training* speakers of the fold, pasted before or after) on the waveform, then the project's extractor.
    Cached in ``work_dir`` (recomputed when the fold's training rows differ, e.g. with and without a
    validation hold-out); returns ``variants[k][position in train_rows]``.
    """
    from hf_ser.data import decode_example_audio
    from hf_ser.data.augment import CopyPaste

    hop = "" if data.hop_length == 256 else f"_hop{data.hop_length}"
    cache = work_dir / "features" / f"{data.name}_copy_paste{hop}_fold{fold:02d}.npz"
    stored = np.load(cache) if cache.is_file() else None
    if stored is not None and np.array_equal(stored.get("rows", np.zeros(0, dtype=int)), train_rows):
        return [
            np.split(stored[f"v{k}_values"], np.cumsum(stored[f"v{k}_lengths"])[:-1])
            for k in range(COPY_PASTE_VARIANTS)
        ]
    pool = data.dataset.select(train_rows)
    augment = CopyPaste(pool, mode="both", probability=1.0, chunk_seconds=2.0)
    extractor = raw_extractor(data.hop_length)
    rng = np.random.default_rng([seed, fold])
    audio = data.dataset.with_format(None)["audio"]
    variants, stored = [], {"rows": np.asarray(train_rows)}  # the cache is only valid for these rows
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


def speaker_normalized(data: CorpusData) -> list:
    """Raw features with every speaker's frames standardised by that speaker's own mean and std.

    Speaker normalisation, a standard trick on EmoDB: it removes each speaker's voice and recording offsets.
    Unsupervised (no labels) but transductive: the test speaker's statistics come from all of their (test)
    clips, so it is a different protocol from the recipe's (which never looks at test audio before
    predicting). Used by ``normalization="speaker"`` runs and the SVM's ``--normalization speaker`` rows.
    """
    speakers = np.asarray(data.speakers)
    features = list(data.raw)
    for speaker in sorted(set(data.speakers)):
        rows = np.flatnonzero(speakers == speaker)
        frames = np.concatenate([data.raw[r] for r in rows]).astype(np.float64)
        mean, std = frames.mean(0), np.maximum(frames.std(0), 1e-5)
        for r in rows:
            features[r] = ((data.raw[r] - mean) / std).astype(np.float32)
    return features


def normalizer(settings: Settings, train_raw: list):
    """The project's extractor with the run's normalisation (global statistics from the training clips)."""
    from hf_ser.models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor

    if settings.normalization == "speaker":  # features are already standardised per speaker
        return MfccChromaFeatureExtractor(normalization="none", hop_length=settings.hop_length)
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


class _ReverseGradient(torch.autograd.Function):
    """Identity forward; gradient multiplied by ``-weight`` backward (Ganin & Lempitsky's GRL)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.weight * grad, None


def train_run(corpus: str, model_name: str, fold: int, seed: int, settings: Settings, work_dir: str) -> dict:
    """Train one model on one fold with one seed; return validation/test metrics and test probabilities."""
    import torch.nn.functional as F
    from transformers import set_seed
    from transformers.optimization import get_cosine_with_hard_restarts_schedule_with_warmup

    from hf_ser import LSTMSAConfig, LSTMSAForAudioClassification
    from hf_ser.data.augment import SpecAugment
    from hf_ser.metrics import classification_metrics, uar
    from hf_ser.training.preparation import class_weights_from

    torch.set_num_threads(1)
    started = time.perf_counter()
    data = _DATA[corpus]
    if data.hop_length != settings.hop_length:
        raise ValueError(
            f"features were computed with hop {data.hop_length}, settings ask {settings.hop_length}"
        )
    rows = fold_rows(data, fold, settings.validation)
    train_rows = rows["train"]
    raw = speaker_normalized(data) if settings.normalization == "speaker" else data.raw
    if settings.normalization == "speaker" and (settings.copy_paste or settings.speed_perturbation):
        raise ValueError("normalization='speaker' is not combined with copy_paste / speed_perturbation.")
    train_raw = [raw[r] for r in train_rows]
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
    parameters = list(model.named_parameters())
    if settings.speaker_adversarial > 0:  # created only when used: the other runs' random streams stay put
        train_speakers = [data.speakers[r] for r in train_rows]
        speaker_ids = torch.tensor([sorted(set(train_speakers)).index(s) for s in train_speakers])
        speaker_head = torch.nn.Linear(model.pooling.output_size, len(set(train_speakers)))
        parameters += list(speaker_head.named_parameters(prefix="speaker_head"))
    decay = [p for n, p in parameters if "bias" not in n]
    no_decay = [p for n, p in parameters if "bias" in n]
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
    validation_rows = rows.get("validation", np.zeros(0, dtype=int))
    test_time_speeds = parse_speed_factors(settings.test_time_speeds)
    if test_time_speeds and settings.normalization == "speaker":
        raise ValueError("normalization='speaker' is not combined with test_time_speeds.")

    def evaluate(rows_: np.ndarray) -> np.ndarray:
        """Probabilities of ``rows_``: the clips' own, averaged with their ``test_time_speeds`` versions."""
        probabilities = predict(model, extractor, [raw[r] for r in rows_])
        for factor in test_time_speeds:
            probabilities += predict(model, extractor, [data.speed[factor][r] for r in rows_])
        return probabilities / (1 + len(test_time_speeds))

    validation_labels = data.labels[validation_rows]
    test_features = [raw[r] for r in rows["test"]]
    test_labels = data.labels[rows["test"]]
    weight = torch.tensor(config.class_weights, dtype=torch.float32) if settings.class_weights else None

    crop_frames = 1 + int(settings.max_train_seconds * 16000) // settings.hop_length

    def training_features(position: int) -> np.ndarray:
        features = clip_features(position)
        if settings.max_train_seconds > 0 and len(features) > crop_frames:
            start = int(rng.integers(0, len(features) - crop_frames + 1))
            features = features[start : start + crop_frames]
        return features

    speeds = (1.0, *parse_speed_factors(settings.speed_factors))

    def clip_features(position: int) -> np.ndarray:
        row = train_rows[position]
        if copy_paste is not None and rng.random() < 0.5:
            return copy_paste[int(rng.integers(len(copy_paste)))][position]
        if settings.speed_perturbation:
            factor = speeds[int(rng.integers(len(speeds)))]
            return data.raw[row] if factor == 1.0 else data.speed[factor][row]
        return raw[row]

    def validation_score() -> Optional[float]:
        if not len(validation_rows):
            return None
        return uar(predictions=evaluate(validation_rows).argmax(-1), references=validation_labels)

    best_uar, best_state, best_epoch, history, test_history, loss_history = -1.0, None, -1, [], [], []
    averaged: Optional[dict] = None  # running sum of the last `average_last_epochs` epochs' weights
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
            if settings.input_noise > 0:
                noise = torch.from_numpy(rng.standard_normal(inputs["input_values"].shape, dtype=np.float32))
                real = inputs["attention_mask"].unsqueeze(-1).to(noise.dtype)
                inputs["input_values"] = inputs["input_values"] + settings.input_noise * noise * real
            batch_labels = labels[positions]
            if settings.mixup > 0:  # mix each clip with a batch partner; frames real in either are kept
                lam = float(rng.beta(settings.mixup, settings.mixup))
                partner = torch.as_tensor(rng.permutation(len(positions)))
                values, mask = inputs["input_values"], inputs["attention_mask"]
                logits = model(
                    input_values=lam * values + (1 - lam) * values[partner],
                    attention_mask=(mask.bool() | mask[partner].bool()).long(),
                ).logits
                loss = lam * F.cross_entropy(
                    logits, batch_labels, weight=weight, label_smoothing=settings.label_smoothing
                ) + (1 - lam) * F.cross_entropy(
                    logits, batch_labels[partner], weight=weight, label_smoothing=settings.label_smoothing
                )
            elif settings.label_smoothing > 0:
                logits = model(**inputs).logits
                loss = F.cross_entropy(
                    logits, batch_labels, weight=weight, label_smoothing=settings.label_smoothing
                )
            elif settings.speaker_adversarial > 0:
                outputs = model(**inputs, labels=batch_labels)
                reversed_pooled = _ReverseGradient.apply(outputs.pooled, settings.speaker_adversarial)
                loss = outputs.loss + F.cross_entropy(speaker_head(reversed_pooled), speaker_ids[positions])
            else:
                loss = model(**inputs, labels=batch_labels).loss
            loss.backward()
            epoch_loss += float(loss.detach()) * len(positions) / len(order)
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        loss_history.append(round(epoch_loss, 4))
        if args_trace_test:  # diagnostics only: never used for selection
            test_history.append(
                round(uar(predict(model, extractor, test_features).argmax(-1), test_labels), 4)
            )
        if settings.average_last_epochs > 1 and epoch >= settings.epochs - settings.average_last_epochs:
            state = {k: v.detach().clone().double() for k, v in model.state_dict().items()}
            averaged = state if averaged is None else {k: averaged[k] + state[k] for k in averaged}
        if settings.checkpoint == "last" and epoch < settings.epochs - 1:
            if settings.validation:  # per-epoch log only, nothing is selected on it
                history.append(round(validation_score(), 4))
            continue
        if settings.checkpoint == "last":  # final epoch: the kept model (or the mean of the last ones)
            if averaged is not None:
                dtypes = {k: v.dtype for k, v in model.state_dict().items()}
                count = settings.average_last_epochs
                model.load_state_dict({k: (v / count).to(dtypes[k]) for k, v in averaged.items()})
            best_uar, best_epoch = validation_score(), epoch
            if best_uar is not None:
                history.append(round(best_uar, 4))
            break
        validation_uar = validation_score()
        history.append(round(validation_uar, 4))
        if validation_uar > best_uar:  # strictly better, as Trainer's best-checkpoint tracking
            best_uar, best_epoch, best_state = validation_uar, epoch, copy.deepcopy(model.state_dict())
    if best_state is not None:
        model.load_state_dict(best_state)
    probabilities = evaluate(rows["test"])
    metrics = classification_metrics(predictions=probabilities.argmax(-1), references=test_labels)
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
def format_score(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4f}"


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
            if DEFAULTS | run["settings"] == asdict(settings):
                done[run_key(run)] = run
    data = _DATA[corpus]
    if settings.copy_paste:  # build the per-fold CopyPaste pools once, before forking
        for fold in range(len(data.folds)):
            copy_paste_features(
                data, fold, fold_rows(data, fold, settings.validation)["train"], Path(args.work_dir)
            )
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
            f"{run['test']['uar']:.4f} (val {format_score(run['validation_uar'])} "
            f"@ epoch {run['best_epoch']}) "
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
    scores = [r["validation_uar"] for r in runs if r["validation_uar"] is not None]
    summary["validation_uar_mean"] = float(np.mean(scores)) if scores else None
    summary["parameters"] = runs[0]["parameters"]
    summary["train_seconds_total"] = float(sum(r["seconds"] for r in runs))
    summary["train_seconds_per_run"] = summary["train_seconds_total"] / len(runs)
    if seeds > 1:  # seed ensembling: average the seeds' test probabilities per fold
        per_fold = []
        for fold in sorted({r["fold"] for r in runs}):
            fold_runs = [r for r in runs if r["fold"] == fold]
            probabilities = np.mean([np.asarray(r["test_probabilities"]) for r in fold_runs], axis=0)
            per_fold.append(uar(predictions=probabilities.argmax(-1), references=fold_runs[0]["test_labels"]))
        summary["ensemble"] = {
            "uar_mean_over_folds": float(np.mean(per_fold)),
            "uar_std_over_folds": float(np.std(per_fold, ddof=1)),
            "members": seeds,
            "per_fold": [float(v) for v in per_fold],
        }
    return summary


def result_key(model_name: str, label: str) -> str:
    """Key of a main-table row in ``small_models_crossval.json`` (``v1`` rows keep the bare model name)."""
    return model_name if label == "v1" else f"{model_name}@{label}"


def split_key(key: str) -> tuple[str, str]:
    model_name, _, label = key.partition("@")
    return model_name, label or "v1"


def main_part(args) -> None:
    settings = settings_from(args)
    for corpus in args.corpora:
        _DATA[corpus] = load_corpus_data(
            corpus,
            Path(args.work_dir),
            speed=sorted(needed_speeds(settings)),
            hop_length=settings.hop_length,
        )
        runs = run_experiment("main", corpus, args.models, args.seeds, settings, args)
        results = load_results("small_models_crossval.json")
        for model_name in args.models:
            model_runs = [r for r in runs if r["model"] == model_name]
            summary = summarize_runs(model_runs, len(_DATA[corpus].folds), args.seeds)
            summary["settings"] = asdict(settings)
            summary["label"] = args.label
            results.setdefault(corpus, {})[result_key(model_name, args.label)] = summary
            print(
                f"{corpus} {model_name}: UAR {summary['mean']:.4f} ± {summary['std']:.4f} "
                f"(max {summary['max']:.4f})"
            )
        save_results("small_models_crossval.json", results)


def ablation_file(label: str) -> str:
    """Results file of the ablations on top of recipe ``label`` (v1's keeps its original name)."""
    return "small_models_ablations.json" if label == "v1" else f"small_models_ablations_{label}.json"


def ablation_part(args) -> None:
    """Each variant of ``--variants`` changes one thing of the ``--label`` recipe's settings (the flags)."""
    variants = {variant: settings_from(args, **ABLATIONS[variant]) for variant in args.variants}
    speeds = sorted(set().union(*(needed_speeds(settings) for settings in variants.values())))
    for corpus in args.corpora:
        _DATA[corpus] = load_corpus_data(
            corpus, Path(args.work_dir), speed=speeds, hop_length=settings_from(args).hop_length
        )
        # "plain" last: its runs are the main table's (same settings), usually finished by then.
        for variant in sorted(variants, key=lambda v: v == "plain"):
            settings = variants[variant]
            # runs are matched by their settings, so variants equal to a main-table recipe reuse its runs
            name = "main" if variant in ("plain", "no_test_time_speeds") else f"ablation_{variant}"
            runs = run_experiment(name, corpus, [args.ablation_model], args.seeds, settings, args)
            summary = summarize_runs(runs, len(_DATA[corpus].folds), args.seeds)
            summary["settings"] = asdict(settings)
            results = load_results(ablation_file(args.label))  # re-read: one process per corpus may write
            results.setdefault(corpus, {})[variant] = summary
            save_results(ablation_file(args.label), results)
            print(
                f"{corpus} {variant}: UAR {summary['mean']:.4f} ± {summary['std']:.4f}"
                + (
                    f", {args.seeds}-seed ensemble {summary['ensemble']['uar_mean_over_folds']:.4f}"
                    if "ensemble" in summary
                    else ""
                )
            )


def tune_part(args) -> None:
    """Small grid on ResLSTM-SA-h64, scored on the VALIDATION folds only (test UAR only logged).

    With ``checkpoint: best`` the validation UAR is that of the best epoch, i.e. selected on the same
    speakers it is reported on (optimistic); with ``checkpoint: last`` it scores the final model, unselected.
    """
    for corpus in args.corpora:
        _DATA[corpus] = load_corpus_data(
            corpus,
            Path(args.work_dir),
            speed=sorted(set().union(*(needed_speeds(settings_from(args, **p)) for p in args.grid))),
            hop_length=settings_from(args).hop_length,
        )
        for point in args.grid:
            settings = settings_from(args, **point)
            if not settings.validation:
                raise ValueError(f"tune scores validation folds: grid point {point} sets validation=False.")
            runs = run_experiment("tune", corpus, [args.ablation_model], args.tune_seeds, settings, args)
            entry = {
                "settings": asdict(settings),
                "changed": point,
                "folds": len(runs) // args.tune_seeds,
                "seeds": args.tune_seeds,
                "validation_selected": settings.checkpoint == "best",
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
    """StandardScaler + RBF-SVC on mean+std of the 46 raw MFCC+chroma dims; C, gamma by inner group CV.

    ``--normalization speaker`` first standardises every speaker's frames with that speaker's own
    statistics (:func:`speaker_normalized`, the same transform as the neural ``speaker`` runs) and stores
    the rows as ``<name>_speaker_norm``; any other value uses the raw frames (the default rows).
    """
    from sklearn.model_selection import GridSearchCV, GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from hf_ser.metrics import classification_metrics, uar

    results = load_results("small_models_svm.json")
    grid = {"svc__C": [1.0, 3.0, 10.0, 30.0, 100.0], "svc__gamma": ["scale", 0.003, 0.01, 0.03]}
    speaker_norm = args.normalization == "speaker"
    for corpus in args.corpora:
        data = _DATA.get(corpus) or load_corpus_data(corpus, Path(args.work_dir))
        frames = speaker_normalized(data) if speaker_norm else data.raw
        features = np.stack([np.concatenate([f.mean(0), f.std(0)]) for f in frames])
        speakers = np.asarray(data.speakers)
        entry: dict[str, Any] = results.get(corpus, {})
        for name, tuned in (("svm_fixed_C10_scale", False), ("svm_tuned_inner_cv", True)):
            name += "_speaker_norm" if speaker_norm else ""
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
                per_fold.append(classification_metrics(predictions, data.labels[test_rows]))
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
        # Reference for the neural validation scores (--part tune): the fixed SVM trained on exactly the
        # neural runs' training speakers (validation held out) and scored on the validation speakers.
        validation = []
        for fold in range(len(data.folds)):
            rows = fold_rows(data, fold, validation=True)
            pipeline = make_pipeline(StandardScaler(), SVC(kernel="rbf", C=10.0, gamma="scale"))
            pipeline.fit(features[rows["train"]], data.labels[rows["train"]])
            validation.append(
                uar(pipeline.predict(features[rows["validation"]]), data.labels[rows["validation"]])
            )
        name = "svm_fixed_C10_scale" + ("_speaker_norm" if speaker_norm else "")
        entry[name]["validation_uar_mean"] = float(np.mean(validation))
        print(
            f"{corpus} {name} trained without the validation fold: validation UAR {np.mean(validation):.4f}"
        )
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
RECIPE_LABELS = {  # --label of the main part -> what the rows' protocol is (printed under each table)
    "v1": "first recipe: trains on the non-test speakers minus the next fold (validation), keeps the "
    "epoch with the best validation UAR (`validation: true, checkpoint: best`).",
    "v2": "trains on every non-test speaker for the fixed epoch budget and keeps the final weights, "
    "like the SVM and like the recipe with `use_validation: false` (`validation: false, checkpoint: last`).",
    "v3": "`v2` + speed perturbation of the training clips (one speed of 0.85 / 0.9 / 0.95 / 1 / 1.05 / "
    "1.1 / 1.15 drawn per clip and epoch; `speed_perturbation: true`), the shipped recipe: the only addition "
    "that raised validation UAR (table at the end).",
    "v3-tta": "`v3` + test-time speed averaging (`test_time_speeds`): each validation / test clip is also "
    "predicted at the speeds below and the probabilities are averaged, as `hf_ser.pipeline` does for a model "
    "trained with the shipped configs (the speeds were chosen on validation folds, table at the end).",
    "v2-speaker-norm": "`v2` on speaker-normalised features: every speaker's frames standardised with that "
    "speaker's own mean/std over all their clips (unlabelled, but the test speaker's statistics come from "
    "their test clips: a transductive protocol, not the recipe's; the SVM rows labelled `speaker-norm` use "
    "the same features).",
}

NOTES = """## How to read these numbers

- Neural rows: the recipe protocol, one `recipe` label per settings (described under each table). `v1` runs
  train on the speakers of the other folds minus the next fold (EmoDB: 8 speakers, URDU: 3 of 5 folds) and
  keep the epoch with the best validation UAR (next fold's speakers). `v2` runs (the shipped configs, with
  `use_validation: false`) train on every non-test speaker (EmoDB: 9, URDU: 4 of 5 folds, as the SVM) for
  30 epochs and keep the final weights; its learning rate 1e-2 was the best of the validation search at the
  end. Every run is scored on its test fold. Per seed, UAR is averaged over the folds; mean ± std and max
  are over seeds (over folds for one seed). All std are sample std (ddof=1), as the recipe's crossval summary
  reports them. `seed ensemble`: per fold, the mean of the seeds' test probabilities, then UAR.
- `v2-speaker-norm` / `speaker-norm` rows: a different, transductive protocol (per-speaker standardisation
  uses the unlabelled test clips of the test speaker); compare them only with each other. The neural
  settings are `v2`'s, not re-tuned. On URDU it is meaningless: 26 of its 29 speakers have clips of one
  emotion only, so a speaker's mean *is* their emotion and subtracting it leaves below-chance UAR.
- RBF-SVM rows: `StandardScaler` + `SVC(kernel="rbf")` on the mean and std over frames of the 46 raw
  MFCC+chroma dims (hop 256), trained on all non-test speakers; `tuned inner cv` picks C in {1,3,10,30,100}
  and gamma in {scale, 0.003, 0.01, 0.03} by `GroupKFold` over the training speakers only (balanced
  accuracy = UAR). Deterministic, so mean ± std are over folds. It sees one more fold of speakers than the
  neural models (no validation hold-out).
- Hyper-parameters of the neural models were chosen on EmoDB *validation* folds only (ResLSTM-SA-h64; table
  at the end) and used unchanged for URDU and for LSTM-SA. `v1`: 1 seed, first 6 folds, best-epoch
  validation UAR. `v2`: 2 seeds x all 10 folds, validation UAR of the final weights (nothing selected on the
  scored speakers); the RBF-SVM trained on the same 8 speakers gives the reference line. Switching to no
  hold-out + final weights was decided a priori (the best-epoch choice rests on one speaker's UAR; the SVM
  trains on all non-test speakers) and cannot be scored on validation folds. During v1's development a few
  pilot runs on EmoDB fold 0 also traced that fold's test UAR (diagnostics, not used for the choice).
  `v3` / `v3-tta`: same 2 seeds x 10 validation folds with final weights, on top of `v2`. Of speed
  perturbation, SpecAugment, CopyPaste, input noise, label smoothing, mixup, dropout 0.3, 60 epochs and a
  speaker-adversarial head, only speed perturbation raised validation UAR (0.566 -> 0.586 at 0.9 / 1.1,
  0.592 with 0.85-1.15, the set kept); then test-time averaging over speeds 0.9 / 1 / 1.1 raised it to
  0.619 (0.8-1.2: 0.619, a tie, so the cheaper set was kept; 0.85-1.15: 0.611).
- This EmoDB copy is cut or padded to 2.0 s per clip (63 frames at hop 512), so crops of 2.5 s change
  nothing and equal the uncropped row.
- Time: `time / run` is the wall time of one run in a worker (1 torch thread). `v1` rows: 3-4 workers shared
  2 cores with other jobs at load 10-18, so the sums overstate CPU time; `v2` rows: 1 worker on a nearly idle
  machine (~5-8 s per 30-epoch run). Wall time of the main h64 command
  (2 models x 3 seeds x both corpora, 90 runs, 3 workers): ~46 min under that load. The 1-seed h32 / h128
  rows ran later on a quieter machine (4 workers, ~3 and ~5 min wall), so their times are not comparable.
- `v3` / `v3-tta` runs: 2 workers on the 2 cores (~8-12 s per run for h64, ~20 s for h128); the sums of run
  times are CPU time of those workers. Test-time averaging costs 3 forward passes per test clip.
- `hop_length` 512 (32 ms) instead of the extractor's default 256: similar validation UAR, ~1.7x faster.
- Ablations use the project's augmentations: `SpecAugment` (defaults: 2 feature masks <= 8 of 46 dims, 2 time
  masks <= 20 frames) on the normalised features; `CopyPaste` (mode "both", partner from the fold's training
  speakers) with 2 precomputed versions per training clip and fold, used with probability 0.5 per epoch;
  `SpeedPerturbation` factors 0.9 / 1.0 / 1.1 in `v1` (0.85-1.15 in `v3`; precomputed, one drawn per clip
  and epoch); label smoothing 0.1 via `torch.nn.functional.cross_entropy` (the model's loss has no smoothing
  option), class weights kept; mixup Beta(0.4, 0.4) of padded batches. The `v3-tta` ablations change one
  thing of the shipped recipe each: `no_test_time_speeds` is `v3`, `no_speed_perturbation` is `v2` with
  test-time averaging (speed-perturbed test clips then come from a model that never saw other speeds).
"""


SVM_REFERENCE = "svm_tuned_inner_cv"  # the RBF-SVM row the neural rows are compared with, fold by fold


def paired_difference(ours: list, theirs: list) -> dict:
    """Mean fold-wise difference ``ours - theirs``, its 95% t interval over folds, and folds won."""
    from scipy import stats

    differences = np.asarray(ours, dtype=float) - np.asarray(theirs, dtype=float)
    half = stats.t.ppf(0.975, len(differences) - 1) * differences.std(ddof=1) / math.sqrt(len(differences))
    return {
        "mean": float(differences.mean()),
        "low": float(differences.mean() - half),
        "high": float(differences.mean() + half),
        "wins": int((differences > 0).sum()),
        "folds": len(differences),
    }


def svm_comparison_lines(main: dict, svm: dict) -> list[str]:
    """Markdown table: every neural row (and its seed ensemble) minus the RBF-SVM, paired over folds."""
    lines = [
        "## Neural rows against the RBF-SVM, fold by fold",
        "",
        f"Difference in UAR to the RBF-SVM (`{SVM_REFERENCE.removeprefix('svm_').replace('_', ' ')}`) on the "
        "same test folds: per fold, the neural UAR (mean over seeds, or the seed ensemble) minus the SVM's; "
        "mean over folds with a 95% t interval over folds, and the folds where the neural model is ahead. "
        "Rows whose interval lies above 0 beat the SVM beyond fold-to-fold noise. Same-protocol rows only "
        "(speaker-normalised rows against the speaker-normalised SVM).",
        "",
        "| corpus | recipe | model | seeds | Δ UAR (95% CI) | folds ahead | ensemble Δ UAR (95% CI) | "
        "folds ahead |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for corpus, entries in main.items():
        if corpus.startswith("_") or corpus not in svm:
            continue
        for key, summary in entries.items():
            model_name, label = split_key(key)
            reference = svm[corpus].get(SVM_REFERENCE + ("_speaker_norm" if "speaker-norm" in label else ""))
            if reference is None or summary["n_seeds"] < 2:
                continue
            folds = range(len(reference["per_fold"]))
            single = paired_difference(
                [summary["per_fold"][str(f)]["mean"] for f in folds], reference["per_fold"]
            )
            ensemble = paired_difference(summary["ensemble"]["per_fold"], reference["per_fold"])
            lines.append(
                f"| {corpus} | {label} | {display_name(model_name)} | {summary['n_seeds']} | "
                + " | ".join(
                    f"{d['mean']:+.4f} ({d['low']:+.4f}, {d['high']:+.4f}) | {d['wins']}/{d['folds']}"
                    for d in (single, ensemble)
                )
                + " |"
            )
    return lines + [""]


def report_part(args) -> None:
    """Write ``benchmarks/results/small_models.md`` from the JSON results."""
    main = load_results("small_models_crossval.json")
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
            "| recipe | model | params | seeds | UAR mean ± std | UAR max | seed ensemble | "
            "time / run | sum of run times |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        entries = main.get(corpus, {})
        labels = [label for label in RECIPE_LABELS if any(split_key(k)[1] == label for k in entries)]
        for label, model_name in ((label, m) for label in labels for m in MODELS):
            summary = entries.get(result_key(model_name, label))
            if summary is None:
                continue
            ensemble = summary.get("ensemble", {}).get("uar_mean_over_folds")
            lines.append(
                f"| {label} | {display_name(model_name)} | {summary['parameters'] / 1000:.1f} k | "
                f"{summary['n_seeds']} | {summary['mean']:.4f} ± {summary['std']:.4f} "
                f"(over {summary['over']}) | "
                f"{summary['max']:.4f}{' (best fold)' if summary['over'] == 'folds' else ''} | "
                f"{'' if ensemble is None else f'{ensemble:.4f}'} | "
                f"{summary['train_seconds_per_run']:.0f} s | "
                f"{summary['train_seconds_total'] / 60:.1f} min |"
            )
        for name, entry in svm.get(corpus, {}).items():
            label = "speaker-norm" if name.endswith("_speaker_norm") else "all non-test speakers"
            name = name.removeprefix("svm_").removesuffix("_speaker_norm").replace("_", " ")
            lines.append(
                f"| {label} | RBF-SVM ({name}) | - | - (deterministic) | "
                f"{entry['uar_mean_over_folds']:.4f} ± {entry['uar_std_over_folds']:.4f} (over folds) | "
                f"{entry['uar_max_fold']:.4f} (best fold) | | | {entry['seconds']:.0f} s |"
            )
        lines.append("")
        for label in labels:
            settings = next(e["settings"] for k, e in entries.items() if split_key(k)[1] == label)
            lines += [f"`{label}`: {RECIPE_LABELS[label]} Settings: `{json.dumps(DEFAULTS | settings)}`.", ""]
    lines += svm_comparison_lines(main, svm)
    for label in reversed(RECIPE_LABELS):  # newest recipe first
        ablations = load_results(ablation_file(label))
        if not any(corpus in ablations for corpus in CORPORA):
            continue
        lines += [
            f"## Beyond the paper: ablations on ResLSTM-SA-h64, recipe `{label}`",
            "",
            f"Each variant changes one thing of the `{label}` settings; same folds and seeds as its `plain` "
            "row (whose runs are the main table's). With one seed, mean ± std are over folds. "
            "`folds better` counts folds whose test UAR (mean over seeds) beats `plain` on the same fold "
            "(paired).",
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
            reference = main.get(corpus, {}).get(result_key("reslstm_sa_h64", label), {})
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
            "## Hyper-parameter selection (ResLSTM-SA-h64, scored on the validation folds)",
            "",
            "Each grid point changes the defaults below; the choice is made on validation UAR (the next "
            "fold's speakers; the runs train on the other speakers minus the test fold). Test UAR is logged "
            "only to show the gap, it was not used. `(best epoch)`: the validation UAR of the epoch selected "
            "on that same validation fold (optimistic); without the mark it scores the final weights "
            "(`checkpoint: last`, nothing selected on it), the honest figure to compare settings with.",
            "",
            "| corpus | change vs defaults | folds | seeds | validation UAR | test UAR (not used) |",
            "|---|---|---|---|---|---|",
        ]
        for corpus, entries in tuning.items():
            if corpus.startswith("_"):
                continue
            defaults = asdict(Settings())
            v1 = main.get(corpus, {}).get("reslstm_sa_h64", {}).get("settings")
            for e in entries:
                # the v2 search (entries with `seeds`) is shown as changes to the v1 settings, marked `v1 +`
                base = DEFAULTS | v1 if "seeds" in e and v1 else defaults
                changed = {k: v for k, v in (DEFAULTS | e["settings"]).items() if base.get(k) != v}
                changed_text = (
                    f"v1 + `{json.dumps(changed)}`" if base is not defaults else f"`{json.dumps(changed)}`"
                )
                selected = "" if e.get("validation_selected", True) is False else " (best epoch)"
                lines.append(
                    f"| {corpus} | {changed_text} | {e.get('folds', '')} | {e.get('seeds', 1)} | "
                    f"{e['validation_uar']:.4f}{selected} | {e['test_uar']:.4f} |"
                )
            for name, entry in svm.get(corpus, {}).items():
                if "validation_uar_mean" in entry:
                    lines.append(
                        f"| {corpus} | reference: RBF-SVM ({name.removeprefix('svm_').replace('_', ' ')}) "
                        f"on the same training speakers | {len(entry['per_fold'])} | - | "
                        f"{entry['validation_uar_mean']:.4f} | |"
                    )
        lines += [
            "",
            f"Defaults: `{json.dumps(asdict(Settings()))}`; `v1`: the settings of the `v1` rows.",
            "",
        ]
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
    parser.add_argument(
        "--label",
        default="v1",
        choices=list(RECIPE_LABELS),
        help="main: name of the settings the rows are stored under (several recipes side by side)",
    )
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
    parser.add_argument("--tune_seeds", type=int, default=1, help="tune: seeds per grid point")
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
