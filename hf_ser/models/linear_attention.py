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

#: lower bound on the per-frame log decay of per-dimension (GLA) gates: keeps
#: ``exp(+-chunk_size / 2 * bound)`` finite in fp32 for chunks of up to 128 frames.
GLA_MIN_LOG_DECAY = -1.0
MAX_CHUNK_SIZE = 128
#: chunks processed per call of a chunk kernel (see :func:`_run_segments`)
SEGMENT_CHUNKS = 8
#: default chunk length of the gated delta rule: its UT transform costs ``O(C^3)`` per chunk and its
#: sequential chunk loop ``O(D^2)`` per frame, so 32 is faster than 64 at head size 64 (measured on CPU)
DELTA_CHUNK_SIZE = 32


def _chunks(tensor: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """``(batch, heads, N * C, ...)`` -> ``(batch, heads, N, C, ...)``."""
    return tensor.unflatten(2, (-1, chunk_size))


def _scan_states(
    chunk_decay: torch.Tensor, chunk_updates: torch.Tensor, initial_state: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Carry the state across chunks: ``S_n = decay_n * S_{n-1} + update_n``.

    Returns the state *entering* each chunk, ``(batch, heads, N, dk, dv)``, and the final state.
    """
    count = chunk_updates.shape[2]
    entering = chunk_updates.new_empty((count,) + tuple(initial_state.shape))
    state = initial_state
    for index in range(count):
        entering[index] = state
        state = torch.addcmul(chunk_updates[:, :, index], chunk_decay[:, :, index], state)
    return entering.permute(1, 2, 0, 3, 4), state


def check_chunk_size(chunk_size: int) -> None:
    """Raise a `ValueError` unless ``1 <= chunk_size <= MAX_CHUNK_SIZE``."""
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be in [1, {MAX_CHUNK_SIZE}], got {chunk_size}.")


def _run_segments(kernel, tensors: list, chunk_size: int, initial_state: torch.Tensor):
    """Run a chunk kernel over time in segments of ``SEGMENT_CHUNKS`` chunks, carrying the state.

    The kernel's intermediates (decay matrices, per-chunk scores, UT transforms) are then a few MB
    whatever the input length, so they stay in the CPU cache and peak memory grows with the output
    only: on a 400 s input this halves the time of every linear kernel. A remainder shorter than a
    chunk runs as one shorter chunk (no padding copy). Tensors with a time axis of length 1 (a fixed
    decay) are passed to every call unchanged.
    """
    frames = tensors[0].shape[2]
    segment = chunk_size * SEGMENT_CHUNKS
    outputs, state, start = [], initial_state, 0
    while start < frames:
        stop = min(start + segment, frames)
        whole = (stop - start) // chunk_size * chunk_size or stop - start
        piece = slice(start, start + whole)
        output, state = kernel(
            *(t if t.shape[2] == 1 else t[:, :, piece] for t in tensors), min(chunk_size, whole), state
        )
        outputs.append(output)
        start += whole
    return (outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)), state


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
        log_decay (`torch.Tensor`): ``g_t = log a_t <= 0``, of shape `(batch, heads, frames)` (a scalar
            per head and frame), `(batch, heads, 1)` (a fixed decay per head, as in retention: the
            decay matrix is then computed once for all chunks) or `(batch, heads, frames, dk)` (one
            value per key dimension, as in GLA; must be ``>= GLA_MIN_LOG_DECAY``).
        chunk_size (`int`, *optional*, defaults to 64): frames per chunk.
        initial_state (`torch.Tensor` of shape `(batch, heads, dk, dv)`, *optional*): state before
            the first frame (zeros by default).

    Returns:
        `(output, final_state)`: `(batch, heads, frames, dv)` and `(batch, heads, dk, dv)`.
    """
    check_chunk_size(chunk_size)
    if initial_state is None:
        initial_state = query.new_zeros(query.shape[0], query.shape[1], query.shape[-1], value.shape[-1])
    tensors = [query, key, value, log_decay]
    initial_state = initial_state.to(query.dtype)
    return _run_segments(_linear_attention_chunks, tensors, chunk_size, initial_state)


def _linear_attention_chunks(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    size: int,
    initial_state: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`chunk_linear_attention` on a number of frames that is a multiple of ``size``."""
    query, key, value = (_chunks(tensor, size) for tensor in (query, key, value))
    causal = torch.ones(size, size, dtype=torch.bool, device=query.device).tril()
    if log_decay.dim() == 4:  # per key dimension
        # inclusive cumulative log decay inside each chunk, (batch, heads, N, C, dk)
        cumulative = _chunks(log_decay, size).float().cumsum(dim=3).to(query.dtype)
        last = cumulative[:, :, :, -1:]
        # exp(c_i - c_j) per dimension, split around the chunk's middle frame m:
        # (q_i e^{c_i - c_m}) . (k_j e^{c_m - c_j}); both factors stay within e^{+-size/2 * bound}
        middle = cumulative[:, :, :, size // 2 : size // 2 + 1]
        relative = (cumulative - middle).exp()
        query_tilde, key_tilde = query * relative, key / relative
        scores = (query_tilde @ key_tilde.transpose(-1, -2)).masked_fill(~causal, 0.0)
        query_decayed = query_tilde * middle.exp()  # q_i e^{c_i}
        key_decayed = key_tilde * (last - middle).exp()  # k_j e^{c_C - c_j}
        chunk_decay = last.exp().transpose(-1, -2)  # (batch, heads, N, dk, 1)
    else:
        if log_decay.shape[2] == 1:  # fixed decay: identical for every chunk
            steps = torch.arange(1, size + 1, device=query.device, dtype=query.dtype)
            cumulative = (log_decay * steps).unsqueeze(2)  # (batch, heads, 1, C)
        else:
            cumulative = _chunks(log_decay, size).float().cumsum(dim=3).to(query.dtype)
        last = cumulative[:, :, :, -1:]
        differences = cumulative.unsqueeze(-1) - cumulative.unsqueeze(-2)
        decay_matrix = differences.masked_fill(~causal, float("-inf")).exp()
        scores = (query @ key.transpose(-1, -2)) * decay_matrix
        query_decayed = query * cumulative.exp().unsqueeze(-1)
        key_decayed = key * (last - cumulative).exp().unsqueeze(-1)
        chunk_decay = last.exp().unsqueeze(-1).expand(-1, -1, query.shape[2], -1, -1)  # (b, h, N, 1, 1)
    entering, final_state = _scan_states(chunk_decay, key_decayed.transpose(-1, -2) @ value, initial_state)
    output = scores @ value + query_decayed @ entering
    return output.flatten(2, 3), final_state


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
    decay = log_decay.exp().expand(*query.shape[:3], *log_decay.shape[3:])  # fixed decays: (b, h, 1)
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
    chunk_size: int = DELTA_CHUNK_SIZE,
    initial_state: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunkwise-parallel gated delta rule with the WY / UT representation.

    Inside a chunk (frames ``1..C``, cumulative log decay ``c_t``, entering state ``S_0``) the delta
    rule's corrections ``w_t = beta_t (v_t - a_t S_{t-1}^T k_t)`` satisfy the unit lower-triangular
    system ``(I + A) W = beta V - (beta K * e^c) S_0`` with
    ``A_tj = beta_t e^{c_t - c_j} k_t . k_j`` (``j < t``). With ``T = (I + A)^{-1}`` (the UT
    transform, one batched triangular solve for all chunks), ``U = T beta V`` and
    ``W_k = T (beta K * e^c)`` are computed for all chunks at once; the loop over chunks only does
    ``W = U - W_k S_0``, the chunk's output ``o = (Q * e^c) S_0 + (Q K^T * D) W`` (with
    ``D_ij = e^{c_i - c_j}``, ``j <= i``) and the state update.
    Follows flash-linear-attention's ``chunk_gated_delta_rule`` reference.

    Args:
        query, key (`(batch, heads, frames, dk)`; keys L2-normalised, queries scaled), value
            (`(batch, heads, frames, dv)`), log_decay (`(batch, heads, frames)`, ``<= 0``), beta
            (`(batch, heads, frames)`, in ``(0, 1)``), initial_state: as in
            :func:`chunk_linear_attention`.
        chunk_size (`int`, *optional*, defaults to ``DELTA_CHUNK_SIZE`` = 32): frames per chunk.

    Returns:
        `(output, final_state)`.
    """
    check_chunk_size(chunk_size)
    if initial_state is None:
        initial_state = query.new_zeros(query.shape[0], query.shape[1], query.shape[-1], value.shape[-1])
    tensors = [query, key, value, log_decay, beta]
    return _run_segments(_delta_rule_chunks, tensors, chunk_size, initial_state.to(query.dtype))


def _delta_rule_chunks(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    beta: torch.Tensor,
    size: int,
    initial_state: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`chunk_gated_delta_rule` on a number of frames that is a multiple of ``size``.

    Batch and heads are flattened into one axis so every product is a plain batched matmul; the
    chunk loop computes each chunk's output as soon as its entering state is known (no per-chunk
    copies of the state) and writes it into a ``(chunks, batch * heads, size, dv)`` buffer whose
    per-chunk slices are contiguous.
    """
    batch, heads, frames, key_dim = query.shape
    value_dim, count = value.shape[-1], frames // size

    def per_chunk(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.reshape(batch * heads, count, size, *tensor.shape[3:])

    query, key, value, log_decay, beta = map(per_chunk, (query, key, value, log_decay, beta))
    cumulative = log_decay.float().cumsum(dim=2).to(query.dtype)  # (batch * heads, N, C)
    last = cumulative[..., -1:]
    causal = torch.ones(size, size, dtype=torch.bool, device=query.device).tril()
    differences = cumulative.unsqueeze(-1) - cumulative.unsqueeze(-2)
    decay_matrix = differences.masked_fill_(~causal, float("-inf")).exp_()  # D_ij = e^{c_i - c_j}
    key_beta = key * beta.unsqueeze(-1)
    strict = ((key_beta @ key.transpose(-1, -2)) * decay_matrix).masked_fill(~causal.tril(-1), 0.0)
    transform = _unit_lower_inverse(strict)
    pseudo_values = transform @ (value * beta.unsqueeze(-1))  # U
    key_weights = transform @ (key_beta * cumulative.exp().unsqueeze(-1))  # W_k
    key_decayed = (key * (last - cumulative).exp().unsqueeze(-1)).transpose(-1, -2).contiguous()
    query_decayed = query * cumulative.exp().unsqueeze(-1)
    scores = (query @ key.transpose(-1, -2)) * decay_matrix
    chunk_decay = last.exp().unsqueeze(-1)  # (batch * heads, N, 1, 1)

    state = initial_state.reshape(batch * heads, key_dim, value_dim)
    # `out=` (no per-chunk allocation) is not differentiable: when training, collect and stack
    tracked = (query_decayed, scores, pseudo_values, key_weights, key_decayed, chunk_decay, state)
    differentiable = torch.is_grad_enabled() and any(tensor.requires_grad for tensor in tracked)
    output = None if differentiable else value.new_empty(count, batch * heads, size, value_dim)
    pieces = []
    for index in range(count):
        correction = torch.baddbmm(pseudo_values[:, index], key_weights[:, index], state, alpha=-1)
        inter_chunk = torch.bmm(query_decayed[:, index], state)
        if output is None:
            pieces.append(torch.baddbmm(inter_chunk, scores[:, index], correction))
        else:
            torch.baddbmm(inter_chunk, scores[:, index], correction, out=output[index])
        state = torch.baddbmm(state * chunk_decay[:, index], key_decayed[:, index], correction)
    if output is None:
        output = torch.stack(pieces)
    output = output.view(count, batch, heads, size, value_dim).permute(1, 2, 0, 3, 4)
    return output.reshape(batch, heads, frames, value_dim), state.view(batch, heads, key_dim, value_dim)


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
