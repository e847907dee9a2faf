"""Length-sorted batching: group clips of similar length so that padding (wasted compute) is minimal.

The pipeline runs the batches returned by :func:`length_sorted_batches` and writes each result back to
the clip's original position, so callers always get results in input order. Because every hf_ser model
masks padding (see ``hf_ser.models.masks``), a clip's result does not depend on its batch neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence


def length_sorted_batches(
    lengths: Sequence[int], batch_size: int, *, equal_lengths: bool = False
) -> list[list[int]]:
    """Split item indices into batches of at most ``batch_size``, longest items first.

    Sorting is stable, so equal-length items keep their input order. Longest-first means that an
    out-of-memory batch, if any, happens at the start rather than after minutes of work.

    Args:
        lengths: length (e.g. samples) of each item.
        batch_size: maximum number of items per batch (>= 1).
        equal_lengths: only put items of identical length together (for models whose output changes
            with padding, e.g. a plain transformers group-norm model; hf_ser models need not).

    Returns:
        Lists of indices into ``lengths``; every index appears exactly once.

    Example:

    ```python
    >>> length_sorted_batches([5, 100, 7, 90, 6], batch_size=2)
    [[1, 3], [2, 4], [0]]
    >>> length_sorted_batches([5, 5, 7, 5], batch_size=2, equal_lengths=True)
    [[2], [0, 1], [3]]

    ```
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    if not equal_lengths:
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    batches: list[list[int]] = []
    for index in order:
        if batches and len(batches[-1]) < batch_size and lengths[batches[-1][0]] == lengths[index]:
            batches[-1].append(index)
        else:
            batches.append([index])
    return batches


__all__ = ["length_sorted_batches"]
