"""Progress of a labelling run: one tqdm bar per process, an aggregate line on the main process, a summary.

Processes share nothing but the output directory, so each one writes its counters to
``_state/progress-<process>.json`` every few seconds and the main process adds them up into one line:
clips/s, hours of audio per second and the ETA over all processes. The summary at the end is built from
the shard markers, so it covers every shard, those of earlier (resumed) runs included.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tqdm.auto import tqdm

from .writing import STATE_DIRNAME, read_markers, write_json

REPORT_EVERY_S = 5.0


def progress_path(output_dir: Path, process_index: int) -> Path:
    """The counters file of one process."""
    return output_dir / STATE_DIRNAME / f"progress-{process_index}.json"


def format_eta(seconds: Optional[float]) -> str:
    """``1h02m03s`` / ``2m03s`` / ``7s``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def aggregate_line(counters: list[dict], total: Optional[int], elapsed: float) -> str:
    """One line over all processes' counters (clips and audio seconds done this run)."""
    clips = sum(counter["clips"] for counter in counters)
    audio = sum(counter["audio_s"] for counter in counters)
    rate = clips / elapsed if elapsed > 0 else 0.0
    eta = (total - clips) / rate if total is not None and rate > 0 else None
    of_total = f"/{total}" if total is not None else ""
    return (
        f"[hf-ser label] {len(counters)} process(es): {clips}{of_total} clips, {rate:.1f} clips/s, "
        f"{audio / 3600 / max(elapsed, 1e-9):.4f} h audio/s, ETA {format_eta(eta)}"
    )


@dataclass
class Progress:
    """The bar of one process; the main process also prints the aggregate line.

    Args:
        output_dir (`Path`): where the counters files live.
        process_index, num_processes (`int`): this process and how many run.
        my_clips (`int`, *optional*): clips this process will label (``None`` for a stream).
        total_clips (`int`, *optional*): clips all processes will label in this run.
        enabled (`bool`): show anything at all.
    """

    output_dir: Path
    process_index: int
    num_processes: int
    my_clips: Optional[int]
    total_clips: Optional[int]
    enabled: bool = True
    clips: int = 0
    audio_s: float = 0.0
    shards: int = 0
    started: float = field(default_factory=time.monotonic)
    last_report: float = 0.0

    def __post_init__(self) -> None:
        self.bar = tqdm(
            total=self.my_clips,
            desc=f"label p{self.process_index}",
            unit="clip",
            position=self.process_index,
            disable=not self.enabled,
            dynamic_ncols=True,
        )

    def update(self, clips: int, audio_s: float) -> None:
        """Count a finished shard; write the counters and maybe the aggregate line."""
        self.clips += clips
        self.audio_s += audio_s
        self.shards += 1
        self.bar.update(clips)
        now = time.monotonic()
        if now - self.last_report >= REPORT_EVERY_S:
            self.last_report = now
            self.report()

    def report(self, aggregate: bool = True) -> None:
        """Write this process's counters; on the main process print the aggregate line."""
        counters = {"clips": self.clips, "audio_s": self.audio_s, "shards": self.shards}
        write_json(progress_path(self.output_dir, self.process_index), counters)
        if aggregate:
            self.print_aggregate()

    def print_aggregate(self) -> None:
        """On the main process of a multi-process run, print the line over every process's counters."""
        if self.process_index == 0 and self.enabled and self.num_processes > 1:
            self.bar.write(aggregate_line(self.read_all(), self.total_clips, time.monotonic() - self.started))

    def read_all(self) -> list[dict]:
        """Every process's last counters (a process that has not reported yet counts as zero)."""
        counters = []
        for index in range(self.num_processes):
            path = progress_path(self.output_dir, index)
            try:
                counters.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                counters.append({"clips": 0, "audio_s": 0.0, "shards": 0})
        return counters

    def shards_written(self) -> int:
        """Shards written by all processes in this run (call after every process has closed its bar)."""
        return sum(counter.get("shards", 0) for counter in self.read_all())

    def close(self) -> None:
        """Write the final counters and close the bar (the final aggregate line comes after the barrier:
        :meth:`print_aggregate`)."""
        self.report(aggregate=False)
        self.bar.close()


@dataclass
class LabelSummary:
    """What a finished run holds (all shards, earlier runs' included).

    Args:
        output_dir (`str`): the output directory; ``data_files`` is the glob that loads it.
        rows (`int`): rows written (windows count separately).
        clips (`int`): clips labelled or failed.
        failures (`dict[str, str]`): clip id -> reason, for clips that could not be labelled.
        audio_hours (`float`): hours of audio labelled.
        shards (`int`): finished shards; ``shards_this_run`` of them were written by this run.
        elapsed_s (`float`): wall time of this run.
    """

    output_dir: str
    data_files: str
    rows: int
    clips: int
    failures: dict[str, str]
    audio_hours: float
    shards: int
    shards_this_run: int
    elapsed_s: float

    def describe(self) -> str:
        """A human-readable summary, failures with their reasons included (at most 20 listed)."""
        lines = [
            f"Labelled {self.clips} clips ({self.audio_hours:.3f} h of audio) into {self.rows} rows, "
            f"{self.shards} shards ({self.shards_this_run} this run, {self.elapsed_s:.1f} s): "
            f"{self.output_dir}",
            f"Load them with datasets.load_dataset('parquet', data_files={self.data_files!r})",
        ]
        if self.failures:
            lines.append(f"{len(self.failures)} clip(s) failed (rows with an 'error' value):")
            lines += [f"  {clip_id}: {reason}" for clip_id, reason in sorted(self.failures.items())[:20]]
        return "\n".join(lines)


def summarize(output_dir: Path, data_files: str, shards_this_run: int, elapsed_s: float) -> LabelSummary:
    """The summary of ``output_dir``, built from its shard markers."""
    markers = read_markers(output_dir)
    failures: dict[str, str] = {}
    for marker in markers:
        failures.update(marker.get("failures", {}))
    return LabelSummary(
        output_dir=str(output_dir),
        data_files=data_files,
        rows=sum(marker["rows"] for marker in markers),
        clips=sum(marker["clips"] for marker in markers),
        failures=failures,
        audio_hours=sum(marker["audio_s"] for marker in markers) / 3600,
        shards=len(markers),
        shards_this_run=shards_this_run,
        elapsed_s=elapsed_s,
    )


__all__ = ["LabelSummary", "Progress", "aggregate_line", "summarize"]
