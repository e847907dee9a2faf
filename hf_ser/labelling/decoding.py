"""Decoding in `torch.utils.data.DataLoader` workers: each worker decodes whole shards.

:class:`ShardDecoder` is an `IterableDataset` whose elements are decoded shards
(:class:`DecodedShard`). With ``num_workers=W`` worker ``w`` decodes the ``w``-th, ``(w + W)``-th, ...
of this process's pending shards, so decoding overlaps the model; with ``num_workers=0`` (the default:
small machines have no spare core) the process decodes in line. A file that cannot be decoded becomes
an error string for its row, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch

from ..data.audio import decode_example_audio
from ..data.threads import limit_worker_threads
from .sharding import Shard
from .sources import Item


@dataclass
class DecodedClip:
    """One item after decoding: the float32 mono ``audio`` at the model's rate, or the ``error``."""

    item: Item
    audio: Optional[np.ndarray] = None
    error: Optional[str] = None
    sampling_rate: int = 16000

    @property
    def seconds(self) -> float:
        """Length of the decoded audio in seconds (0 for a clip that failed to decode)."""
        return 0.0 if self.audio is None else self.audio.shape[0] / self.sampling_rate


@dataclass
class DecodedShard:
    """A shard's clips, decoded, in shard order."""

    index: int
    clips: list[DecodedClip]


def decode_item(item: Item, sampling_rate: int) -> DecodedClip:
    """Decode one item; any failure (unreadable, empty, NaN, ...) is kept as ``error`` text."""
    try:
        audio = decode_example_audio(item.value, sampling_rate)
    except Exception as error:  # noqa: BLE001 - any decoder failure becomes the row's reason
        return DecodedClip(item, error=f"{type(error).__name__}: {error}", sampling_rate=sampling_rate)
    return DecodedClip(item, audio=audio, sampling_rate=sampling_rate)


def decode_shard(shard: Shard, sampling_rate: int) -> DecodedShard:
    """Decode every item of ``shard``."""
    return DecodedShard(shard.index, [decode_item(item, sampling_rate) for item in shard.items])


class ShardDecoder(torch.utils.data.IterableDataset):
    """Decoded shards from ``shards`` (a zero-argument callable returning the pending shards, called
    in every worker so that a stream is re-opened there rather than shared)."""

    def __init__(self, shards: Callable[[], Iterator[Shard]], sampling_rate: int) -> None:
        super().__init__()
        self.shards = shards
        self.sampling_rate = sampling_rate

    def __iter__(self) -> Iterator[DecodedShard]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        for position, shard in enumerate(self.shards()):
            if position % workers == worker:
                yield decode_shard(shard, self.sampling_rate)


def decoded_shards(
    shards: Callable[[], Iterator[Shard]], sampling_rate: int, num_workers: int = 0
) -> Iterator[DecodedShard]:
    """Iterate the decoded shards through a `DataLoader` with ``num_workers`` decoding workers."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an integer >= 0, got {num_workers!r}.")
    loader = torch.utils.data.DataLoader(
        ShardDecoder(shards, sampling_rate),
        batch_size=None,
        num_workers=num_workers,
        collate_fn=_identity,
        prefetch_factor=2 if num_workers else None,
        worker_init_fn=limit_worker_threads,  # one thread per decoding worker (hf_ser.data.threads)
    )
    return iter(loader)


def _identity(value: Any) -> Any:
    """Collate function that keeps a decoded shard as it is (module level, so workers can pickle it)."""
    return value


__all__ = ["DecodedClip", "DecodedShard", "decode_item", "decoded_shards"]
