"""Recipe configuration: one flat dataclass, filled from a YAML file and overridden by command-line flags.

Every field of :class:`TrainConfig` is a YAML key *and* a flag (``--learning_rate 1e-4``), the way
SpeechBrain recipes work: the YAML holds the setting, the command line tweaks it. Model-specific
options (anything the model's config class accepts, e.g. ``layer_weighting`` for an SSL model or
``hidden_size`` / ``residual`` for LSTM-SA) go under the ``model:`` mapping and are reachable from the
command line as dotted flags (``--model.hidden_size 64``). Unknown keys are rejected *before* any
data is read or any model is built, with the list of known keys.

Example:

```python
>>> from hf_ser.training.config import parse_config
>>> cfg = parse_config(["--backbone", "./tiny", "--max_steps", "4", "--model.layer_weighting", "learned"])
>>> cfg.max_steps, cfg.model["layer_weighting"]
(4, 'learned')
```
"""

from __future__ import annotations

import dataclasses
import re
import sys
import textwrap
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Optional, Union

import yaml

from .config_parsing import assign, config_paths, flag_value, split_flags

MODEL_TYPES = ("ser", "lstm_sa", "student")
TASKS = ("classification", "regression", "multitask")
PROTOCOLS = ("auto", "speaker_folds", "official")
BF16_CHOICES = ("auto", True, False)
EVAL_STRATEGIES = ("epoch", "steps", "no")
FEATURE_NORMALIZATIONS = ("utterance", "global")

# Keys with a fixed set of allowed values (the distillation loss is checked against the losses module).
CHOICES: dict[str, tuple] = {
    "model_type": MODEL_TYPES,
    "task": TASKS,
    "protocol": PROTOCOLS,
    "bf16": BF16_CHOICES,
    "eval_strategy": EVAL_STRATEGIES,
    "feature_normalization": FEATURE_NORMALIZATIONS,
}


class Bound(NamedTuple):
    """A numeric key's lower limit: ``value > minimum`` when ``strict``, else ``>=``.

    ``nullable``: the key may also be null (``None``).
    """

    minimum: int
    strict: bool = False
    nullable: bool = False


LOWER_BOUNDS: dict[str, Bound] = {
    **dict.fromkeys(
        (
            "per_device_train_batch_size",
            "per_device_eval_batch_size",
            "gradient_accumulation_steps",
            "seeds",
            "n_trials",
            "logging_steps",
            "lora_r",
        ),
        Bound(1),
    ),
    **dict.fromkeys(("learning_rate", "num_train_epochs"), Bound(0, strict=True)),
    **dict.fromkeys(
        ("weight_decay", "ctc_alpha", "freeze_backbone_steps", "warmup_ratio", "dataloader_num_workers"),
        Bound(0),
    ),
    **dict.fromkeys(
        ("max_train_seconds", "max_eval_seconds", "backbone_learning_rate"),
        Bound(0, strict=True, nullable=True),
    ),
    "max_samples": Bound(2, nullable=True),
    "restart_period_epochs": Bound(1, nullable=True),
    "early_stopping_patience": Bound(1, nullable=True),
}


