"""Optional fast path: flash-linear-attention's Triton kernels for LightNet, GSA and KDA on CUDA.

The reference kernels of :mod:`.linear_attention` run everywhere (CPU included). When the
``flash-linear-attention`` package (``fla``) imports and the inputs are CUDA tensors, the chunkwise
forms of ``lightnet`` (``fla.ops.gla.chunk_gla`` with LightNet's gate), ``gsa``
(``fla.ops.gsa.chunk_gsa``) and ``kda`` (``fla.ops.kda.chunk_kda``) go through fla's fused kernels
instead, with the same inputs, outputs and states (``tests/test_seq2seq_gated.py`` compares both where
fla and a GPU are present). ``fla`` is never a dependency: it is imported with ``importlib`` when first
needed (no import statement, so transformers' ``trust_remote_code`` import check does not ask for it),
and CPU tensors always take the reference path. Layouts: our kernels take ``(batch, heads,
frames, dim)``, fla's ``(batch, frames, heads, dim)``; queries arrive already scaled (``scale=1``).
"""

from __future__ import annotations

import functools
import importlib
from typing import Optional

import torch


@functools.cache
def fla_available() -> bool:
    """Whether ``fla`` (flash-linear-attention) imports; checked once."""
    try:
        importlib.import_module("fla.ops")
    except (ImportError, RuntimeError, OSError):
        return False
    return True


def use_fla(tensor: torch.Tensor) -> bool:
    """Whether a kernel on ``tensor`` should take fla's path: a CUDA tensor and ``fla`` importable."""
    return tensor.is_cuda and fla_available()


def _fla_op(module: str, name: str):
    """fla's kernel ``fla.ops.<module>.<name>``, imported when first used: fla is optional, and an import
    statement would make transformers' remote-code import check demand it from every user."""
    return getattr(importlib.import_module(f"fla.ops.{module}"), name)


def _to_fla(*tensors: torch.Tensor) -> list[torch.Tensor]:
    """``(batch, heads, frames, dim)`` -> fla's ``(batch, frames, heads, dim)``."""
    return [tensor.transpose(1, 2).contiguous() for tensor in tensors]


def _from_fla(output: torch.Tensor) -> torch.Tensor:
    return output.transpose(1, 2)


def fla_gla(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    initial_state: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`~.linear_attention.chunk_linear_attention` (per-dimension decays) through ``fla.ops.gla``."""
    chunk_gla = _fla_op("gla", "chunk_gla")
    query, key, value, log_decay = _to_fla(query, key, value, log_decay)
    output, state = chunk_gla(
        query, key, value, log_decay, scale=1.0, initial_state=initial_state, output_final_state=True
    )
    return _from_fla(output), state


def fla_gsa(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    initial_state: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """:func:`~.linear_attention.chunk_gated_slot_attention` through ``fla.ops.gsa.chunk_gsa``."""
    chunk_gsa = _fla_op("gsa", "chunk_gsa")
    query, key, value, log_decay = _to_fla(query, key, value, log_decay)
    slots = -torch.expm1(log_decay)
    output, state = chunk_gsa(
        query, key, value, slots, log_decay, scale=1.0, initial_state=initial_state, output_final_state=True
    )
    return _from_fla(output), tuple(state)


def fla_kda(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    beta: torch.Tensor,
    initial_state: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`~.linear_attention.chunk_gated_delta_rule` with per-dimension decays through ``fla.ops.kda``."""
    chunk_kda = _fla_op("kda", "chunk_kda")
    query, key, value, log_decay = _to_fla(query, key, value, log_decay)
    output, state = chunk_kda(
        query,
        key,
        value,
        log_decay,
        beta.transpose(1, 2).contiguous(),
        scale=1.0,
        initial_state=initial_state,
        output_final_state=True,
    )
    return _from_fla(output), state
