"""``hf_ser.label``: label a corpus with an hf_ser model into Parquet shards, on one process or many.

Run it in one process (``hf_ser.label(...)``, ``hf-ser label ...``) or under accelerate's launcher on
several processes and machines (``accelerate launch -m hf_ser label ...``): accelerate's `PartialState`
says which process this is and of how many, :mod:`~.sharding` assigns the shards, DataLoader workers
decode (:mod:`~.decoding`), :func:`hf_ser.pipeline` computes the outputs in length-sorted batches,
:mod:`~.writing` writes each shard atomically with a marker (so a re-run resumes exactly where it
stopped) and :mod:`~.progress` reports. Clips that cannot be decoded or classified become rows with an
``error`` reason.

Example:

```python
>>> import hf_ser
>>> summary = hf_ser.label("clips/", "labels/")  # doctest: +SKIP
>>> import datasets
>>> rows = datasets.load_dataset("parquet", data_files=summary.data_files, split="train")  # doctest: +SKIP
```
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterator, Optional

from .decoding import DecodedClip, DecodedShard, decoded_shards
from .progress import LabelSummary, Progress, summarize
from .sharding import Shard, check_shard_size, num_shards, owner, shards_to_label
from .sources import Source, open_source
from .table import Columns, clip_rows, shard_table
from .writing import check_or_write_run, data_files, finished_shards, write_shard


@dataclass(frozen=True)
class RunOptions:
    """How each shard is labelled (the pipeline call's settings)."""

    chunk_length_s: Optional[float] = None
    stride_length_s: Optional[float] = None
    embeddings: bool = False
    batch_size: int = 8


def pending_shards(
    source: Source, shard_size: int, process_index: int, num_processes: int, done: frozenset
) -> Iterator[Shard]:
    """This process's unfinished shards (a module-level function, so DataLoader workers can run it)."""
    return shards_to_label(source.items(), shard_size, process_index, num_processes, set(done))


def classify_each(pipe: Any, clips: list[DecodedClip], options: RunOptions) -> list[Any]:
    """One outcome per clip: the pipeline's result dict, or the failure reason (text).

    All clips go through one pipeline call (length-sorted batches) with ``errors="return"``, so an
    unusable clip comes back as ``{"error": reason}`` in its place; when the call fails as a whole (e.g.
    in the model), each clip is classified alone so that one bad clip costs only its own row.
    """
    inputs = [{"array": clip.audio, "sampling_rate": clip.sampling_rate} for clip in clips]
    call = partial(
        pipe,
        chunk_length_s=options.chunk_length_s,
        stride_length_s=options.stride_length_s,
        return_embeddings=options.embeddings,
        batch_size=options.batch_size,
        errors="return",
    )
    try:
        results = call(inputs)
    except Exception:  # noqa: BLE001 - retried clip by clip below to find the bad ones
        results = [classify_one(call, one) for one in inputs]
    return [outcome_of(result) for result in results]


def outcome_of(result: Any) -> Any:
    """A pipeline result as an outcome: the dict itself, or its ``"error"`` reason when it has one."""
    return result["error"] if isinstance(result, dict) and "error" in result else result


def classify_one(call: Any, one: dict) -> Any:
    """The result of one clip, or its failure reason."""
    try:
        return call([one])[0]
    except Exception as error:  # noqa: BLE001 - a failing clip becomes a row with its reason
        return f"{type(error).__name__}: {error}"


def label_shard(pipe: Any, shard: DecodedShard, columns: Columns, options: RunOptions) -> tuple[list, dict]:
    """Rows of one decoded shard and its marker (clip count, audio seconds, failures by id)."""
    decoded = [clip for clip in shard.clips if clip.error is None]
    results = iter(classify_each(pipe, decoded, options) if decoded else [])
    rows, failures = [], {}
    for clip in shard.clips:
        outcome = clip.error if clip.error is not None else next(results)
        if isinstance(outcome, str):
            failures[clip.item.id] = outcome
        rows += clip_rows(clip, outcome, columns)
    audio_s = sum(clip.seconds for clip in shard.clips)
    return rows, {"clips": len(shard.clips), "audio_s": audio_s, "failures": failures}


def clips_owned(
    num_items: Optional[int], shard_size: int, process: Optional[int], processes: int, done: set
) -> Optional[int]:
    """Clips in the unfinished shards of ``process`` (all processes' when ``None``); ``None`` for a stream."""
    count = num_shards(num_items, shard_size)
    if count is None:
        return None
    sizes = {k: min(shard_size, num_items - k * shard_size) for k in range(count) if k not in done}
    return sum(size for k, size in sizes.items() if process is None or owner(k, processes) == process)


def run_description(source: Source, shard_size: int, model: Any, options: RunOptions) -> dict:
    """What ``_state/run.json`` records about this run."""
    return {
        "source": source.description,
        "num_items": source.num_items,
        "shard_size": shard_size,
        "model": "built-in default" if model is None else str(model),
        "chunk_length_s": options.chunk_length_s,
        "stride_length_s": options.stride_length_s,
        "embeddings": options.embeddings,
    }


def process_state() -> Any:
    """accelerate's `PartialState` for this process: which of how many, and its device.

    ``cpu=True`` when no GPU is visible (or ``ACCELERATE_USE_CPU`` is set): accelerate only reads the
    torchrun variables into a multi-CPU (gloo) state when asked for the CPU.
    """
    import torch
    from accelerate import PartialState

    wants_cpu = os.environ.get("ACCELERATE_USE_CPU", "false").lower() in ("1", "true")
    return PartialState(cpu=wants_cpu or not torch.cuda.is_available())


def label(
    source: Any,
    output_dir: str | os.PathLike,
    *,
    model: Any = None,
    shard_size: int = 64,
    batch_size: int = 8,
    num_workers: int = 0,
    chunk_length_s: Optional[float] = None,
    stride_length_s: Optional[float] = None,
    return_embeddings: bool = False,
    audio_column: str = "audio",
    path_column: str = "path",
    id_column: Optional[str] = None,
    split: str = "train",
    dtype: str = "float32",
    progress: bool = True,
) -> LabelSummary:
    """Label every clip of ``source`` into Parquet shards under ``output_dir``; resume what is missing.

    Args:
        source: a folder of audio files, a ``.csv`` / ``.jsonl`` manifest, a directory written by
            ``Dataset.save_to_disk``, a Hub dataset name (read with ``streaming=True``), or a
            `datasets.Dataset` / `datasets.IterableDataset` object.
        output_dir (`str` or `os.PathLike`): where the shards go; a re-run with the same settings labels
            only the shards that are missing.
        model (*optional*): what :func:`hf_ser.pipeline` accepts; ``None`` is the built-in model.
        shard_size (`int`, *optional*, defaults to 64): clips per shard (the unit of work and of resume).
        batch_size (`int`, *optional*, defaults to 8): clips (or windows) per forward pass.
        num_workers (`int`, *optional*, defaults to 0): DataLoader workers decoding audio per process.
        chunk_length_s, stride_length_s (`float`, *optional*): label long audio in windows (one row each).
        return_embeddings (`bool`, *optional*): add the pooled embedding column.
        audio_column, path_column, id_column (`str`, *optional*): columns of dataset / manifest inputs
            (ids default to the path, else the row index).
        split (`str`, *optional*, defaults to `"train"`): split of a Hub dataset.
        dtype (`str`, *optional*, defaults to `"float32"`): the pipeline's dtype; fp32 keeps the rows
            identical whatever the number of processes.
        progress (`bool`, *optional*, defaults to `True`): show the bars, the aggregate line and the summary.

    Returns:
        :class:`~.progress.LabelSummary` of the whole output directory (on every process).
    """
    from ..data.threads import configure_threads
    from ..inference.pipeline import pipeline

    started = time.monotonic()
    state = process_state()
    shard_size = check_shard_size(shard_size)
    options = RunOptions(chunk_length_s, stride_length_s, return_embeddings, batch_size)
    opened = open_source(
        source, audio_column=audio_column, path_column=path_column, id_column=id_column, split=split
    )
    out = Path(output_dir)
    with state.main_process_first():
        check_or_write_run(out, run_description(opened, shard_size, model, options))
    pipe = pipeline(model, device=state.device, dtype=dtype, batch_size=batch_size)
    configure_threads(pipe.model, data_workers=num_workers)  # the cores left after the decoding workers
    done = finished_shards(out)
    bar = label_my_shards(pipe, opened, out, shard_size, options, done, num_workers, progress, state)
    state.wait_for_everyone()  # every process has written its final counters and shards
    bar.print_aggregate()
    summary = summarize(out, data_files(out), bar.shards_written(), time.monotonic() - started)
    if progress and state.is_main_process:
        print(summary.describe(), flush=True)
    return summary


def label_my_shards(
    pipe: Any,
    source: Source,
    out: Path,
    shard_size: int,
    options: RunOptions,
    done: set,
    num_workers: int,
    show: bool,
    state: Any,
) -> Progress:
    """Label and write this process's unfinished shards; return the (closed) progress counters."""
    p, n = state.process_index, state.num_processes
    columns = Columns.of(pipe, options.embeddings)
    mine = clips_owned(source.num_items, shard_size, p, n, done)
    bar = Progress(out, p, n, mine, clips_owned(source.num_items, shard_size, None, n, done), enabled=show)
    shards = partial(pending_shards, source, shard_size, p, n, frozenset(done))
    for decoded in decoded_shards(shards, pipe.sampling_rate, num_workers):
        rows, marker = label_shard(pipe, decoded, columns, options)
        write_shard(out, decoded.index, shard_table(rows, columns), marker)
        bar.update(marker["clips"], marker["audio_s"])
    bar.close()
    return bar


__all__ = ["label"]
