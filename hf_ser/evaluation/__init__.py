"""Evaluation beyond one number: per-group fairness, robustness, cross-corpus tests and reports.

- :func:`evaluate_model` — overall metrics (UAR / WA / macro-F1, CCC per target), the same per group
  of any column (sex, speaker, corpus, ...), best-worst gap and std over groups, bootstrap intervals.
- :func:`evaluate_robustness` with :mod:`~hf_ser.evaluation.perturbations` — metric change and
  prediction flips under noise, gain, filtering, reverberation, mu-law / 8 kHz and time shift.
- :func:`cross_corpus_matrix` — train on A, test on B, over the shared canonical classes.
- :func:`write_report` / :func:`markdown_tables` — ``report.json``, Markdown, HTML and figures
  (``hf-ser report`` on the command line).
"""

from .bootstrap import metrics_from_confusion, percentile_interval
from .cross_corpus import (
    CrossCorpusResult,
    cross_corpus_matrix,
    restrict_to_labels,
    shared_labels,
)
from .evaluate import (
    DEFAULT_GROUP_COLUMNS,
    EvaluationResult,
    LabelAlignment,
    align_labels,
    decode_audio_column,
    evaluate_model,
    score_predictions,
)
from .perturbations import PERTURBATION_FAMILIES, PERTURBATIONS, Perturbation, get_perturbations
from .predictor import Predictions, Predictor, as_predictor
from .report import Table, build_report, markdown_tables, report_tables, write_report
from .robustness import RobustnessResult, evaluate_robustness, robustness_from_arrays

__all__ = [
    "DEFAULT_GROUP_COLUMNS",
    "PERTURBATIONS",
    "PERTURBATION_FAMILIES",
    "CrossCorpusResult",
    "EvaluationResult",
    "LabelAlignment",
    "Perturbation",
    "Predictions",
    "Predictor",
    "RobustnessResult",
    "Table",
    "align_labels",
    "as_predictor",
    "build_report",
    "cross_corpus_matrix",
    "decode_audio_column",
    "evaluate_model",
    "evaluate_robustness",
    "get_perturbations",
    "markdown_tables",
    "metrics_from_confusion",
    "percentile_interval",
    "report_tables",
    "restrict_to_labels",
    "robustness_from_arrays",
    "score_predictions",
    "shared_labels",
    "write_report",
]
