"""Linear-time attention kernels in plain PyTorch: chunkwise-parallel and recurrent forms.

Two recurrences cover the linear mechanisms of :mod:`.seq2seq` (state ``S`` of shape
``(head_dim_k, head_dim_v)`` per head, row-vector convention, ``o_t = q_t S_t``):

- decayed linear attention (retention, GLA): ``S_t = diag(a_t) S_{t-1} + k_t^T v_t``, where the decay
  ``a_t = exp(g_t)`` is a scalar per head (retention: constant; simple GLA) or one value per key
  dimension (GLA).
- gated delta rule (gated DeltaNet; Yang et al., 2025):
  ``S_t = a_t (I - beta_t k_t^T k_t) S_{t-1} + beta_t k_t^T v_t``.

The *recurrent* forms loop over frames: exact, O(1) memory in time, made for streaming and as the
reference. The *chunkwise* forms split time into chunks of ``chunk_size`` frames (64 by default):
inside a chunk everything is dense matrix products, across chunks a state is carried; the Python
loop runs over chunks (T / 64 iterations), never over frames. Decays are handled in log space:
cumulative sums of ``g`` inside a chunk, exponentiated only as differences that are ``<= 0`` (or,
for per-dimension GLA decays, around the chunk's middle frame with the per-step log decay clamped
so every exponent stays within fp32 range). All kernels take ``(batch, heads, frames, dim)``
tensors and return ``(output, final_state)`` so a stream can be continued chunk after chunk.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

#: lower bound on the per-frame log decay of per-dimension (GLA) gates: keeps
#: ``exp(+-chunk_size / 2 * bound)`` finite in fp32 for chunks of up to 128 frames.
GLA_MIN_LOG_DECAY = -1.0
MAX_CHUNK_SIZE = 128


def _pad_time(tensor: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad dim 2 (time) up to a multiple of ``multiple``; trailing zeros do not change a causal
    recurrence's earlier outputs (zero keys/values add nothing; zero log decay keeps the state)."""
    pad = (-tensor.shape[2]) % multiple
    if pad == 0:
        return tensor
    widths = [0, 0] * (tensor.dim() - 3) + [0, pad]
    return F.pad(tensor, widths)


