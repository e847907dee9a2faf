"""Turn whatever the user evaluates (model, path, pipeline) into one prediction interface.

Evaluation never runs models itself: batching, input validation and the feature extractor are the
job of :func:`hf_ser.pipeline`, so a model object or a checkpoint path is wrapped in that pipeline and
an existing pipeline (or any callable with the same contract) is used as is.

An hf_ser pipeline hands over arrays (:meth:`~hf_ser.inference.pipeline.SERPipeline.outputs`: logits
and regression values per clip), so nothing is formatted and parsed back. Any other callable
follows the pipeline's public contract: called with a list of ``{"array": float32 1-D, "sampling_rate":
int}`` dicts it returns one dict per clip with ``"label"`` and ``"scores"`` (``{class name:
probability}``) for categorical models and one float per regression target (``"arousal"``, ...) for
dimensional ones.

:class:`Predictions` holds the outputs for a whole evaluation set as arrays aligned with its rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
from tqdm.auto import tqdm

__all__ = ["Predictions", "Predictor", "as_predictor"]


@dataclass
class Predictions:
    """Outputs of a model for ``N`` clips.

    Args:
        labels (`list[str]`): the model's class names, the column order of ``scores`` (empty for
            regression-only models).
        scores (`np.ndarray` of shape `(N, len(labels))`, *optional*): class probabilities.
        regression (`dict[str, np.ndarray]`): per target name, the `(N,)` predicted values.
    """

    labels: list[str]
    scores: Optional[np.ndarray] = None
    regression: dict[str, np.ndarray] = field(default_factory=dict)

    def select(self, rows: Sequence[int]) -> Predictions:
        """The predictions of some clips (``rows`` index the clips), e.g. for a subset of the dataset."""
        rows = np.asarray(rows, dtype=int)
        return Predictions(
            labels=list(self.labels),
            scores=None if self.scores is None else self.scores[rows],
            regression={target: values[rows] for target, values in self.regression.items()},
        )

    def __len__(self) -> int:
        if self.scores is not None:
            return int(self.scores.shape[0])
        return int(next(iter(self.regression.values())).shape[0]) if self.regression else 0


def _model_config(pipe: Any) -> Any:
    """The model config behind a pipeline (``pipe.config``, else ``pipe.model.config``), if any."""
    config = getattr(pipe, "config", None)
    return config if config is not None else getattr(getattr(pipe, "model", None), "config", None)


def _task(config: Any) -> str:
    return getattr(config, "task", "classification")


def _model_columns(config: Any) -> Optional[tuple[list[str], list[str]]]:
    """The model's class names (``id2label`` order) and regression targets, i.e. the column order of
    its output arrays; ``None`` without a config."""
    if config is None:
        return None
    id2label = getattr(config, "id2label", None) or {}
    task = _task(config)
    labels = [] if task == "regression" else [id2label[i] for i in sorted(int(k) for k in id2label)]
    targets = [] if task == "classification" else list(getattr(config, "regression_targets", None) or [])
    return labels, targets


class Predictor:
    """Wraps an hf_ser pipeline (or a callable with its contract) and collects :class:`Predictions`.

    Args:
        pipe (`Callable`): called with a list of ``{"array", "sampling_rate"}`` dicts.
        batch_size (`int`, *optional*, defaults to 16): clips handed to ``pipe`` per call (the pipeline
            batches inside each call; this only bounds memory and drives the progress bar).
        labels (`Sequence[str]`, *optional*): class names; read from ``pipe.model.config.id2label``
            when omitted, else from the first output's ``scores``.
        targets (`Sequence[str]`, *optional*): regression target names; read from the model config
            (``regression_targets`` when its ``task`` is not ``"classification"``) or from the outputs.
    """

    def __init__(
        self,
        pipe: Callable[[list[dict]], list[dict]],
        *,
        batch_size: int = 16,
        labels: Optional[Sequence[str]] = None,
        targets: Optional[Sequence[str]] = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        self.pipe = pipe
        self.batch_size = batch_size
        config = _model_config(pipe)
        self._model_columns = _model_columns(config)
        if labels is None and self._model_columns is not None:
            labels = self._model_columns[0] or None
        if targets is None and self._model_columns is not None and _task(config) != "classification":
            targets = self._model_columns[1]
        self.labels: Optional[list[str]] = list(labels) if labels is not None else None
        self.targets: Optional[list[str]] = list(targets) if targets is not None else None

    @property
    def _gives_arrays(self) -> bool:
        """True when ``pipe`` is an hf_ser pipeline whose model names its classes / targets: then the
        predictions are read from its output arrays instead of its formatted dicts."""
        if not callable(getattr(self.pipe, "outputs", None)) or self._model_columns is None:
            return False
        return (self.labels or [], self.targets or []) == self._model_columns

    def _call(self, batch: list[dict]) -> list[dict]:
        outputs = self.pipe(batch)
        if isinstance(outputs, dict):
            outputs = [outputs]
        outputs = list(outputs)
        if len(outputs) != len(batch):
            raise RuntimeError(f"The pipeline returned {len(outputs)} results for {len(batch)} clips.")
        return outputs

    def predict(
        self, arrays: Sequence[np.ndarray], sampling_rate: int = 16000, *, progress: Optional[str] = None
    ) -> Predictions:
        """Run the pipeline over ``arrays`` (float32 mono at ``sampling_rate``) in input order."""
        if self._gives_arrays:
            return self._predict_arrays(arrays, sampling_rate, progress)
        outputs: list[dict] = []
        starts = range(0, len(arrays), self.batch_size)
        for start in tqdm(starts, desc=progress or "predict", disable=progress is None or len(starts) < 2):
            batch = [
                {"array": np.asarray(a, dtype=np.float32), "sampling_rate": sampling_rate}
                for a in arrays[start : start + self.batch_size]
            ]
            outputs.extend(self._call(batch))
        return self._collect(outputs)

    def _predict_arrays(
        self, arrays: Sequence[np.ndarray], sampling_rate: int, progress: Optional[str]
    ) -> Predictions:
        """The hf_ser pipeline path: stack its per-clip logits (softmax) and regression arrays."""
        clips = [np.asarray(a, dtype=np.float32) for a in arrays]
        outputs = []
        starts = range(0, len(clips), self.batch_size)
        for start in tqdm(starts, desc=progress or "predict", disable=progress is None or len(starts) < 2):
            batch = clips[start : start + self.batch_size]
            outputs.extend(self.pipe.outputs(batch, sampling_rate=sampling_rate))
        scores = None
        if self.labels:
            logits = np.stack([output.class_logits for output in outputs]).astype(np.float64)
            scores = np.exp(logits - logits.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
        regression = {}
        if self.targets:
            values = np.stack([output.regression for output in outputs]).astype(np.float64)
            regression = {target: values[:, column] for column, target in enumerate(self.targets)}
        return Predictions(labels=list(self.labels), scores=scores, regression=regression)

    def _collect(self, outputs: list[dict]) -> Predictions:
        if self.labels is None:
            first = outputs[0].get("scores") if outputs else None
            self.labels = list(first) if isinstance(first, dict) else []
        if self.targets is None:
            self.targets = [
                k
                for k, v in (outputs[0].items() if outputs else [])
                if isinstance(v, (int, float)) and k != "label"
            ]
        scores = None
        if self.labels:
            scores = np.zeros((len(outputs), len(self.labels)), dtype=np.float64)
            for row, output in enumerate(outputs):
                given = output.get("scores")
                if not isinstance(given, dict):
                    raise ValueError(
                        f"Expected a 'scores' dict per clip from a categorical model, got {output!r}."
                    )
                missing = set(self.labels) - set(given)
                if missing:
                    raise ValueError(
                        f"The pipeline returned scores for {sorted(given)} but not for {sorted(missing)}; "
                        "evaluation needs the scores of every class (do not limit top_k)."
                    )
                scores[row] = [given[label] for label in self.labels]
        regression = {t: np.asarray([float(o[t]) for o in outputs], dtype=np.float64) for t in self.targets}
        return Predictions(labels=list(self.labels), scores=scores, regression=regression)


def as_predictor(
    model_or_pipeline: Any,
    *,
    feature_extractor: Any = None,
    batch_size: int = 16,
    device: Optional[str] = None,
    dtype: str = "float32",
) -> Predictor:
    """Wrap a model, a checkpoint path, an hf_ser pipeline or a :class:`Predictor` for evaluation.

    Args:
        model_or_pipeline: ``None`` (the built-in default model), a path / Hub id, a
            ``PreTrainedModel`` of the hf_ser family, an ``hf_ser.pipeline(...)`` object or any
            callable with the pipeline's contract, or a :class:`Predictor` (returned unchanged).
        feature_extractor: the model's feature extractor, passed to :func:`hf_ser.pipeline` with a
            model object (otherwise the pipeline loads the one saved with the model).
        batch_size (`int`, *optional*, defaults to 16): clips per pipeline call.
        device (`str`, *optional*): passed to :func:`hf_ser.pipeline`.
        dtype (`str`, *optional*, defaults to `"float32"`): compute precision of a pipeline built here;
            fp32 by default so evaluation figures do not depend on the CPU's bf16 support.
    """
    if isinstance(model_or_pipeline, Predictor):
        return model_or_pipeline
    is_model = model_or_pipeline is None or isinstance(model_or_pipeline, (str, os.PathLike))
    try:
        from transformers import PreTrainedModel

        is_model = is_model or isinstance(model_or_pipeline, PreTrainedModel)
    except ImportError:  # pragma: no cover - transformers is a hard dependency
        pass
    if not is_model:
        if not callable(model_or_pipeline):
            raise TypeError(
                "Expected a model, a model path, an hf_ser pipeline or a callable; got "
                f"{type(model_or_pipeline).__name__}."
            )
        return Predictor(model_or_pipeline, batch_size=batch_size)

    from ..inference.pipeline import pipeline as build_pipeline

    model = os.fspath(model_or_pipeline) if isinstance(model_or_pipeline, os.PathLike) else model_or_pipeline
    kwargs: dict[str, Any] = {"device": device, "batch_size": batch_size, "dtype": dtype}
    if feature_extractor is not None:
        kwargs["feature_extractor"] = feature_extractor
    return Predictor(build_pipeline(model, **kwargs), batch_size=batch_size)
