"""Training recipes as a library: config parsing, the `SERTrainer`, callbacks, fine-tuning, cross-validation,
hyper-parameter search and the artifacts a run leaves behind (model cards come from :mod:`hf_ser.cards`).

``recipes/finetune.py``, ``recipes/crossval.py`` and ``recipes/hpo.py`` are thin wrappers around
:func:`run_finetune`, :func:`run_crossval` and :func:`run_hpo`.
"""

from .callbacks import CropEpochCallback, EpochSummaryCallback
from .config import TrainConfig, known_keys, load_yaml, parse_config
from .crossval import run_crossval, summarize
from .ctc import CharVocab, CTCLabelCollator, transcribe
from .finetune import build_training_arguments, run_finetune
from .hpo import DEFAULT_SEARCH_SPACE, run_hpo
from .trainer import SERTrainer

__all__ = [
    "DEFAULT_SEARCH_SPACE",
    "CTCLabelCollator",
    "CharVocab",
    "CropEpochCallback",
    "EpochSummaryCallback",
    "SERTrainer",
    "TrainConfig",
    "build_training_arguments",
    "known_keys",
    "load_yaml",
    "parse_config",
    "run_crossval",
    "run_finetune",
    "run_hpo",
    "summarize",
    "transcribe",
]
