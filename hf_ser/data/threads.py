"""The one thread policy of hf_ser: how many threads the recipes, the pipeline and data workers use.

Why: torch sizes its intra-op pool from the machine, numpy's BLAS does too, and each DataLoader worker
starts both again. On a shared 2-core machine, four training steps of the 46 k-parameter ResLSTM-SA took
45.9 s with those defaults and 1.1 s with ``OMP_NUM_THREADS=1``: the threads only wait for each other.

The policy, written once here:

- the cores a process may use are those of its CPU affinity (``os.sched_getaffinity``), shared among the
  processes of this machine (``LOCAL_WORLD_SIZE`` / ``WORLD_SIZE``, set by ``accelerate launch``) and the
  data workers (one core each);
- small models (under :data:`SMALL_MODEL_PARAMETERS`) run on one thread: their ops are too short to pay
  for waking a thread pool;
- inside a DataLoader worker everything runs on one thread (:func:`limit_worker_threads`);
- a thread count the user chose (``OMP_NUM_THREADS``) always wins.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import torch

SMALL_MODEL_PARAMETERS = 5_000_000
"""Below this many parameters a model runs on one intra-op thread."""

_worker_limited: list[Any] = []  # the threadpoolctl limiter of this worker process, once applied


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def processes_per_machine() -> int:
    """How many training processes share this machine (``accelerate launch`` sets these variables)."""
    for name in ("LOCAL_WORLD_SIZE", "WORLD_SIZE"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def user_threads() -> Optional[int]:
    """The thread count the user set with ``OMP_NUM_THREADS`` (``None`` when unset or invalid)."""
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def recommended_threads(num_parameters: Optional[int] = None, data_workers: int = 0) -> int:
    """Intra-op threads for one process: see the module docstring for the rule and why."""
    chosen = user_threads()
    if chosen is not None:
        return chosen
    if num_parameters is not None and num_parameters < SMALL_MODEL_PARAMETERS:
        return 1
    share = available_cores() // processes_per_machine()
    return max(1, share - max(0, data_workers))


def count_parameters(model: Any) -> Optional[int]:
    """Parameter count of a torch module (``None`` for anything else, e.g. an ONNX session)."""
    if not isinstance(model, torch.nn.Module):
        return None
    return sum(parameter.numel() for parameter in model.parameters())


def configure_threads(model: Any = None, data_workers: int = 0) -> int:
    """Apply :func:`recommended_threads` to torch and numpy's BLAS in this process; return the count."""
    threads = recommended_threads(count_parameters(model), data_workers)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    _limit_blas(threads)
    return threads


def limit_worker_threads(worker_id: int = 0) -> None:
    """One thread for torch and BLAS in a DataLoader worker (its ``worker_init_fn``, or called by the
    collator on its first batch there). A no-op in the main process and after the first call."""
    if _worker_limited or torch.utils.data.get_worker_info() is None:
        return
    torch.set_num_threads(1)
    _worker_limited.append(_limit_blas(1))


def _limit_blas(threads: int) -> Any:
    """Limit numpy's BLAS/OpenMP pools to ``threads`` (a no-op without ``threadpoolctl``)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=threads, user_api="blas")
