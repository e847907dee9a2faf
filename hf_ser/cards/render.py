"""Render :class:`~hf_ser.cards.card_data.SERCardData` into a Hub model card and check it offline.

The card is rendered with huggingface_hub's :class:`~huggingface_hub.ModelCard` from the Jinja template
shipped in `hf_ser/cards/templates/model_card.md` (package data): metadata goes through
:class:`~huggingface_hub.ModelCardData` (with the evaluation results as
:class:`~huggingface_hub.EvalResult` rows, which become the `model-index`), prose and tables through
the template.

`ModelCard.validate` posts the card to the Hub, which we never do while writing a card, so
:func:`validate_model_card` checks the same things locally: the YAML block parses into a dict,
`ModelCardData` accepts it, the `model-index` follows the Hub schema and survives the round trip
`model_index_to_eval_results` -> `eval_results_to_model_index`, and the hf_ser fields
(`library_name`, `pipeline_tag`, license, language codes, repo ids) have valid values.

Example:

```python
>>> from hf_ser.cards import SERCardData, render_model_card, validate_model_card
>>> card_data = SERCardData(model_id="me/ser-emodb", labels=["anger", "neutral"], datasets=["emodb"])
>>> card_data.add_result("uar", 0.71, dataset="emodb", split="test")
>>> card = render_model_card(card_data)
>>> validate_model_card(card)
>>> card.data.library_name, card.data.eval_results[0].metric_value
('hf_ser', 0.71)

```
"""

from __future__ import annotations

import math
import re
from importlib import resources
from pathlib import Path
from typing import Any, Optional, Union

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

from .card_data import _HUB_REPO_ID, CORPORA, METRICS, ResultRow, SERCardData

TEMPLATE_NAME = "model_card.md"
LIBRARY_NAME = "hf_ser"
PIPELINE_TAG = "audio-classification"
TASK_NAME = "Speech Emotion Recognition"
CARD_DATA_FILENAME = "card_data.json"

HUB_LICENSES = frozenset(
    """apache-2.0 mit openrail openrail++ bigscience-openrail-m creativeml-openrail-m bigcode-openrail-m
    afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0
    cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0
    cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0
    cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0
    epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc
    lppl-1.3c ms-pl mpl-2.0 odc-by odbl osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
    unknown other""".split()
)
"""License ids the Hub accepts in `license:` (https://huggingface.co/docs/hub/repositories-licenses)."""

_LANGUAGE = re.compile(r"^([a-z]{2,3}(-[A-Za-z0-9]{2,8})*|multilingual)$")
_TAG = re.compile(r"^[\w.:+-]+$")


class ModelCardValidationError(ValueError):
    """The card's metadata would be rejected by the Hub; the message lists every problem found."""


def load_template(name: str = TEMPLATE_NAME) -> str:
    """Text of a template shipped in `hf_ser/cards/templates/` (read as package data)."""
    template = resources.files("hf_ser.cards").joinpath("templates", name)
    if not template.is_file():
        available = sorted(p.name for p in resources.files("hf_ser.cards").joinpath("templates").iterdir())
        raise ValueError(f"Unknown card template {name!r}; available templates: {', '.join(available)}.")
    return template.read_text(encoding="utf-8")


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _metric_name(key: str) -> str:
    return METRICS[key]["name"] if key in METRICS else key


def _dataset_name(key: str) -> str:
    return CORPORA[key]["name"] if key in CORPORA else key


def _headline_results(card_data: SERCardData) -> list[ResultRow]:
    """The figures that go into the model-index: the explicit results, else the cross-validation means."""
    if card_data.results:
        return list(card_data.results)
    if not card_data.fold_results or not card_data.datasets:
        return []
    dataset = "+".join(card_data.datasets)
    split = card_data.protocol or "cross-validation"
    return [
        ResultRow(key, s["mean"], dataset, split=split, std=s["std"], num_runs=s["n"], over=s["over"])
        for key, s in card_data.fold_summary().items()
    ]


def _eval_results(card_data: SERCardData) -> list[EvalResult]:
    results = []
    for row in _headline_results(card_data):
        info = METRICS.get(row.metric, {"type": row.metric, "name": row.metric})
        name = info["name"]
        if row.std is not None:
            runs = f" over {row.num_runs} {row.over}" if row.num_runs else ""
            name = f"{name}, mean{runs} (std {row.std:.4f})"
        results.append(
            EvalResult(
                task_type=PIPELINE_TAG,
                task_name=TASK_NAME,
                dataset_type=row.dataset,
                dataset_name=" + ".join(_dataset_name(k) for k in row.dataset.split("+")),
                dataset_split=row.split,
                metric_type=info["type"],
                metric_value=round(row.value, 4),
                metric_name=name,
                metric_config=info.get("config"),
                metric_args=info.get("args"),
            )
        )
    return results