@dataclass
class TrainConfig:
    """Everything a fine-tuning, cross-validation or search run needs.

    Args:
        model_type (`str`, *optional*, defaults to `"ser"`):
            Model family: `"ser"` (SSL backbone + pooling + heads, `hf_ser.SERModelForAudioClassification`),
            `"lstm_sa"` (LSTM-SA / ResLSTM-SA on MFCC+chroma) or `"student"` (Wav2Small-style student).
        backbone (`str`, *optional*, defaults to `"facebook/wav2vec2-base"`):
            Hub id or local path of the pretrained SSL backbone (wav2vec2, HuBERT, WavLM) for `"ser"`,
            or of a trained hf_ser checkpoint to continue from (any model type).
        task (`str`, *optional*, defaults to `"classification"`):
            `"classification"`, `"regression"` (A/D/V) or `"multitask"` (both).
        pooling (`str`, *optional*, defaults to `"attentive_stats"`):
            Utterance pooling of `"ser"` models (see `hf_ser.models.pooling.POOLING_TYPES`).
        model (`dict`, *optional*):
            Extra keyword arguments for the model's config class, validated against its fields: e.g.
            `layer_weighting`, `projector_size`, `classifier_dropout`, `classification_loss` (`"ce"`,
            `"focal"`), `regression_loss` (`"ccc"`, `"mse"`, `"ccc+mse"`), `multitask_weight` for SSL
            models; `hidden_size`, `residual` for LSTM-SA.
        feature_extractor (`dict`, *optional*):
            Keyword arguments of a new model's feature extractor class, checked against its signature, e.g.
            `{"hop_length": 512}` for the MFCC+chroma extractor of `"lstm_sa"` (not for `"ser"` models or
            when continuing from a checkpoint, whose extractors are fixed).
        backbone_config (`dict`, *optional*):
            Overrides of the pretrained backbone's config for `"ser"` models, e.g. `{"layerdrop": 0.0,
            "mask_time_prob": 0.05}` (wav2vec2's SpecAugment-style masking during training).
        freeze_feature_encoder (`bool`, *optional*, defaults to `True`):
            Keep the convolutional feature encoder of SSL backbones frozen for the whole run.
        freeze_backbone_steps (`int`, *optional*, defaults to 0):
            Keep the whole backbone frozen (learning rate 0) for the first N optimizer steps.
        backbone_learning_rate (`float`, *optional*):
            Learning rate of the backbone (and LoRA) parameters; `None` uses `learning_rate`.
        lora (`bool`, *optional*, defaults to `False`):
            Wrap the backbone's projections with peft LoRA (`hf_ser.training.lora.add_lora`).
        lora_r, lora_alpha, lora_dropout, lora_target_modules:
            LoRA rank, scaling, dropout and target module names (`None`: hf_ser's default targets).
        ctc_alpha (`float`, *optional*, defaults to 0.0):
            Weight of the auxiliary CTC character loss (Cai et al., 2021); > 0 needs a `text` column.
        corpus (`str`, *optional*, defaults to `"emodb"`):
            Corpus name for `hf_ser.data.load_corpus` (`"folder"` for any `<label>/<file>` tree or CSV).
        data_dir (`str`, *optional*):
            Directory (or CSV for `"folder"`) holding the corpus. Required.
        corpus_kwargs (`dict`, *optional*):
            Extra keyword arguments for `load_corpus`.
        protocol (`str`, *optional*, defaults to `"auto"`):
            `"speaker_folds"` (speaker-independent folds), `"official"` (the corpus' `split` column) or
            `"auto"` (official when the corpus has a `split` column).
        folds (`int`, *optional*):
            Number of speaker-disjoint folds; `None` = leave-one-speaker-out.
        fold (`int`, *optional*, defaults to 0):
            Test fold of a single fine-tuning run (crossval runs all of them).
        group (`str`, *optional*, defaults to `"speaker"`):
            Column the folds are disjoint in (`"session"` for IEMOCAP leave-one-session-out).
        use_validation (`bool`, *optional*, defaults to `True`):
            Hold out the next fold's speakers as a validation set for best-checkpoint selection and early
            stopping (never the test speakers).
        seeds (`int`, *optional*, defaults to 1):
            Crossval: seeds per fold (`seed`, `seed + 1`, ...).
        labels (`list[str]`, *optional*):
            Keep only these emotion classes.
        max_samples (`int`, *optional*):
            Use at most this many clips of the corpus (a stratified subset; for quick runs and tests).
        max_train_seconds (`float`, *optional*):
            Randomly crop longer training clips to this length (a new crop every epoch).
        max_eval_seconds (`float`, *optional*):
            Truncate longer evaluation clips to this length (deterministic).
        augment (`str`, *optional*):
            Augmentation preset of `hf_ser.data.augment`, applied to training clips only.
        speed_perturbation (`list[float]`, *optional*):
            Kaldi-style speed perturbation of training clips: every time a clip is drawn, one speed of
            ``[1.0, *speed_perturbation]`` is picked uniformly (tempo and pitch change together, a cheap new
            "speaker"). Combines with `augment` (applied before the preset's transforms, with the preset's
            probability `p`). ``[0.9, 1.1]`` raised EmoDB validation UAR of
            ResLSTM-SA-h64 from 0.57 to 0.59 (benchmarks/results/small_models.md).
        test_time_speeds (`list[float]`, *optional*):
            Test-time augmentation: the test splits are also predicted at these speeds and the
            predictions averaged with the clips' own (the reported test metrics use the average; the
            validation metrics during training do not). Saved in the model config, so `hf_ser.pipeline`
            does the same by default. ``[0.9, 1.1]`` raised EmoDB validation UAR of ResLSTM-SA-h64 from
            0.59 to 0.62 (benchmarks/results/small_models.md).
        class_weights (`bool`, *optional*, defaults to `False`):
            Weight the CE loss by inverse class frequency of the training labels.
        balanced_sampling (`bool`, *optional*, defaults to `False`):
            Draw training clips class-balanced (with replacement, probability 1 / class count; the draws
            depend only on `seed`) instead of a uniform shuffle: each batch holds every emotion about
            equally often. An alternative to `class_weights` (not combined with it); classes only.
        feature_normalization (`str`, *optional*, defaults to `"utterance"`):
            Normalisation of the MFCC+chroma features of `"lstm_sa"` models: `"utterance"` (each clip
            standardised by its own frame statistics, the extractor's default) or `"global"` (one mean/std
            per feature fitted on the *training split only* before training, saved with the model in
            ``preprocessor_config.json``; raised validation UAR from 0.43 to 0.59 on EmoDB). Other model
            types accept only `"utterance"` (their extractors have no such option).
        output_dir (`str`, *optional*, defaults to `"outputs/ser"`):
            Everything the run writes goes here (nothing is written elsewhere).
        resume (`bool`, *optional*, defaults to `False`):
            Continue from the last checkpoint in `output_dir` (optimizer, scheduler, RNG and data order).
        save_model (`bool`, *optional*, defaults to `True`):
            Save the final model and feature extractor (metrics, plots, config and card are always written).
        keep_checkpoints (`bool`, *optional*, defaults to `True`):
            Keep the `checkpoint-*` directories after a finished run (crossval removes them).
        seed (`int`, *optional*, defaults to 42): random seed.
        learning_rate, weight_decay, warmup_ratio, lr_scheduler_type, max_grad_norm:
            Optimizer and schedule (head learning rate; see `transformers.TrainingArguments`).
        restart_period_epochs (`int`, *optional*):
            T0 of cosine annealing with warm restarts, in epochs (sets `lr_scheduler_type` to
            `"cosine_with_restarts"`).
        per_device_train_batch_size, per_device_eval_batch_size, gradient_accumulation_steps:
            Batch sizes and accumulation.
        num_train_epochs, max_steps:
            Run length: epochs (`float`), or optimizer steps (`int`; -1 = use the epochs).
        eval_strategy, eval_steps, save_steps, save_total_limit, logging_steps:
            When to evaluate, save and log (`save` follows `eval` when evaluating).
        early_stopping_patience (`int`, *optional*):
            Stop after this many evaluations without improvement of the selection metric on the
            validation speakers (the next fold's, never the test speakers). Needs `use_validation: true`
            and an `eval_strategy` other than `"no"`; otherwise it has no effect and a warning says so.
        bf16 (`"auto"` or `bool`, *optional*, defaults to `"auto"`):
            bfloat16 mixed precision; `"auto"` enables it on GPUs that support it.
        dataloader_num_workers (`int`, *optional*, defaults to 0): data loading workers.
        disable_tqdm (`bool`, *optional*, defaults to `False`): hide progress bars.
        teacher (`list[str]`, *optional*):
            Distillation (``recipes/distill.py``): directory of a trained hf_ser checkpoint whose outputs
            the student learns, or a list of them (an ensemble: their logits / A/D/V values are averaged).
        teacher_cache (`bool`, *optional*, defaults to `True`):
            Distillation: label the training clips with the teacher once and keep the outputs in
            ``<output_dir>/teacher_cache/`` (reused while teacher and clips are unchanged); `False` runs the
            teacher on every training batch, on exactly the (cropped, augmented) audio the student sees.
        teacher_labels (`str`, *optional*):
            Distillation from stored outputs: a directory written by ``hf-ser label`` (Parquet shards of a
            teacher's class probabilities and/or A/D/V values), joined to the clips by file path. Replaces
            ``teacher``: no teacher model is loaded.
        distill_temperature (`float`, *optional*, defaults to 2.0):
            Distillation: softmax temperature of the class term ``T^2 * KL(teacher || student)``.
        distill_alpha (`float`, *optional*, defaults to 1.0):
            Distillation: weight of the teacher terms; the ground-truth loss gets ``1 - alpha`` (1 = learn
            from the teacher only).
        distill_regression_loss (`str`, *optional*, defaults to `"mse"`):
            Distillation: `"mse"`, `"ccc"` or `"ccc+mse"` between student and teacher A/D/V values.
        unlabelled_data_dir (`list[str]`, *optional*):
            Distillation: directories of extra audio without labels (searched recursively for wav, flac,
            ogg, mp3), labelled by the teacher and added to the training split.
        n_trials (`int`, *optional*, defaults to 20): hpo: number of finished trials wanted.
        search_space (`dict`, *optional*):
            hpo: `{key: {"type": "float"|"int"|"categorical", "low", "high", "log", "choices"}}` over
            config keys (dotted for `model.*`); `None` = the ResLSTM-SA paper's space.
    """

    # model
    model_type: str = "ser"
    backbone: str = "facebook/wav2vec2-base"
    task: str = "classification"
    pooling: Optional[str] = "attentive_stats"
    model: dict = field(default_factory=dict)
    feature_extractor: dict = field(default_factory=dict)
    backbone_config: dict = field(default_factory=dict)
    freeze_feature_encoder: bool = True
    freeze_backbone_steps: int = 0
    backbone_learning_rate: Optional[float] = None
    lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: Optional[list] = None
    ctc_alpha: float = 0.0
    # data
    corpus: str = "emodb"
    data_dir: Optional[str] = None
    corpus_kwargs: dict = field(default_factory=dict)
    protocol: str = "auto"
    folds: Optional[int] = None
    fold: int = 0
    group: str = "speaker"
    use_validation: bool = True
    seeds: int = 1
    labels: Optional[list] = None
    max_samples: Optional[int] = None
    max_train_seconds: Optional[float] = None
    max_eval_seconds: Optional[float] = None
    augment: Optional[str] = None
    speed_perturbation: Optional[list] = None
    test_time_speeds: Optional[list] = None
    class_weights: bool = False
    balanced_sampling: bool = False
    feature_normalization: str = "utterance"
    # run
    output_dir: str = "outputs/ser"
    resume: bool = False
    save_model: bool = True
    keep_checkpoints: bool = True
    seed: int = 42
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.1
    lr_scheduler_type: str = "linear"
    restart_period_epochs: Optional[int] = None
    max_grad_norm: float = 1.0
    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    num_train_epochs: float = 10.0
    max_steps: int = -1
    eval_strategy: str = "epoch"
    eval_steps: Optional[int] = None
    save_steps: Optional[int] = None
    save_total_limit: Optional[int] = 2
    logging_steps: int = 10
    early_stopping_patience: Optional[int] = None
    bf16: Union[bool, str] = "auto"
    dataloader_num_workers: int = 0
    disable_tqdm: bool = False
    # distillation
    teacher: Optional[list] = None
    teacher_cache: bool = True
    teacher_labels: Optional[str] = None
    distill_temperature: float = 2.0
    distill_alpha: float = 1.0
    distill_regression_loss: str = "mse"
    unlabelled_data_dir: Optional[list] = None
    # hpo
    n_trials: int = 20
    search_space: Optional[dict] = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check values that can be checked without touching data or models (before any compute)."""
        self._validate_choices()
        self._validate_ranges()
        self._validate_folds()
        self._validate_speeds()
        self._validate_model_type_options()
        self._validate_imbalance_options()
        if self.eval_strategy == "steps" and not self.eval_steps:
            raise ValueError("`eval_strategy: steps` needs `eval_steps`.")
        self._validate_distillation()

    def _validate_choices(self) -> None:
        """Keys with a fixed set of allowed values."""
        for name, allowed in CHOICES.items():
            _check_choice(name, getattr(self, name), allowed)

    def _validate_ranges(self) -> None:
        """Numeric lower bounds (table :data:`LOWER_BOUNDS`) and the special range of ``max_steps``."""
        for name, bound in LOWER_BOUNDS.items():
            _check_lower_bound(name, getattr(self, name), bound)
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(
                f"`max_steps` must be a positive number of steps or -1 (use epochs), got {self.max_steps}."
            )

    def _validate_folds(self) -> None:
        """``folds`` >= 2 (or null) and ``fold`` one of them."""
        if self.folds is not None and self.folds < 2:
            raise ValueError(f"`folds` must be >= 2 (or null for leave-one-speaker-out), got {self.folds}.")
        if self.fold < 0 or (self.folds is not None and self.fold >= self.folds):
            raise ValueError(f"`fold` must be in [0, folds), got fold={self.fold} with folds={self.folds}.")

    def _validate_speeds(self) -> None:
        """Normalise the speed lists to positive floats (``"0.9,1.1"`` from a flag included)."""
        for name in ("speed_perturbation", "test_time_speeds"):
            if getattr(self, name) is not None:
                setattr(self, name, _speed_factors(getattr(self, name), name))

    def _validate_model_type_options(self) -> None:
        """Options that only some model types support."""
        if self.feature_normalization != "utterance" and self.model_type != "lstm_sa":
            raise ValueError(
                f"`feature_normalization: {self.feature_normalization}` applies to the MFCC+chroma features "
                f"of model_type 'lstm_sa', not {self.model_type!r}; leave it at 'utterance'."
            )
        if self.ctc_alpha > 0 and self.model_type != "ser":
            raise ValueError(
                f"`ctc_alpha` > 0 needs an SSL backbone (model_type 'ser'), got {self.model_type!r}."
            )
        if self.ctc_alpha > 0 and self.max_train_seconds is not None:
            raise ValueError(
                "ctc_alpha > 0 with max_train_seconds: cropping the audio would cut it off its transcript; "
                "set max_train_seconds: null for CTC training."
            )
        if self.lora and self.model_type != "ser":
            raise ValueError(f"`lora` needs an SSL backbone (model_type 'ser'), got {self.model_type!r}.")

    def _validate_imbalance_options(self) -> None:
        """``balanced_sampling`` needs classes and excludes ``class_weights``; early stopping needs
        validation speakers (a warning, since configs may turn validation off for one run)."""
        if self.balanced_sampling and self.task == "regression":
            raise ValueError("`balanced_sampling` draws clips by emotion class; task 'regression' has none.")
        if self.balanced_sampling and self.class_weights:
            raise ValueError(
                "`balanced_sampling` and `class_weights` both correct class imbalance (together they "
                "over-correct); set one of them to false."
            )
        if self.early_stopping_patience is not None and (
            not self.use_validation or self.eval_strategy == "no"
        ):
            warnings.warn(
                f"early_stopping_patience={self.early_stopping_patience} has no effect without validation "
                f"speakers (use_validation={self.use_validation}, eval_strategy={self.eval_strategy!r}).",
                stacklevel=3,
            )

    def _validate_distillation(self) -> None:
        from ..models.losses import REGRESSION_LOSSES

        _check_choice("distill_regression_loss", self.distill_regression_loss, REGRESSION_LOSSES)
        if self.distill_temperature <= 0:
            raise ValueError(f"`distill_temperature` must be > 0, got {self.distill_temperature!r}.")
        if not 0.0 <= self.distill_alpha <= 1.0:
            raise ValueError(f"`distill_alpha` must be in [0, 1], got {self.distill_alpha!r}.")
        if self.teacher_labels and self.teacher:
            raise ValueError(
                f"Pass either `teacher` ({self.teacher}) or `teacher_labels` ({self.teacher_labels!r}), "
                "not both."
            )
        if self.teacher_labels and not self.teacher_cache:
            raise ValueError(
                "`teacher_labels` are stored full-clip outputs; they need `teacher_cache: true`."
            )
        if self.unlabelled_data_dir and self.distill_alpha < 1.0:
            raise ValueError(
                f"`distill_alpha` {self.distill_alpha} < 1 mixes in ground-truth labels, which the clips of "
                "`unlabelled_data_dir` do not have; use distill_alpha: 1 with unlabelled audio."
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML-serialisable) of every key."""
        return dataclasses.asdict(self)

    def to_yaml(self, path: Union[str, Path]) -> None:
        """Write the full configuration as YAML (re-loadable with ``--config``)."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def replace(self, **changes: Any) -> TrainConfig:
        """A validated copy with some keys changed (dotted ``model.x`` keys allowed)."""
        data = self.to_dict()
        for key, value in changes.items():
            assign(data, key, value, _field_types())
        return TrainConfig(**data)


def _check_choice(name: str, value: Any, allowed: tuple) -> None:
    """Reject a value outside ``allowed``, listing the allowed ones."""
    if value not in allowed:
        raise ValueError(f"`{name}` must be one of {list(allowed)}, got {value!r}.")


def _check_lower_bound(name: str, value: Any, bound: Bound) -> None:
    """Reject a number below ``bound`` (``None`` passes when the key is nullable), naming key and value."""
    if value is None and bound.nullable:
        return
    if value > bound.minimum if bound.strict else value >= bound.minimum:
        return
    comparison = ">" if bound.strict else ">="
    null = " or null" if bound.nullable else ""
    raise ValueError(f"`{name}` must be {comparison} {bound.minimum}{null}, got {value!r}.")


def known_keys() -> list[str]:
    """All configuration keys, in declaration order."""
    return [f.name for f in dataclasses.fields(TrainConfig)]


def _field_types() -> dict[str, Any]:
    """The parsing schema: each key's resolved type annotation, in declaration order."""
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