def _chunks(tensor: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """``(batch, heads, N * C, ...)`` -> ``(batch, heads, N, C, ...)``."""
    return tensor.unflatten(2, (-1, chunk_size))


def _scan_states(
    chunk_decay: torch.Tensor, chunk_updates: torch.Tensor, initial_state: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Carry the state across chunks: ``S_n = decay_n * S_{n-1} + update_n``.

    Returns the state *entering* each chunk, ``(batch, heads, N, dk, dv)``, and the final state.
    """
    state = initial_state
    entering = []
    for index in range(chunk_updates.shape[2]):
        entering.append(state)
        state = chunk_decay[:, :, index] * state + chunk_updates[:, :, index]
    return torch.stack(entering, dim=2), state


def _check_chunk_size(chunk_size: int) -> None:
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be in [1, {MAX_CHUNK_SIZE}], got {chunk_size}.")


def chunk_linear_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    chunk_size: int = 64,
    initial_state: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunkwise-parallel decayed linear attention (RetNet retention, gated linear attention).

    Args:
        query, key (`torch.Tensor` of shape `(batch, heads, frames, dk)`), value (`(batch, heads,
            frames, dv)`): queries should already be scaled.
        log_decay (`torch.Tensor` of shape `(batch, heads, frames)` or `(batch, heads, frames, dk)`):
            ``g_t = log a_t <= 0``, a scalar per head and frame or one value per key dimension
            (then it must be ``>= GLA_MIN_LOG_DECAY``).
        chunk_size (`int`, *optional*, defaults to 64): frames per chunk.
        initial_state (`torch.Tensor` of shape `(batch, heads, dk, dv)`, *optional*): state before
            the first frame (zeros by default).

    Returns:
        `(output, final_state)`: `(batch, heads, frames, dv)` and `(batch, heads, dk, dv)`.
    """
    _check_chunk_size(chunk_size)
    batch, heads, frames, dk = query.shape
    dv = value.shape[-1]
    per_dim = log_decay.dim() == 4
    size = min(chunk_size, frames)
    query, key, value, log_decay = (
        _chunks(_pad_time(tensor, size), size) for tensor in (query, key, value, log_decay)
    )
    cumulative = log_decay.float().cumsum(dim=3).to(query.dtype)  # inclusive, within each chunk
    last = cumulative[:, :, :, -1:]  # log decay over the whole chunk
    causal = torch.ones(size, size, dtype=torch.bool, device=query.device).tril()
    if per_dim:
        # exp(c_i - c_j) per dimension, split around the chunk's middle frame m:
        # (q_i e^{c_i - c_m}) . (k_j e^{c_m - c_j}); both factors stay within e^{+-size/2 * bound}
        middle = cumulative[:, :, :, size // 2 : size // 2 + 1]
        scores = (query * (cumulative - middle).exp()) @ (key * (middle - cumulative).exp()).transpose(-1, -2)
        scores = scores.masked_fill(~causal, 0.0)
        query_decayed = query * cumulative.exp()
        key_decayed = key * (last - cumulative).exp()
        chunk_decay = last.exp().transpose(-1, -2)  # (batch, heads, N, dk, 1)
    else:
        differences = cumulative.unsqueeze(-1) - cumulative.unsqueeze(-2)
        decay_matrix = differences.masked_fill(~causal, float("-inf")).exp()
        scores = (query @ key.transpose(-1, -2)) * decay_matrix
        query_decayed = query * cumulative.exp().unsqueeze(-1)
        key_decayed = key * (last - cumulative).exp().unsqueeze(-1)
        chunk_decay = last.exp().unsqueeze(-1)  # (batch, heads, N, 1, 1)
    if initial_state is None:
        initial_state = query.new_zeros(batch, heads, dk, dv)
    entering, final_state = _scan_states(
        chunk_decay, key_decayed.transpose(-1, -2) @ value, initial_state.to(query.dtype)
    )
    output = scores @ value + query_decayed @ entering
    return output.flatten(2, 3)[:, :, :frames], final_state


def recurrent_linear_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    initial_state: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame-by-frame form of :func:`chunk_linear_attention` (same arguments and results)."""
    batch, heads, frames, dk = query.shape
    state = query.new_zeros(batch, heads, dk, value.shape[-1]) if initial_state is None else initial_state
    decay = log_decay.exp()
    decay = decay.unsqueeze(-1) if log_decay.dim() == 4 else decay[..., None, None]
    outputs = []
    for t in range(frames):
        state = decay[:, :, t] * state + key[:, :, t, :, None] * value[:, :, t, None, :]
        outputs.append((query[:, :, t, None, :] @ state).squeeze(-2))
    return torch.stack(outputs, dim=2), state


def _unit_lower_inverse(strict_lower: torch.Tensor) -> torch.Tensor:
    """``(I + A)^{-1}`` for strictly lower-triangular ``A`` (batched), by triangular solve."""
    size = strict_lower.shape[-1]
    identity = torch.eye(size, dtype=strict_lower.dtype, device=strict_lower.device)
    return torch.linalg.solve_triangular(
        strict_lower + identity, identity.expand_as(strict_lower), upper=False, unitriangular=True
    )


def chunk_gated_delta_rule(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    beta: torch.Tensor,
    chunk_size: int = 64,
    initial_state: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunkwise-parallel gated delta rule with the WY / UT representation.

    Inside a chunk (frames ``1..C``, cumulative log decay ``c_t``, entering state ``S_0``) the delta
    rule's corrections ``w_t = beta_t (v_t - a_t S_{t-1}^T k_t)`` satisfy the unit lower-triangular
    system ``(I + A) W = beta V - (beta K * e^c) S_0`` with
    ``A_tj = beta_t e^{c_t - c_j} k_t . k_j`` (``j < t``). With ``T = (I + A)^{-1}`` (the UT
    transform, one batched triangular solve for all chunks), ``U = T beta V`` and
    ``W_k = T (beta K * e^c)`` are computed for all chunks at once; the loop over chunks only does
    ``W = U - W_k S_0`` and the state update. Outputs are then
    ``o = (Q * e^c) S_0 + (Q K^T * D) W`` with ``D_ij = e^{c_i - c_j}`` (``j <= i``).
    Follows flash-linear-attention's ``chunk_gated_delta_rule`` reference.

    Args:
        query, key (`(batch, heads, frames, dk)`; keys L2-normalised, queries scaled), value
            (`(batch, heads, frames, dv)`), log_decay (`(batch, heads, frames)`, ``<= 0``), beta
            (`(batch, heads, frames)`, in ``(0, 1)``), chunk_size, initial_state: as in
            :func:`chunk_linear_attention`.

    Returns:
        `(output, final_state)`.
    """
    _check_chunk_size(chunk_size)
    batch, heads, frames, dk = query.shape
    dv = value.shape[-1]
    size = min(chunk_size, frames)
    query, key, value, log_decay, beta = (
        _chunks(_pad_time(tensor, size), size) for tensor in (query, key, value, log_decay, beta)
    )
    cumulative = log_decay.float().cumsum(dim=3).to(query.dtype)
    last = cumulative[:, :, :, -1:]
    causal = torch.ones(size, size, dtype=torch.bool, device=query.device).tril()
    differences = cumulative.unsqueeze(-1) - cumulative.unsqueeze(-2)
    decay_matrix = differences.masked_fill(~causal, float("-inf")).exp()
    key_beta = key * beta.unsqueeze(-1)
    strict = (key_beta @ key.transpose(-1, -2)) * decay_matrix
    transform = _unit_lower_inverse(strict.masked_fill(~causal.tril(-1), 0.0))
    pseudo_values = transform @ (value * beta.unsqueeze(-1))
    key_weights = transform @ (key_beta * cumulative.exp().unsqueeze(-1))
    key_decayed = (key * (last - cumulative).exp().unsqueeze(-1)).transpose(-1, -2)
    chunk_decay = last.exp().unsqueeze(-1)

    state = query.new_zeros(batch, heads, dk, dv) if initial_state is None else initial_state.to(query.dtype)
    entering, corrections = [], []
    for index in range(pseudo_values.shape[2]):
        entering.append(state)
        correction = pseudo_values[:, :, index] - key_weights[:, :, index] @ state
        corrections.append(correction)
        state = chunk_decay[:, :, index] * state + key_decayed[:, :, index] @ correction
    entering = torch.stack(entering, dim=2)
    corrections = torch.stack(corrections, dim=2)
    scores = (query @ key.transpose(-1, -2)) * decay_matrix
    output = scores @ corrections + (query * cumulative.exp().unsqueeze(-1)) @ entering
    return output.flatten(2, 3)[:, :, :frames], state


def recurrent_gated_delta_rule(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    beta: torch.Tensor,
    initial_state: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame-by-frame form of :func:`chunk_gated_delta_rule` (same arguments and results)."""
    batch, heads, frames, dk = query.shape
    state = query.new_zeros(batch, heads, dk, value.shape[-1]) if initial_state is None else initial_state
    decay = log_decay.exp()[..., None, None]
    outputs = []
    for t in range(frames):
        state = decay[:, :, t] * state
        key_t = key[:, :, t, :, None]  # (batch, heads, dk, 1)
        error = value[:, :, t, None, :] - key_t.transpose(-1, -2) @ state  # (batch, heads, 1, dv)
        state = state + beta[:, :, t, None, None] * key_t @ error
        outputs.append((query[:, :, t, None, :] @ state).squeeze(-2))
    return torch.stack(outputs, dim=2), state
