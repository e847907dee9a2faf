"""Training recipes as a library: config parsing, the `SERTrainer`, callbacks, fine-tuning, cross-validation,
hyper-parameter search, LoRA, distillation and the artifacts a run leaves behind (model cards come from
:mod:`hf_ser.cards`).

- :mod:`~hf_ser.training.trainer` / :mod:`~hf_ser.training.trainer_distillation`: the trainers.
- :mod:`~hf_ser.training.preparation`: corpus -> splits -> decoded, augmented training data.
- :mod:`~hf_ser.training.model_factory`: config -> model (backbone, LoRA, head options).
- :mod:`~hf_ser.training.finetune`, :mod:`~hf_ser.training.crossval`, :mod:`~hf_ser.training.hpo`,
  :mod:`~hf_ser.training.distill`, :mod:`~hf_ser.training.cross_corpus`: the recipes;
  :mod:`~hf_ser.training.reproduce` (paper 004's protocol) and :mod:`~hf_ser.training.svm_baseline`
  (functionals + linear SVM) build on them.

``recipes/finetune.py``, ``recipes/crossval.py`` and ``recipes/hpo.py`` are thin wrappers around
:func:`run_finetune`, :func:`run_crossval` and :func:`run_hpo`.
"""

from .callbacks import CropEpochCallback, EpochSummaryCallback
from .config import TrainConfig, known_keys, load_yaml, parse_config
from .cross_corpus import recipe_trainer
from .crossval import run_crossval, summarize
from .ctc import CharVocab, CTCLabelCollator, transcribe
from .finetune import build_training_arguments, run_finetune
from .hpo import DEFAULT_SEARCH_SPACE, run_hpo
from .lora import ParameterCount, add_lora, count_parameters, load_lora
from .reproduce import ReproduceSettings, run_reproduce
from .svm_baseline import run_svm_baseline
from .trainer import SERTrainer

__all__ = [
    "DEFAULT_SEARCH_SPACE",
    "CTCLabelCollator",
    "CharVocab",
    "CropEpochCallback",
    "EpochSummaryCallback",
    "ParameterCount",
    "ReproduceSettings",
    "SERTrainer",
    "TrainConfig",
    "add_lora",
    "build_training_arguments",
    "count_parameters",
    "known_keys",
    "load_lora",
    "load_yaml",
    "parse_config",
    "recipe_trainer",
    "run_crossval",
    "run_finetune",
    "run_hpo",
    "run_reproduce",
    "run_svm_baseline",
    "summarize",
    "transcribe",
]
