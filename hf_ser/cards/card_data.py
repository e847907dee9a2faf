"""What an hf_ser model card says, as data: :class:`SERCardData`.

The card is data + callback + template (the setfit design): this dataclass holds every fact the card
states (metadata, model, training data, protocol, hyper-parameters, evaluation rows, results per fold,
per sex and per speaker, limitations); :class:`~hf_ser.cards.callback.SERModelCardCallback` fills it
during training; :func:`~hf_ser.cards.render.render_model_card` turns it into a Hub model card. Nothing
here touches the network.

Example:

```python
>>> from hf_ser.cards import SERCardData
>>> card_data = SERCardData(model_id="me/ser-emodb", labels=["anger", "neutral"], language=["de"])
>>> card_data.add_result("uar", 0.71, dataset="emodb", split="test")
>>> card_data.add_fold_result({"uar": 0.70}, fold=0)
>>> card_data.add_fold_result({"uar": 0.74}, fold=1)
>>> card_data.fold_summary()["uar"]["mean"]
0.72
>>> SERCardData.from_dict(card_data.to_dict()) == card_data
True

```
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import re
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Optional, Union

TASKS = ("classification", "regression", "multitask")

METRICS: dict[str, dict[str, Any]] = {
    # hf_ser metric key -> Hub metric id, display name and compute arguments (model-index `metrics`).
    "uar": {"type": "recall", "name": "UAR (unweighted average recall)", "args": {"average": "macro"}},
    "wa": {"type": "accuracy", "name": "WA (weighted accuracy)"},
    "accuracy": {"type": "accuracy", "name": "Accuracy"},
    "macro_f1": {"type": "f1", "name": "Macro F1", "args": {"average": "macro"}},
    "weighted_f1": {"type": "f1", "name": "Weighted F1", "args": {"average": "weighted"}},
    "ccc": {"type": "ccc", "name": "CCC (mean over targets)"},
    "ccc_arousal": {"type": "ccc", "name": "CCC arousal", "config": "arousal"},
    "ccc_dominance": {"type": "ccc", "name": "CCC dominance", "config": "dominance"},
    "ccc_valence": {"type": "ccc", "name": "CCC valence", "config": "valence"},
}
"""Metrics the card knows how to name; other numeric metrics are shown in tables under their key."""

CORPORA: dict[str, dict[str, Any]] = {
    # Corpora hf_ser reads: pretty name, language, style and where they come from (for the card text).
    "emodb": {
        "name": "EmoDB (Berlin Database of Emotional Speech)",
        "language": "de",
        "style": "acted",
        "url": "http://emodb.bilderbar.info/",
    },
    "urdu": {
        "name": "URDU-Dataset",
        "language": "ur",
        "style": "spontaneous (talk shows)",
        "url": "https://github.com/siddiquelatif/URDU-Dataset",
    },
    "ravdess": {
        "name": "RAVDESS",
        "language": "en",
        "style": "acted",
        "url": "https://zenodo.org/record/1188976",
    },
    "crema_d": {
        "name": "CREMA-D",
        "language": "en",
        "style": "acted",
        "url": "https://github.com/CheyneyComputerScience/CREMA-D",
    },
    "tess": {"name": "TESS", "language": "en", "style": "acted", "url": "https://tspace.library.utoronto.ca"},
    "iemocap": {
        "name": "IEMOCAP",
        "language": "en",
        "style": "acted and improvised dialogues",
        "url": "https://sail.usc.edu/iemocap/",
    },
    "msp_podcast": {
        "name": "MSP-Podcast",
        "language": "en",
        "style": "natural (podcasts)",
        "url": "https://ecs.utdallas.edu/research/researchgroups/msp/MSP-Podcast.html",
    },
    "turev": {
        "name": "TurEV-DB",
        "language": "tr",
        "style": "acted",
        "url": "https://github.com/Xeonen/TurEV-DB",
    },
}

DEFAULT_LIMITATIONS = (
    "Emotion recognition from speech is uncertain: the model outputs scores for a fixed set of labels "
    "and cannot know how a speaker actually feels.",
    "Results hold for the corpora and protocol reported here; expect lower scores on other languages, "
    "recording conditions, microphones and speaking styles (acted speech is easier than natural speech).",
    "Per-group results can differ between sexes and, more strongly, between individual speakers; check "
    "them on your own population before relying on the model.",
    "Do not use the model to make decisions about people (hiring, policing, health, education) or to "
    "monitor them without their informed consent.",
)

DEFAULT_INTENDED_USE = (
    "Research and prototyping of speech emotion recognition: scoring short utterances (a few seconds, "
    "16 kHz mono; longer audio is processed in windows) for the emotion labels listed above."
)

VERSION_PACKAGES = ("transformers", "torch", "datasets", "huggingface_hub", "peft")


def _package_versions() -> dict[str, str]:
    """Versions of the packages a trained model depends on (recorded so results can be reproduced)."""
    from ..version import (
        __version__ as hf_ser_version,  # also right for a source checkout that is not installed
    )

    versions = {"python": platform.python_version(), "hf_ser": hf_ser_version}
    for name in VERSION_PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


_NOT_METRICS = ("epoch", "runtime", "samples_per_second", "steps_per_second", "total_flos")


def is_metric(key: str, value: Any) -> bool:
    """A finite number that measures the model (not the timing or the epoch counter of a Trainer log)."""
    return is_number(value) and not strip_prefix(key).endswith(_NOT_METRICS)


_HUB_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def is_hub_repo_id(value: Any) -> bool:
    """Whether `value` looks like a Hub repo id (`"name"` or `"owner/name"`) and is not a local path."""
    return (
        isinstance(value, str)
        and bool(_HUB_REPO_ID.match(value))
        and ".." not in value
        and not Path(value).exists()
    )


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1, 0.0 for one value), as papers report mean ± std."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


@dataclass
class ResultRow:
    """One reported figure: `metric` on `dataset` (`split` or protocol), optionally with its spread.

    Args:
        metric (`str`): metric key, e.g. `"uar"`, `"ccc_valence"` (see `METRICS` for known keys).
        value (`float`): the figure (the mean when `std` is given).
        dataset (`str`): corpus key (`"emodb"`) or Hub dataset id.
        split (`str`, *optional*): split or protocol, e.g. `"test"`, `"leave-one-speaker-out"`.
        std (`float`, *optional*): standard deviation over folds/seeds.
        num_runs (`int`, *optional*): how many runs (or seeds, see `over`) `value` averages.
        over (`str`, defaults to `"runs"`): what `std` and `num_runs` count: `"runs"` or `"seeds"`.
    """

    metric: str
    value: float
    dataset: str
    split: Optional[str] = None
    std: Optional[float] = None
    num_runs: Optional[int] = None
    over: str = "runs"

    def __post_init__(self) -> None:
        if not is_number(self.value):
            raise ValueError(
                f"Result value for metric {self.metric!r} must be a finite number, got {self.value!r}."
            )
        self.value = float(self.value)


@dataclass
class SERCardData:
    """Everything an hf_ser model card states. All fields are optional; the card leaves out what is unknown.

    Args:
        model_id (`str`, *optional*): Hub repo id (`"user/name"`), used in the usage snippet and model-index.
        model_name (`str`, *optional*): display name; defaults to the last part of `model_id`.
        base_model (`str`, *optional*): Hub id of the pretrained backbone (e.g. `"facebook/wav2vec2-base"`).
        language (`list[str]`): ISO 639 codes of the training speech.
        license (`str`, defaults to `"apache-2.0"`): Hub license id of the weights.
        datasets (`list[str]`): corpus keys (`"emodb"`) or Hub dataset ids the model was trained on.
        tags (`list[str]`): extra Hub tags (hf_ser adds its own).
        task (`str`, defaults to `"classification"`): `"classification"`, `"regression"` or `"multitask"`.
        labels (`list[str]`): class names in `id2label` order.
        regression_targets (`list[str]`): names of the dimensional outputs (regression / multitask).
        architecture (`dict[str, Any]`): short facts about the model (backbone, pooling, layer mix, ...).
        num_parameters (`int`, *optional*) / num_trainable_parameters (`int`, *optional*): parameter counts.
        sampling_rate (`int`, defaults to 16000): expected input rate.
        lora (`dict`, *optional*): LoRA settings (`r`, `alpha`, `target_modules`) for adapter runs.
        has_onnx (`bool`): whether an ONNX export ships in the repo (`onnx/`).
        hyperparameters (`dict[str, Any]`): training settings.
        protocol (`str`, *optional*): evaluation protocol in words (e.g. "leave-one-speaker-out, 10 folds").
        split_sizes (`dict[str, int]`): clips per split.
        label_counts (`dict[str, dict[str, int]]`): per split, clips per label.
        num_speakers (`dict[str, int]`): per split, distinct speakers.
        eval_rows (`list[dict]`): training log, one row per evaluation (epoch, step, losses, metrics).
        results (`list[ResultRow]`): the headline figures (these become the model-index).
        fold_results (`list[dict]`): one row per fold/seed run: `fold`, `seed` and metric values.
        group_results (`dict[str, dict[str, dict[str, float]]]`): per grouping column (`"sex"`,
            `"speaker"`), per group, metric values (and `"n"`, the number of clips).
        intended_use (`str`): what the model is for.
        limitations (`list[str]`): known limitations and risks.
        versions (`dict[str, str]`): package versions of the training environment.
    """

    model_id: Optional[str] = None
    model_name: Optional[str] = None
    base_model: Optional[str] = None
    language: list[str] = field(default_factory=list)
    license: str = "apache-2.0"
    datasets: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    task: str = "classification"
    labels: list[str] = field(default_factory=list)
    regression_targets: list[str] = field(default_factory=list)
    architecture: dict[str, Any] = field(default_factory=dict)
    num_parameters: Optional[int] = None
    num_trainable_parameters: Optional[int] = None
    sampling_rate: int = 16000
    lora: Optional[dict[str, Any]] = None
    has_onnx: bool = False
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    protocol: Optional[str] = None
    split_sizes: dict[str, int] = field(default_factory=dict)
    label_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    num_speakers: dict[str, int] = field(default_factory=dict)
    eval_rows: list[dict[str, Any]] = field(default_factory=list)
    results: list[ResultRow] = field(default_factory=list)
    fold_results: list[dict[str, Any]] = field(default_factory=list)
    group_results: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    intended_use: str = DEFAULT_INTENDED_USE
    limitations: list[str] = field(default_factory=lambda: list(DEFAULT_LIMITATIONS))
    versions: dict[str, str] = field(default_factory=_package_versions)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"Unknown task {self.task!r}; choose one of {', '.join(TASKS)}.")
        self.results = [r if isinstance(r, ResultRow) else ResultRow(**r) for r in self.results]

    # ----------------------------------------------------------------------------------------------
    # Filling
    # ----------------------------------------------------------------------------------------------
    def add_result(
        self,
        metric: str,
        value: float,
        *,
        dataset: str,
        split: Optional[str] = None,
        std: Optional[float] = None,
        num_runs: Optional[int] = None,
    ) -> None:
        """Add a headline figure (replacing an earlier one for the same metric, dataset and split)."""
        row = ResultRow(metric=metric, value=value, dataset=dataset, split=split, std=std, num_runs=num_runs)
        self.results = [
            r for r in self.results if (r.metric, r.dataset, r.split) != (row.metric, row.dataset, row.split)
        ]
        self.results.append(row)

    def add_fold_result(
        self, metrics: dict[str, Any], *, fold: Any = None, seed: Optional[int] = None
    ) -> None:
        """Add one cross-validation run; timings and non-numbers are dropped, `eval_` prefixes removed."""
        row: dict[str, Any] = {}
        if fold is not None:
            row["fold"] = fold
        if seed is not None:
            row["seed"] = seed
        row.update({strip_prefix(k): float(v) for k, v in metrics.items() if is_metric(k, v)})
        self.fold_results.append(row)

    def set_group_results(self, column: str, groups: dict[str, dict[str, Any]]) -> None:
        """Set the per-group figures for one column (`"sex"`, `"speaker"`, ...); numeric values only."""
        self.group_results[column] = {
            str(group): {strip_prefix(k): v for k, v in values.items() if is_metric(k, v)}
            for group, values in groups.items()
            if isinstance(values, dict)
        }

    def fill_from_config(self, config: Any) -> None:
        """Read task, labels, regression targets and architecture from a model config (object or dict)."""
        cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config)
        task = cfg.get("task")
        if task in TASKS:
            self.task = task
        if self.task != "regression":
            id2label = cfg.get("id2label") or {}
            self.labels = [id2label[k] for k in sorted(id2label, key=lambda key: int(key))]
        if self.task != "classification":
            self.regression_targets = list(cfg.get("regression_targets") or [])
        backbone = cfg.get("backbone_config") or {}
        facts = {
            "model_type": cfg.get("model_type"),
            "backbone": backbone.get("model_type") if isinstance(backbone, dict) else None,
            "backbone_layers": backbone.get("num_hidden_layers") if isinstance(backbone, dict) else None,
            "backbone_hidden_size": backbone.get("hidden_size") if isinstance(backbone, dict) else None,
            "layer_weighting": cfg.get("layer_weighting"),
            "seq2seq": cfg.get("seq2seq"),
            "pooling": cfg.get("pooling"),
            "projector_size": cfg.get("projector_size"),
            "classification_loss": cfg.get("classification_loss") if self.task != "regression" else None,
            "regression_loss": cfg.get("regression_loss") if self.task != "classification" else None,
        }
        self.architecture.update({k: v for k, v in facts.items() if v is not None})
        base = cfg.get("backbone_name_or_path") or cfg.get("base_model")
        if is_hub_repo_id(base) and "/" in base:
            self.base_model = self.base_model or base

    # ----------------------------------------------------------------------------------------------
    # Derived views
    # ----------------------------------------------------------------------------------------------
    @property
    def display_name(self) -> str:
        if self.model_name:
            return self.model_name
        if self.model_id:
            return self.model_id.split("/")[-1]
        return "hf_ser speech emotion model"

    def metric_keys(self) -> list[str]:
        """Metric keys present in the fold results, known metrics first."""
        keys: list[str] = []
        for row in self.fold_results:
            keys.extend(k for k in row if k not in ("fold", "seed") and k not in keys)
        return sorted(
            keys, key=lambda k: (k not in METRICS, list(METRICS).index(k) if k in METRICS else 0, k)
        )

    def fold_summary(self) -> dict[str, dict[str, Any]]:
        """Per metric: `mean`, `std` (sample, ddof=1), `min`, `max` (6 decimals), `n` and `over`.

        With several seeds (the "folds x seeds" protocol of the ResLSTM-SA paper) each seed's runs are
        first averaged over folds and the statistics are over seeds (`over="seeds"`); otherwise they are
        over the runs (`over="runs"`).
        """
        seeds = [row.get("seed") for row in self.fold_results]
        by_seed = None not in seeds and len(set(seeds)) > 1
        summary = {}
        for key in self.metric_keys():
            if by_seed:
                values = []
                for seed in sorted(set(seeds)):
                    per_seed = [
                        row[key] for row in self.fold_results if row.get("seed") == seed and key in row
                    ]
                    if per_seed:
                        values.append(sum(per_seed) / len(per_seed))
            else:
                values = [row[key] for row in self.fold_results if key in row]
            mean, std = mean_std(values)
            summary[key] = {
                "mean": round(mean, 6),
                "std": round(std, 6),
                "min": round(min(values), 6),
                "max": round(max(values), 6),
                "n": len(values),
                "over": "seeds" if by_seed else "runs",
            }
        return summary

    def corpus_info(self) -> list[dict[str, Any]]:
        """Name, language, style and source of each training corpus (unknown ids are shown as given)."""
        return [{"key": name, **CORPORA.get(name, {"name": name})} for name in self.datasets]

    # ----------------------------------------------------------------------------------------------
    # Serialisation
    # ----------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (inverse of :meth:`from_dict`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SERCardData:
        """Build from :meth:`to_dict` output; unknown keys are rejected with the list of known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown SERCardData field(s) {unknown}; known fields: {', '.join(sorted(known))}."
            )
        return cls(**data)

    def save(self, path: Union[str, Path]) -> Path:
        """Write :meth:`to_dict` as JSON (the `card_data.json` kept next to a checkpoint)."""
        path = Path(path)
        path.write_text(
            json.dumps(self.to_dict(), indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8"
        )
        return path

    @classmethod
    def load(cls, path: Union[str, Path]) -> SERCardData:
        """Read a JSON file written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def strip_prefix(key: str) -> str:
    """`eval_uar` / `test_uar` -> `uar`: Trainer prefixes metric names with the split."""
    for prefix in ("eval_", "test_", "validation_"):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key