def _speed_factors(value: Any, name: str) -> list[float]:
    """A list of positive speeds for key ``name`` (YAML list, or ``"0.9,1.1"`` from a flag)."""
    from ..models.configuration_base import check_speeds

    values = value if isinstance(value, (list, tuple)) else [value]
    try:
        values = [float(v) if isinstance(v, str) else v for v in values]
    except ValueError:
        pass  # check_speeds names the bad value
    return check_speeds(values, name)


def load_yaml(path: Union[str, Path]) -> dict[str, Any]:
    """Read a recipe YAML file into a dict of validated, typed keys (unknown keys rejected)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config file {str(path)!r} does not exist.")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"Config file {str(path)!r} must hold a mapping of keys, got {type(raw).__name__}.")
    schema = _field_types()
    data: dict[str, Any] = {}
    for key, value in raw.items():
        assign(data, str(key), value, schema, source=f"in {path}")
    return data


def field_descriptions() -> dict[str, str]:
    """Each :class:`TrainConfig` key's description, read from the class docstring's ``Args:`` section
    (one source for the API docs and ``--help``)."""
    descriptions: dict[str, list[str]] = {}
    current = None
    for line in (TrainConfig.__doc__ or "").splitlines():
        header = re.match(r"^ {8}(\w+(?:, \w+)*)(?: \(.*\))?:(?: (.*))?$", line)
        if header:  # "name (`type`, ...):", "name (...): text" or "name_a, name_b:"
            current = header.group(1).split(", ")
            for name in current:
                descriptions[name] = [header.group(2)] if header.group(2) else []
        elif current is not None and line.startswith(" " * 12):
            for name in current:
                descriptions[name].append(line.strip())
        elif current is not None and line.strip():
            current = None  # end of the Args section
    return {name: " ".join(text) for name, text in descriptions.items()}


RECIPE_KEYS: dict[str, tuple[str, ...]] = {
    "distill": (
        "teacher", "teacher_cache", "distill_temperature", "distill_alpha", "distill_regression_loss",
        "unlabelled_data_dir",
    ),
    "hpo": ("n_trials", "search_space"),
}  # fmt: skip
"""Keys that only one recipe reads: ``--help`` of the other recipes leaves them out."""


def recipe_fields(recipe: Optional[str] = None) -> list[dataclasses.Field]:
    """The :class:`TrainConfig` fields ``recipe`` reads (``None``: all of them)."""
    hidden = {key for name, keys in RECIPE_KEYS.items() if name != recipe for key in keys}
    return [f for f in dataclasses.fields(TrainConfig) if recipe is None or f.name not in hidden]


def usage(recipe: Optional[str] = None) -> str:
    """The ``--help`` text: every key ``recipe`` reads (default: all) with its default and description."""
    descriptions = field_descriptions()
    lines = ["Flags (every key can also be set in the YAML given with --config PATH):"]
    for f in recipe_fields(recipe):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        lines.append(f"  --{f.name} (default: {default!r})")
        if descriptions.get(f.name):
            lines.extend(
                textwrap.wrap(descriptions[f.name], 100, initial_indent=" " * 6, subsequent_indent=" " * 6)
            )
    lines.append("  --model.KEY VALUE  set one key of the `model` mapping (model config argument)")
    lines.append("  --backbone_config.KEY VALUE  set one option of the pretrained backbone's config")
    return "\n".join(lines)


def parse_config(
    argv: Optional[list[str]] = None, defaults: Optional[dict[str, Any]] = None, recipe: Optional[str] = None
) -> TrainConfig:
    """Build a :class:`TrainConfig` from ``--config YAML`` plus flag overrides.

    Precedence: dataclass defaults < ``defaults`` (a recipe's own defaults) < YAML < flags.
    A bare boolean flag (``--resume``) means ``true``. ``--help`` prints the keys ``recipe`` reads
    (``"train"``, ``"crossval"``, ``"hpo"``, ``"distill"``; default: all) and exits.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if "-h" in argv or "--help" in argv:
        print(usage(recipe))
        raise SystemExit(0)
    pairs = split_flags(argv)
    schema = _field_types()
    data: dict[str, Any] = {}
    for key, value in (defaults or {}).items():
        assign(data, key, value, schema, source="recipe default")
    for path in config_paths(pairs):
        data.update(load_yaml(path))
    for key, value in pairs:
        if key != "config":
            assign(data, key, flag_value(key, value, schema), schema, source=f"from --{key}")
    return TrainConfig(**data)
