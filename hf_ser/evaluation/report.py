"""Evaluation reports: ``report.json``, Markdown and HTML with matplotlib figures.

One JSON dictionary (:func:`build_report`) is the source of every rendering: its keys are
``overall``, ``by_sex``, ``by_speaker`` (and ``by_<column>`` for other group columns), ``fairness``,
``robustness`` and, when given, ``cross_corpus``. :func:`report_tables` turns it into tables (headers +
rows) which render as Markdown (:func:`markdown_tables`, also what the model card generator embeds)
and as HTML; :func:`write_report` writes all files and the figures:

- ``confusion_matrix.png`` — row-normalised confusion matrix with counts,
- ``by_speaker.png`` / ``by_sex.png`` — the primary metric per group with bootstrap intervals,
- ``robustness_snr.png`` — metric and flip share versus noise SNR (clean at the right),
- ``cross_corpus.png`` — train/test heat map.

Example:
    >>> from hf_ser.evaluation import build_report, markdown_tables  # doctest: +SKIP
    >>> report = build_report(result, robustness=robust, title="default model on EmoDB")  # doctest: +SKIP
    >>> print(markdown_tables(report)["by_sex"])  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from .cross_corpus import CrossCorpusResult
from .evaluate import EvaluationResult
from .robustness import RobustnessResult

__all__ = ["Table", "build_report", "markdown_tables", "report_tables", "write_report"]

_METRIC_NAMES = {
    "uar": "UAR",
    "wa": "WA",
    "macro_f1": "macro-F1",
    "weighted_f1": "weighted F1",
    "ccc_mean": "CCC (mean)",
}


def _metric_name(key: str) -> str:
    return _METRIC_NAMES.get(key, key.replace("ccc_", "CCC ") if key.startswith("ccc_") else key)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def _fmt_ci(ci: Optional[list[float]]) -> str:
    return "–" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def build_report(
    result: EvaluationResult,
    *,
    robustness: Optional[RobustnessResult] = None,
    cross_corpus: Optional[CrossCorpusResult] = None,
    title: str = "hf_ser evaluation report",
    meta: Optional[dict] = None,
) -> dict:
    """The ``report.json`` dictionary: title, meta, the result's keys, robustness, cross_corpus.

    ``by_sex`` and ``by_speaker`` are always present (empty when the dataset lacks the column) and
    ``robustness`` is ``null`` when no perturbation was run, so readers can rely on the keys.
    """
    report = {"title": title, "meta": dict(meta or {}), **result.to_dict()}
    report.setdefault("by_sex", {})
    report.setdefault("by_speaker", {})
    report["robustness"] = robustness.to_dict() if robustness is not None else None
    if cross_corpus is not None:
        report["cross_corpus"] = cross_corpus.to_dict()
    return report


@dataclass
class Table:
    """A rendered-agnostic table: ``headers``, ``rows`` of strings and a ``caption``."""

    caption: str
    headers: list[str]
    rows: list[list[str]]

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown table."""
        lines = ["| " + " | ".join(self.headers) + " |", "|" + "|".join("---" for _ in self.headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML ``<table>`` with the caption."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self.rows
        )
        return (
            f"<table><caption>{html.escape(self.caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )


def _metric_keys(report: dict) -> list[str]:
    return [k for k in report["overall"] if k != "ci"]


def _group_table(report: dict, column: str) -> Optional[Table]:
    groups = report.get(f"by_{column}") or {}
    if not groups:
        return None
    keys = _metric_keys(report)
    primary = report["primary_metric"]
    headers = [column, "n", *(_metric_name(k) for k in keys), f"{_metric_name(primary)} 95% CI"]
    rows = [
        [
            name,
            str(entry["n"]),
            *(_fmt(entry.get(k)) for k in keys),
            _fmt_ci((entry.get("ci") or {}).get(primary)),
        ]
        for name, entry in groups.items()
    ]
    return Table(f"Results per {column}", headers, rows)


def report_tables(report: dict) -> dict[str, Table]:
    """All tables of a report dictionary, by name: ``overall``, ``by_<column>``..., ``fairness``,
    ``robustness``, ``cross_corpus`` (only those with content)."""
    tables: dict[str, Table] = {}
    keys = _metric_keys(report)
    ci = report["overall"].get("ci") or {}
    tables["overall"] = Table(
        f"Overall ({report['num_samples']} clips)",
        ["metric", "value", "95% CI"],
        [[_metric_name(k), _fmt(report["overall"][k]), _fmt_ci(ci.get(k))] for k in keys],
    )
    for key in report:
        if key.startswith("by_"):
            table = _group_table(report, key[3:])
            if table is not None:
                tables[key] = table
    if report.get("fairness"):
        tables["fairness"] = Table(
            f"Fairness: spread of {_metric_name(report['primary_metric'])} over groups",
            ["column", "groups", "best", "worst", "gap (best-worst)", "gap 95% CI", "std", "std 95% CI"],
            [
                [
                    column,
                    str(f["num_groups"]),
                    f"{f['best_group']} ({_fmt(f['best'])})",
                    f"{f['worst_group']} ({_fmt(f['worst'])})",
                    _fmt(f["gap"]),
                    _fmt_ci(f.get("gap_ci")),
                    _fmt(f["std"]),
                    _fmt_ci(f.get("std_ci")),
                ]
                for column, f in report["fairness"].items()
            ],
        )
    robustness = report.get("robustness")
    if robustness:
        primary = report["primary_metric"]
        has_flips = any("flip_share" in row for row in robustness["perturbations"])
        headers = ["perturbation", _metric_name(primary), f"Δ {_metric_name(primary)}"]
        headers += ["flip share"] if has_flips else ["mean |Δ| per target"]
        rows = [["clean", _fmt(robustness["clean"].get(primary)), "–", "–"]]
        for row in robustness["perturbations"]:
            last = (
                _fmt(row.get("flip_share"))
                if has_flips
                else ", ".join(f"{t} {_fmt(v)}" for t, v in row.get("mean_abs_change", {}).items())
            )
            rows.append(
                [
                    row["name"],
                    _fmt(row["metrics"].get(primary)),
                    f"{row['delta'].get(primary, 0.0):+.3f}",
                    last,
                ]
            )
        tables["robustness"] = Table("Robustness to perturbations (change versus clean audio)", headers, rows)
    cross = report.get("cross_corpus")
    if cross:
        pairs = zip(cross["corpora"], cross["matrix"], strict=True)
        rows = [[f"train {name}", *(_fmt(v) for v in row)] for name, row in pairs]
        tables["cross_corpus"] = Table(
            f"Cross-corpus {_metric_name(cross['metric'])} over {', '.join(cross['labels'])} "
            f"(diagonal: {cross['in_corpus_folds']} speaker-independent folds)",
            ["", *(f"test {name}" for name in cross["corpora"])],
            rows,
        )
    return tables


def markdown_tables(report: Union[dict, EvaluationResult]) -> dict[str, str]:
    """Markdown tables of a report (or an :class:`EvaluationResult`), by name — for model cards."""
    if isinstance(report, EvaluationResult):
        report = build_report(report)
    return {name: table.to_markdown() for name, table in report_tables(report).items()}


def _plot_confusion(report: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    labels, counts = report["confusion_matrix"]["labels"], np.asarray(report["confusion_matrix"]["counts"])
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 1.2 + 0.7 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
    for (i, j), value in np.ndenumerate(counts):
        ax.text(j, i, str(value), ha="center", va="center", color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (colour: recall)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_groups(report: dict, column: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    primary = report["primary_metric"]
    groups = report[f"by_{column}"]
    names = list(groups)
    values = np.asarray([groups[n][primary] for n in names])
    cis = [(groups[n].get("ci") or {}).get(primary) for n in names]
    errors = None
    if all(cis):
        errors = np.abs(np.asarray([[v - c[0], c[1] - v] for v, c in zip(values, cis, strict=True)]).T)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(names) + 2), 3.6))
    ax.bar(range(len(names)), values, yerr=errors, capsize=3, color="tab:blue", alpha=0.8)
    ax.axhline(
        report["overall"][primary],
        color="tab:red",
        linestyle="--",
    )
    ax.set_xticks(
        range(len(names)),
        names,
        rotation=60 if len(names) > 6 else 0,
        ha="right" if len(names) > 6 else "center",
    )
    ax.set_ylabel(_metric_name(primary))
    ax.set_ylim(min(0.0, float(values.min()) - 0.05), 1.05)
    ax.set_title(
        f"{_metric_name(primary)} per {column}, 95% bootstrap CI "
        f"(dashed: overall {report['overall'][primary]:.3f})",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_robustness(report: dict, path: Path) -> bool:
    import matplotlib.pyplot as plt

    robustness, primary = report["robustness"], report["primary_metric"]
    noise = sorted(
        (row for row in robustness["perturbations"] if row["family"] == "noise" and row["level"] is not None),
        key=lambda row: row["level"],
    )
    if not noise:
        return False
    levels = [row["level"] for row in noise]
    clean_x = max(levels) + 10.0
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(
        levels + [clean_x],
        [row["metrics"][primary] for row in noise] + [robustness["clean"][primary]],
        "o-",
        label=_metric_name(primary),
    )
    if all("flip_share" in row for row in noise):
        ax.plot(levels + [clean_x], [row["flip_share"] for row in noise] + [0.0], "s--", label="flip share")
    ax.set_xticks(levels + [clean_x], [f"{x:g}" for x in levels] + ["clean"])
    ax.set_xlabel("SNR (dB), white noise")
    ax.set_ylim(0.0, 1.0)
    ax.set_title("Robustness to additive noise")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _plot_cross_corpus(report: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    cross = report["cross_corpus"]
    matrix = np.asarray([[np.nan if v is None else v for v in row] for row in cross["matrix"]], dtype=float)
    names = cross["corpora"]
    fig, ax = plt.subplots(figsize=(3.0 + 1.3 * len(names), 1.2 + 1.1 * len(names)))
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, _fmt(float(value)), ha="center", va="center", color="white" if value < 0.6 else "black")
    ax.set_xticks(range(len(names)), [f"test {n}" for n in names])
    ax.set_yticks(range(len(names)), [f"train {n}" for n in names])
    ax.set_title(f"Cross-corpus {_metric_name(cross['metric'])}")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _figures(report: dict, out_dir: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    figures: dict[str, str] = {}
    if report.get("confusion_matrix"):
        _plot_confusion(report, out_dir / "confusion_matrix.png")
        figures["confusion_matrix"] = "confusion_matrix.png"
    for column in ("speaker", "sex"):
        if report.get(f"by_{column}"):
            _plot_groups(report, column, out_dir / f"by_{column}.png")
            figures[f"by_{column}"] = f"by_{column}.png"
    if report.get("robustness") and _plot_robustness(report, out_dir / "robustness_snr.png"):
        figures["robustness"] = "robustness_snr.png"
    if report.get("cross_corpus"):
        _plot_cross_corpus(report, out_dir / "cross_corpus.png")
        figures["cross_corpus"] = "cross_corpus.png"
    return figures


_SECTIONS = [
    ("overall", "Overall", "confusion_matrix"),
    ("by_sex", "Per sex", "by_sex"),
    ("by_speaker", "Per speaker", "by_speaker"),
    ("fairness", "Fairness", None),
    ("robustness", "Robustness", "robustness"),
    ("cross_corpus", "Cross-corpus", "cross_corpus"),
]


def _notes(report: dict) -> list[str]:
    notes = []
    dropped = report.get("dropped_labels") or {}
    if dropped.get("dataset_only"):
        notes.append(
            "Dataset classes the model does not predict (their clips are excluded): "
            f"{', '.join(dropped['dataset_only'])}."
        )
    if dropped.get("model_only"):
        notes.append(
            "Model classes absent from the dataset (excluded from the argmax): "
            f"{', '.join(dropped['model_only'])}; share of clips whose unrestricted top class was one of "
            f"them: {_fmt(report.get('out_of_set_share'))}."
        )
    boot = report.get("bootstrap") or {}
    if boot.get("replicates"):
        notes.append(
            f"Intervals: {boot['confidence']:.0%} percentile bootstrap, {boot['replicates']} replicates, "
            f"seed {boot['seed']}."
        )
    return notes


def write_report(
    out_dir: Union[str, Path],
    result: EvaluationResult,
    *,
    robustness: Optional[RobustnessResult] = None,
    cross_corpus: Optional[CrossCorpusResult] = None,
    title: str = "hf_ser evaluation report",
    meta: Optional[dict] = None,
) -> dict[str, Path]:
    """Write ``report.json``, ``report.md``, ``report.html`` and the PNG figures into ``out_dir``.

    Returns:
        `dict[str, Path]`: the written files by kind (``json``, ``markdown``, ``html``, figure names).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(result, robustness=robustness, cross_corpus=cross_corpus, title=title, meta=meta)
    figures = _figures(report, out)
    report["figures"] = figures
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    tables = report_tables(report)
    md = [f"# {title}", ""]
    md += [f"- **{k}**: {v}" for k, v in report["meta"].items()]
    md += [f"- {note}" for note in _notes(report)]
    body = [f"<h1>{html.escape(title)}</h1>", "<ul>"]
    body += [
        f"<li><b>{html.escape(str(k))}</b>: {html.escape(str(v))}</li>" for k, v in report["meta"].items()
    ]
    body += [f"<li>{html.escape(n)}</li>" for n in _notes(report)] + ["</ul>"]
    for key, heading, figure in _SECTIONS:
        if key not in tables:
            continue
        md += ["", f"## {heading}", "", tables[key].to_markdown()]
        body += [f"<h2>{html.escape(heading)}</h2>", tables[key].to_html()]
        if figure in figures:
            md += ["", f"![{heading}]({figures[figure]})"]
            body.append(f'<p><img src="{figures[figure]}" alt="{html.escape(heading)}"></p>')
    for key, table in tables.items():  # other group columns (corpus, intensity, ...)
        if key.startswith("by_") and key not in ("by_sex", "by_speaker"):
            md += ["", f"## {table.caption}", "", table.to_markdown()]
            body += [f"<h2>{html.escape(table.caption)}</h2>", table.to_html()]
    (out / "report.md").write_text("\n".join(md) + "\n")
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}caption{font-weight:bold}"
    )
    (out / "report.html").write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    written = {"json": out / "report.json", "markdown": out / "report.md", "html": out / "report.html"}
    written.update({name: out / file for name, file in figures.items()})
    return written