def build_model_card_data(card_data: SERCardData) -> ModelCardData:
    """The card's YAML metadata as huggingface_hub `ModelCardData` (model-index from the results)."""
    tags = ["hf_ser", "audio-classification", "speech-emotion-recognition"]
    if card_data.task != "classification":
        tags.append("arousal-dominance-valence" if card_data.regression_targets else "emotion-regression")
    if card_data.architecture.get("backbone"):
        tags.append(str(card_data.architecture["backbone"]))
    if card_data.lora:
        tags.append("lora")
    if card_data.has_onnx:
        tags.append("onnx")
    tags.extend(card_data.tags)
    eval_results = _eval_results(card_data)
    hub_datasets = [d for d in card_data.datasets if "/" in d]  # only real Hub dataset ids link anywhere
    metrics = sorted({r.metric_type for r in eval_results}) or None
    return ModelCardData(
        language=list(card_data.language) or None,
        license=card_data.license,
        library_name=LIBRARY_NAME,
        pipeline_tag=PIPELINE_TAG,
        tags=tags,
        base_model=card_data.base_model,
        datasets=hub_datasets or None,
        metrics=metrics,
        model_name=(card_data.model_id or card_data.display_name) if eval_results else None,
        eval_results=eval_results or None,
    )


def _table(rows: list[dict[str, Any]], first: list[str]) -> Optional[dict[str, Any]]:
    """`{"header": [...], "rows": [[...]]}` with the `first` columns first and values formatted."""
    if not rows:
        return None
    header = [c for c in first if any(c in r for r in rows)]
    for row in rows:
        header.extend(k for k in row if k not in header)

    def cell(column: str, value: Any) -> str:
        return f"{value:.2f}" if column == "epoch" and isinstance(value, float) else _fmt(value)

    return {"header": header, "rows": [[cell(c, row.get(c, "-")) for c in header] for row in rows]}


def _group_tables(card_data: SERCardData) -> list[dict[str, Any]]:
    tables = []
    for column, groups in card_data.group_results.items():
        if not groups:
            continue
        metrics: list[str] = []
        for values in groups.values():
            metrics.extend(k for k in values if k != "n" and k not in metrics)
        header = [column] + (["clips"] if any("n" in v for v in groups.values()) else []) + metrics
        rows = []
        for group in sorted(groups):
            values = groups[group]
            row = [group] + ([_fmt(values.get("n", "-"))] if "clips" in header else [])
            rows.append(row + [_fmt(values.get(m, "-")) for m in metrics])
        gap = None
        main = metrics[0] if metrics else None
        if main and len(groups) > 1:
            values = [v[main] for v in groups.values() if main in v]
            gap = f"{_fmt(max(values) - min(values))} {_metric_name(main)}"
        tables.append(
            {
                "column": column,
                "header": [_metric_name(h) if h in METRICS else h for h in header],
                "rows": rows,
                "gap": gap,
            }
        )
    return tables


