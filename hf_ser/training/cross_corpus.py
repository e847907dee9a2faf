"""Cross-corpus training: the recipe as a ``train_fn`` for :func:`hf_ser.evaluation.cross_corpus_matrix`.

Evaluation never imports training; it takes any ``train_fn(dataset) -> model`` instead, and this module
supplies the one that trains with hf_ser's fine-tuning recipe.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable, Union

from .finetune import run_finetune
from .preparation import TrainingData

__all__ = ["recipe_trainer"]


def recipe_trainer(
    config: Any, work_dir: Union[str, Path], *, label_column: str = "label"
) -> Callable[[Any], str]:
    """A ``train_fn`` for :func:`~hf_ser.evaluation.cross_corpus_matrix`: trains with the fine-tuning recipe.

    Each call runs :func:`~hf_ser.training.run_finetune` with ``config`` (a
    :class:`~hf_ser.training.TrainConfig`, e.g. the small-model recipe the default model uses) on the
    given training set only — no validation split, no test split — into ``work_dir/run-NN`` and returns
    that checkpoint directory.

    Example:
        >>> from hf_ser.training import TrainConfig  # doctest: +SKIP
        >>> config = TrainConfig(model_type="lstm_sa", num_train_epochs=30)  # doctest: +SKIP
        >>> train_fn = recipe_trainer(config, "runs/cross_corpus")  # doctest: +SKIP
    """
    counter = itertools.count()

    def train(dataset: Any) -> str:
        output_dir = Path(work_dir) / f"run-{next(counter):02d}"
        run_config = config.replace(
            output_dir=str(output_dir), use_validation=False, save_model=True, keep_checkpoints=False,
            eval_strategy="no",
        )  # fmt: skip
        names = list(dataset.features[label_column].names)
        speakers = sorted({s for s in dataset.with_format(None)["speaker"] if s is not None})
        data = TrainingData(
            train=dataset, validation=None, tests={}, id2label=dict(enumerate(names)), regression_targets=[],
            protocol="cross-corpus: all speakers of the training corpus", speakers={"train": speakers},
        )  # fmt: skip
        run_finetune(run_config, data)
        return str(output_dir)

    return train
