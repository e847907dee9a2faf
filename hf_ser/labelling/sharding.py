"""Deterministic sharding: which clips form shard ``k``, and which shards process ``p`` of ``N`` labels.

Shard ``k`` holds items ``k * shard_size`` to ``(k + 1) * shard_size - 1`` of the source's order (sorted
by id for finite sources). Process ``p`` of ``N`` takes the shards with ``k % N == p``. The shards depend
only on the source and ``shard_size``, never on ``N``: a run on one process and a run on eight write the
same shard files, and a resume with another process count finishes the same set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator, Optional

from .sources import Item


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` and its items, in source order."""

    index: int
    items: tuple[Item, ...]


def check_shard_size(shard_size: int) -> int:
    """Return ``shard_size`` when it is a positive integer, else raise naming the value."""
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer, got {shard_size!r}.")
    return shard_size


def num_shards(num_items: Optional[int], shard_size: int) -> Optional[int]:
    """How many shards ``num_items`` make (``None`` for a stream of unknown length)."""
    return None if num_items is None else math.ceil(num_items / shard_size)


def owner(shard_index: int, num_processes: int) -> int:
    """The process that labels shard ``shard_index``."""
    return shard_index % num_processes


def split_into_shards(items: Iterable[Item], shard_size: int) -> Iterator[Shard]:
    """Cut the item stream into consecutive shards of ``shard_size`` (the last may be shorter)."""
    batch: list[Item] = []
    index = 0
    for item in items:
        batch.append(item)
        if len(batch) == shard_size:
            yield Shard(index, tuple(batch))
            batch, index = [], index + 1
    if batch:
        yield Shard(index, tuple(batch))


def shards_to_label(
    items: Iterable[Item], shard_size: int, process_index: int, num_processes: int, done: set[int]
) -> Iterator[Shard]:
    """The shards process ``process_index`` owns and that are not in ``done``, in shard order."""
    for shard in split_into_shards(items, shard_size):
        if owner(shard.index, num_processes) == process_index and shard.index not in done:
            yield shard


__all__ = ["Shard", "check_shard_size", "num_shards", "owner", "shards_to_label", "split_into_shards"]