def template_kwargs(card_data: SERCardData) -> dict[str, Any]:
    """Everything the template shows, pre-formatted (tables as header + rows of strings)."""
    summary = card_data.fold_summary()
    split_rows = []
    for split in sorted(
        set(card_data.split_sizes) | set(card_data.label_counts) | set(card_data.num_speakers)
    ):
        counts = card_data.label_counts.get(split, {})
        split_rows.append(
            {
                "split": split,
                "clips": card_data.split_sizes.get(split, sum(counts.values()) if counts else "-"),
                "speakers": card_data.num_speakers.get(split, "-"),
                "labels": ", ".join(f"{k}: {v}" for k, v in counts.items()) or "-",
            }
        )
    result_rows = [
        {
            "dataset": _dataset_name(r.dataset) if "+" not in r.dataset else r.dataset,
            "split": r.split or "-",
            "metric": _metric_name(r.metric),
            "value": _fmt(r.value) + (f" ± {_fmt(r.std)}" if r.std is not None else ""),
        }
        for r in _headline_results(card_data)
    ]
    return {
        "name": card_data.display_name,
        "usage_model": card_data.model_id or "path/to/checkpoint",
        "task": card_data.task,
        "labels": card_data.labels,
        "regression_targets": card_data.regression_targets,
        "base_model": card_data.base_model,
        "corpora": card_data.corpus_info(),
        "architecture": card_data.architecture,
        "architecture_rows": [
            (k.replace("_", " ").capitalize(), _fmt(v))
            for k, v in card_data.architecture.items()
            if k != "model_type"
        ],
        "num_parameters": f"{card_data.num_parameters:,}" if card_data.num_parameters else None,
        "num_trainable_parameters": (
            f"{card_data.num_trainable_parameters:,}" if card_data.num_trainable_parameters else None
        ),
        "sampling_rate": card_data.sampling_rate,
        "lora": card_data.lora,
        "has_onnx": card_data.has_onnx,
        "license": card_data.license,
        "protocol": card_data.protocol,
        "split_rows": split_rows,
        "hyperparameter_rows": [
            (k, f"{v:g}" if isinstance(v, float) else _fmt(v)) for k, v in card_data.hyperparameters.items()
        ],
        "eval_table": _table(card_data.eval_rows, ["epoch", "step", "training_loss", "validation_loss"]),
        "result_rows": result_rows,
        "fold_table": _table(card_data.fold_results, ["fold", "seed"]),
        "fold_summary_rows": [
            {
                "metric": _metric_name(k),
                "mean_std": f"{_fmt(s['mean'])} ± {_fmt(s['std'])}",
                "min": _fmt(s["min"]),
                "max": _fmt(s["max"]),
                "over": f"{s['n']} {s['over']}",
            }
            for k, s in summary.items()
        ],
        "group_tables": _group_tables(card_data),
        "intended_use": card_data.intended_use,
        "limitations": card_data.limitations,
        "versions": sorted(card_data.versions.items()),
    }


def render_model_card(
    card_data: SERCardData, *, template_path: Optional[Union[str, Path]] = None
) -> ModelCard:
    """Render the card: metadata from :func:`build_model_card_data`, body from the Jinja template.

    Args:
        card_data (`SERCardData`): the facts to state.
        template_path (`str` or `Path`, *optional*): a custom Jinja template; defaults to the shipped one.
    """
    template_str = Path(template_path).read_text(encoding="utf-8") if template_path else load_template()
    return ModelCard.from_template(
        build_model_card_data(card_data), template_str=template_str, **template_kwargs(card_data)
    )


def save_model_card(
    card_data: SERCardData, output_dir: Union[str, Path], *, template_path: Optional[Union[str, Path]] = None
) -> ModelCard:
    """Render, validate and write `README.md` (+ `card_data.json`, so the card can be re-rendered later,
    e.g. by :func:`hf_ser.hub.publish` with the final repo id) into `output_dir`."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    card = render_model_card(card_data, template_path=template_path)
    validate_model_card(card)
    card.save(output_dir / "README.md")
    card_data.save(output_dir / CARD_DATA_FILENAME)
    return card


# --------------------------------------------------------------------------------------------------
# Offline validation
# --------------------------------------------------------------------------------------------------
def _metric_problems(metric: Any, where: str) -> list[str]:
    """Problems with one `metrics` entry: a string `type` and a finite number or string `value`."""
    if not isinstance(metric, dict) or not isinstance(metric.get("type"), str):
        return [f"{where} needs a string `type`."]
    value = metric.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return [f"{where}.value must be a number or string, got {value!r}."]
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{where}.value must be finite, got {value!r}."]
    return []


def _dataset_problems(dataset: Any, where: str) -> list[str]:
    """Problems with a result's `dataset`: string `type` and `name`, and a string `split` if given."""
    if not isinstance(dataset, dict) or not all(isinstance(dataset.get(k), str) for k in ("type", "name")):
        return [f"{where}.dataset needs string `type` and `name`."]
    if "split" in dataset and not isinstance(dataset["split"], str):
        return [f"{where}.dataset.split must be a string, got {dataset['split']!r}."]
    return []


def _result_problems(result: Any, where: str) -> list[str]:
    """Problems with one `results` entry: its task, its dataset and each of its metrics."""
    if not isinstance(result, dict):
        return [f"{where} must be a mapping."]
    task, metrics = result.get("task"), result.get("metrics")
    problems = []
    if not isinstance(task, dict) or not isinstance(task.get("type"), str):
        problems.append(f"{where}.task needs a string `type`.")
    problems.extend(_dataset_problems(result.get("dataset"), where))
    if not isinstance(metrics, list) or not metrics:
        return [*problems, f"{where}.metrics must be a non-empty list."]
    for k, metric in enumerate(metrics):
        problems.extend(_metric_problems(metric, f"{where}.metrics[{k}]"))
    return problems


