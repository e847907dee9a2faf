"""Robustness: how much metrics move, and how many predictions flip, under realistic perturbations.

For each perturbation of :mod:`hf_ser.evaluation.perturbations` every test clip is perturbed (with
its own deterministic seed), the model predicts again, and we report the metrics, their change versus
the clean audio, and the share of clips whose predicted class differs from the clean prediction (for
A/D/V models: the mean absolute change of each target). A model that keeps its UAR but flips 30% of
its decisions under 20 dB noise is not robust; the flip share shows it.

Example:
    >>> from hf_ser.evaluation import evaluate_robustness  # doctest: +SKIP
    >>> result = evaluate_robustness(None, dataset, ["noise", "telephone"])  # doctest: +SKIP
    >>> [(row["name"], row["delta"]["uar"], row["flip_share"]) for row in result.rows]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Union

import numpy as np
from tqdm.auto import tqdm

from .evaluate import EvaluationResult, decode_audio_column, score_predictions
from .perturbations import Perturbation, get_perturbations
from .predictor import Predictor, as_predictor

__all__ = ["RobustnessResult", "evaluate_robustness", "robustness_from_arrays"]


@dataclass
class RobustnessResult:
    """Metrics under each perturbation.

    Args:
        clean (`dict[str, float]`): overall metrics on the clean audio.
        rows (`list[dict]`): one per perturbation: ``name``, ``family``, ``level``, ``params``,
            ``metrics``, ``delta`` (metric - clean metric), ``flip_share`` (classification) and
            ``mean_abs_change`` per target (regression), ``num_samples``.
        seed (`int`): the run seed the per-clip perturbation seeds derive from.
    """

    clean: dict[str, float]
    rows: list[dict] = field(default_factory=list)
    seed: int = 0

    def to_dict(self) -> dict:
        """JSON-ready: ``{"clean": ..., "perturbations": [...], "seed": ...}``."""
        return {"clean": self.clean, "perturbations": self.rows, "seed": self.seed}

    def family(self, name: str) -> list[dict]:
        """Rows of one family (e.g. ``"noise"``), ordered by decreasing level (SNR 20 -> 0 dB)."""
        rows = [row for row in self.rows if row["family"] == name]
        return sorted(rows, key=lambda row: -(row["level"] if row["level"] is not None else 0.0))


def robustness_from_arrays(
    predictor: Predictor,
    arrays: Sequence[np.ndarray],
    dataset: Any,
    clean: EvaluationResult,
    perturbations: Sequence[Perturbation],
    *,
    label_column: str = "label",
    label_map: Optional[dict[str, str]] = None,
    sampling_rate: int = 16000,
    seed: int = 0,
    progress: bool = True,
) -> RobustnessResult:
    """Robustness when the audio is already decoded and the clean result computed (used by reports).

    ``arrays`` must be aligned with ``dataset`` (all rows); ``clean`` is the clean
    :class:`EvaluationResult` of the same predictor on the same dataset.
    """
    if len(arrays) != len(dataset):
        raise ValueError(f"{len(arrays)} arrays for a dataset of {len(dataset)} rows.")
    result = RobustnessResult(clean=dict(clean.overall), seed=seed)
    for perturbation in tqdm(perturbations, desc="perturbations", disable=not progress):
        perturbed = [perturbation(a, sampling_rate, seed=seed, index=i) for i, a in enumerate(arrays)]
        predictions = predictor.predict(perturbed, sampling_rate)
        scored = score_predictions(
            predictions,
            dataset,
            label_column=label_column,
            group_columns=[],
            label_map=label_map,
            bootstrap=0,
        )
        if not np.array_equal(scored.row_indices, clean.row_indices):
            raise RuntimeError(
                "Perturbed and clean evaluations cover different rows; use the same label_map."
            )
        row: dict[str, Any] = {
            "name": perturbation.name,
            "family": perturbation.family,
            "level": perturbation.level,
            "params": perturbation.params,
            "num_samples": scored.num_samples,
            "metrics": scored.overall,
            "delta": {k: v - clean.overall[k] for k, v in scored.overall.items() if k in clean.overall},
        }
        if clean.y_pred is not None:
            row["flip_share"] = float(np.mean(scored.y_pred != clean.y_pred))
        if clean.regression_pred:
            row["mean_abs_change"] = {
                t: float(np.mean(np.abs(scored.regression_pred[t] - clean.regression_pred[t])))
                for t in clean.regression_pred
            }
        result.rows.append(row)
    return result


def evaluate_robustness(
    model_or_pipeline: Any,
    dataset: Any,
    perturbations: Optional[Sequence[Union[str, Perturbation]]] = None,
    *,
    clean: Optional[EvaluationResult] = None,
    label_column: str = "label",
    label_map: Optional[dict[str, str]] = None,
    feature_extractor: Any = None,
    batch_size: int = 16,
    sampling_rate: int = 16000,
    seed: int = 0,
    progress: bool = True,
) -> RobustnessResult:
    """Evaluate under each perturbation and compare with the clean audio.

    Args:
        model_or_pipeline: as :func:`~hf_ser.evaluation.evaluate_model`.
        dataset (`datasets.Dataset`): the test set.
        perturbations (`Sequence[str | Perturbation]`, *optional*): names or families of
            :data:`~hf_ser.evaluation.perturbations.PERTURBATIONS` or :class:`Perturbation` objects;
            default: the whole standard set.
        clean (`EvaluationResult`, *optional*): the clean evaluation, if already computed with the
            same model (saves one pass).
        seed (`int`, *optional*, defaults to 0): seeds random perturbations (noise, reverb).
        Other arguments: as :func:`~hf_ser.evaluation.evaluate_model`.
    """
    if perturbations is None:
        selected = get_perturbations()
    else:
        names = [p for p in perturbations if isinstance(p, str)]
        objects = [p for p in perturbations if isinstance(p, Perturbation)]
        selected = (get_perturbations(names) if names else []) + objects
    predictor = as_predictor(model_or_pipeline, feature_extractor=feature_extractor, batch_size=batch_size)
    arrays = decode_audio_column(dataset, sampling_rate)
    if clean is None:
        clean = score_predictions(
            predictor.predict(arrays, sampling_rate),
            dataset,
            label_column=label_column,
            group_columns=[],
            label_map=label_map,
            bootstrap=0,
        )
    return robustness_from_arrays(
        predictor,
        arrays,
        dataset,
        clean,
        selected,
        label_column=label_column,
        label_map=label_map,
        sampling_rate=sampling_rate,
        seed=seed,
        progress=progress,
    )