def _entry_problems(entry: Any, where: str) -> list[str]:
    """Problems with one `model-index` entry: a non-empty `name` and a non-empty list of valid results."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        return [f"{where} needs a non-empty string `name`."]
    results = entry.get("results")
    if not isinstance(results, list) or not results:
        return [f"{where}.results must be a non-empty list."]
    return [p for j, result in enumerate(results) for p in _result_problems(result, f"{where}.results[{j}]")]


def _check_model_index(model_index: Any) -> list[str]:
    """Problems with a `model-index` value, following the Hub spec (hub-docs modelcard.md)."""
    if not isinstance(model_index, list) or not model_index:
        return [f"model-index must be a non-empty list, got {model_index!r}."]
    return [p for i, entry in enumerate(model_index) for p in _entry_problems(entry, f"model-index[{i}]")]


def _read_metadata(content: str) -> Union[dict, str]:
    """The card's YAML metadata block as a mapping, or the reason it cannot be read as one."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", content, flags=re.DOTALL)
    if not match:
        return "The card does not start with a `---` YAML metadata block."
    try:
        metadata = yaml.safe_load(match.group(1))
    except yaml.YAMLError as error:
        return f"The metadata block is not valid YAML: {error}"
    if not isinstance(metadata, dict):
        return f"The metadata block must be a mapping, got {type(metadata).__name__}."
    return metadata


def _round_trip_problems(metadata: dict, data: ModelCardData) -> list[str]:
    """huggingface_hub must read the metadata (and its model-index) back unchanged."""
    problems = []
    if yaml.safe_load(data.to_yaml()) != metadata:
        problems.append("The metadata does not survive a ModelCardData YAML round trip unchanged.")
    if "model-index" in metadata:
        index_problems = _check_model_index(metadata["model-index"])
        problems.extend(index_problems)
        if not index_problems:
            name, results = model_index_to_eval_results(metadata["model-index"])
            if eval_results_to_model_index(name, results) != metadata["model-index"]:
                problems.append("model-index does not survive the EvalResult round trip unchanged.")
    return problems


def _identity_problems(metadata: dict) -> list[str]:
    """`library_name` and `pipeline_tag` must be hf_ser's, the license a Hub id (with details for 'other')."""
    problems = []
    if metadata.get("library_name") != LIBRARY_NAME:
        problems.append(f"library_name must be {LIBRARY_NAME!r}, got {metadata.get('library_name')!r}.")
    if metadata.get("pipeline_tag") != PIPELINE_TAG:
        problems.append(f"pipeline_tag must be {PIPELINE_TAG!r}, got {metadata.get('pipeline_tag')!r}.")
    license_id = metadata.get("license")
    if license_id not in HUB_LICENSES:
        problems.append(f"license {license_id!r} is not a Hub license id; use one of the Hub ids or 'other'.")
    elif license_id == "other" and not (metadata.get("license_name") and metadata.get("license_link")):
        problems.append("license 'other' needs `license_name` and `license_link`.")
    return problems


def _as_list(values: Any) -> list:
    """A metadata value that may be one string or a list of them, as a list."""
    return [values] if isinstance(values, str) else values


def _reference_problems(metadata: dict) -> list[str]:
    """Languages must be ISO codes, base models and datasets Hub repo ids, tags strings without spaces."""
    problems = []
    for language in _as_list(metadata.get("language", [])):
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            problems.append(f"language {language!r} is not an ISO 639-1/2/3 code (or 'multilingual').")
    for key in ("base_model", "datasets"):
        for value in _as_list(metadata.get(key, [])):
            if not isinstance(value, str) or not _HUB_REPO_ID.match(value):
                problems.append(f"{key} entry {value!r} is not a Hub repo id.")
    for tag in metadata.get("tags", []):
        if not isinstance(tag, str) or not _TAG.match(tag):
            problems.append(f"tag {tag!r} must be a non-empty string without spaces.")
    return problems


def model_card_problems(card: Union[ModelCard, str]) -> list[str]:
    """Every reason the Hub would reject (or mis-read) this card's metadata; empty when it is valid."""
    metadata = _read_metadata(str(card))
    if isinstance(metadata, str):
        return [metadata]
    try:
        data = ModelCardData(**metadata)
    except ValueError as error:
        return [f"huggingface_hub rejects the metadata: {error}"]
    return [
        *_round_trip_problems(metadata, data),
        *_identity_problems(metadata),
        *_reference_problems(metadata),
    ]


def validate_model_card(card: Union[ModelCard, str]) -> None:
    """Raise :class:`ModelCardValidationError` listing every metadata problem (offline; see module doc)."""
    problems = model_card_problems(card)
    if problems:
        raise ModelCardValidationError("Invalid model card metadata:\n- " + "\n- ".join(problems))
