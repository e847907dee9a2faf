"""Linear-time attention kernels in plain PyTorch: chunkwise-parallel and recurrent forms.

Two recurrences cover the linear mechanisms of :mod:`.seq2seq` (state ``S`` of shape
``(head_dim_k, head_dim_v)`` per head, row-vector convention, ``o_t = q_t S_t``):

- decayed linear attention (retention, GLA): ``S_t = diag(a_t) S_{t-1} + k_t^T v_t``, where the decay
  ``a_t = exp(g_t)`` is a scalar per head (retention: constant; simple GLA) or one value per key
  dimension (GLA).
- gated delta rule (gated DeltaNet; Yang et al., 2025):
  ``S_t = a_t (I - beta_t k_t^T k_t) S_{t-1} + beta_t k_t^T v_t``, with ``a_t`` a scalar per head, or
  ``S_t = (I - beta_t k_t^T k_t) diag(a_t) S_{t-1} + beta_t k_t^T v_t`` with one decay per key
  dimension (Kimi delta attention, KDA; Kimi Team, 2025, "Kimi Linear").

A third recurrence decays the state along its *value* dimension, ``S_t = S_{t-1} diag(a_t) + k_t^T v_t``
(:func:`chunk_value_decay_attention`): the key -> slot pass of gated slot attention (GSA; Zhang et al.,
2024), whose slot -> value pass is GLA (:func:`chunk_gated_slot_attention` chains the two).

The *recurrent* forms loop over frames: exact, O(1) memory in time, made for streaming and as the
reference. The *chunkwise* forms split time into chunks of ``chunk_size`` frames (64 by default):
inside a chunk everything is dense matrix products, across chunks a state is carried; the Python
loop runs over chunks (T / 64 iterations), never over frames. Decays are handled in log space:
cumulative sums of ``g`` inside a chunk, exponentiated only as differences that are ``<= 0``. Per-dimension
decays need ``sum_d q_id k_jd e^{c_id - c_jd}`` (:func:`_gated_products`): in a chunk whose cumulative
log decay stays within ``FACTORISED_MAX_EXPONENT`` of its middle frame it is one matrix product around
that frame (every exponent within fp32 range); chunks with stronger decays (LightNet's early frames,
strong KDA gates) take a sub-blocked form that exponentiates only differences that are ``<= 0``
(:func:`_stable_gated_products`), so no decay is ever clamped by a kernel. All kernels take
``(batch, heads, frames, dim)`` tensors and return ``(output, final_state)`` so a stream can be
continued chunk after chunk.
"""

from __future__ import annotations

from typing import Optional

import torch

#: lower bound on the per-frame log decay of GLA's gates (a choice of the GLA mixer, kept from when the
#: kernel needed it; the kernel itself now takes any decay)
GLA_MIN_LOG_DECAY = -1.0
#: largest ``|c_i - c_m|`` (cumulative log decay vs the chunk's middle frame) of the one-product form of
#: per-dimension decays; ``e^{2 * 40}`` is still finite in fp32. Stronger chunks take the stable form.
FACTORISED_MAX_EXPONENT = 40.0
MAX_CHUNK_SIZE = 128
#: chunks processed per call of a chunk kernel (see :func:`_run_segments`)
SEGMENT_CHUNKS = 8
#: default chunk length of the gated delta rule: its UT transform costs ``O(C^3)`` per chunk and its
#: sequential chunk loop ``O(D^2)`` per frame, so 32 is faster than 64 at head size 64 (measured on CPU)
DELTA_CHUNK_SIZE = 32
#: sub-block length of the stable per-dimension decay products (:func:`_stable_gated_products`)
STABLE_BLOCK = 8


def _chunks(tensor: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """``(batch, heads, N * C, ...)`` -> ``(batch, heads, N, C, ...)``."""
    return tensor.unflatten(2, (-1, chunk_size))


def _cumulative(log_decay: torch.Tensor, dim: int, dtype: torch.dtype) -> torch.Tensor:
    """Cumulative log decay along ``dim``, summed in at least fp32 (half precision drifts), as ``dtype``."""
    return log_decay.cumsum(dim=dim, dtype=torch.promote_types(log_decay.dtype, torch.float32)).to(dtype)


def _decay_weights(cumulative: torch.Tensor, diagonal: int = 0) -> torch.Tensor:
    """``W_ijd = exp(c_id - c_jd)`` for ``j <= i + diagonal`` (0 elsewhere), ``(..., C, C, d)``.

    Masked before exponentiating, so every exponent is ``<= 0``: exact for any decay strength.
    """
    size = cumulative.shape[-2]
    keep = torch.ones(size, size, dtype=torch.bool, device=cumulative.device).tril(diagonal)
    differences = cumulative.unsqueeze(-2) - cumulative.unsqueeze(-3)
    return differences.masked_fill(~keep.unsqueeze(-1), float("-inf")).exp()


def _gated_products(
    left: torch.Tensor, right: torch.Tensor, cumulative: torch.Tensor, diagonal: int, strong: torch.Tensor
) -> torch.Tensor:
    """``P_ij = sum_d left_id right_jd exp(c_id - c_jd)`` for ``j <= i + diagonal``, 0 elsewhere.

    The intra-chunk scores of per-dimension decays (GLA, LightNet, KDA), for tensors shaped
    ``(..., C, d)``. ``strong`` (shape ``(...)``, from :func:`_strong_chunks`) marks the chunks whose
    decays are too strong to factorise: they take :func:`_stable_gated_products`, the others the single
    matrix product of :func:`_factorised_products`.
    """
    if not strong.any():
        return _factorised_products(left, right, cumulative, diagonal)
    if strong.all():
        return _stable_gated_products(left, right, cumulative, diagonal)
    weak = ~strong
    output = left.new_empty(*left.shape[:-1], left.shape[-2])
    output[weak] = _factorised_products(left[weak], right[weak], cumulative[weak], diagonal)
    output[strong] = _stable_gated_products(left[strong], right[strong], cumulative[strong], diagonal)
    return output


def _strong_chunks(cumulative: torch.Tensor) -> torch.Tensor:
    """Chunks (shape ``(...)``) of ``(..., C, d)`` cumulative log decays too strong to factorise: some
    ``|c_i - c_m|`` (``m`` the middle frame) above ``FACTORISED_MAX_EXPONENT``."""
    middle = cumulative[..., cumulative.shape[-2] // 2, :]
    spread = torch.maximum(cumulative[..., 0, :] - middle, middle - cumulative[..., -1, :])
    return spread.amax(dim=-1) > FACTORISED_MAX_EXPONENT


def _factorised_products(
    left: torch.Tensor, right: torch.Tensor, cumulative: torch.Tensor, diagonal: int
) -> torch.Tensor:
    """:func:`_gated_products` as one matrix product of ``left e^{c - c_m}`` and ``right e^{c_m - c}``
    around the middle frame ``m``: exact while every ``|c_i - c_m| <= FACTORISED_MAX_EXPONENT`` (then no
    factor, nor any product of two, leaves fp32's range).
    """
    size = left.shape[-2]
    keep = torch.ones(size, size, dtype=torch.bool, device=left.device).tril(diagonal)
    middle = cumulative[..., size // 2 : size // 2 + 1, :]
    relative = (cumulative - middle).exp()
    return ((left * relative) @ (right / relative).transpose(-1, -2)).masked_fill(~keep, 0.0)


def _exact_gated_products(
    left: torch.Tensor, right: torch.Tensor, cumulative: torch.Tensor, diagonal: int
) -> torch.Tensor:
    """:func:`_gated_products` through the ``(C, C, d)`` weights of :func:`_decay_weights` (any decay)."""
    weighted = _decay_weights(cumulative, diagonal) * right.unsqueeze(-3)  # (..., C_i, C_j, d)
    return (weighted @ left.unsqueeze(-1)).squeeze(-1)


def _stable_gated_products(
    left: torch.Tensor, right: torch.Tensor, cumulative: torch.Tensor, diagonal: int
) -> torch.Tensor:
    """:func:`_gated_products` for decays of any strength, in sub-blocks of ``STABLE_BLOCK`` frames.

    Blocks on the diagonal are exact (:func:`_exact_gated_products`). Below it, frame ``i`` of block
    ``a`` and an earlier frame ``j`` are related through the frame ``r`` just before block ``a``:
    ``e^{c_i - c_j} = e^{c_i - c_r} e^{c_r - c_j}``, both factors ``<= 1`` (``c`` never increases), so one
    matrix product per block is exact up to underflow of products below fp32's range (the secondary
    chunking of flash-linear-attention's GLA kernel).
    """
    size, block = left.shape[-2], STABLE_BLOCK
    if size <= block or size % block:
        return _exact_gated_products(left, right, cumulative, diagonal)
    count = size // block
    blocks = [tensor.unflatten(-2, (count, block)) for tensor in (left, right, cumulative)]
    reference_index = torch.arange(count, device=left.device) * block - 1  # frame r before each block
    reference = cumulative[..., reference_index.clamp(min=0), :]  # c_r, (..., n, d)
    left_scaled = blocks[0] * (blocks[2] - reference.unsqueeze(-2)).exp()  # (..., n, s, d)
    earlier = torch.arange(size, device=left.device) <= reference_index.unsqueeze(-1)  # (n, C): j <= r
    exponent = reference.unsqueeze(-2) - cumulative.unsqueeze(-3)  # (..., n, C, d)
    right_scaled = right.unsqueeze(-3) * exponent.masked_fill(~earlier.unsqueeze(-1), -torch.inf).exp()
    products = left_scaled @ right_scaled.transpose(-1, -2)  # (..., n, s, C), zero from block a on
    within = products.unflatten(-1, (count, block)).diagonal(dim1=-4, dim2=-2)  # (..., s, s, n) view
    within += _exact_gated_products(*blocks, diagonal).movedim(-3, -1)
    return products.flatten(-3, -2)


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
            value per key dimension, as in GLA and LightNet; any strength, see the module docstring).
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
        cumulative = _cumulative(_chunks(log_decay, size), 3, query.dtype)
        last = cumulative[:, :, :, -1:]
        scores = _gated_products(query, key, cumulative, 0, _strong_chunks(cumulative))
        query_decayed = query * cumulative.exp()  # q_i e^{c_i}
        key_decayed = key * (last - cumulative).exp()  # k_j e^{c_C - c_j}
        chunk_decay = last.exp().transpose(-1, -2)  # (batch, heads, N, dk, 1)
    else:
        if log_decay.shape[2] == 1:  # fixed decay: identical for every chunk
            steps = torch.arange(1, size + 1, device=query.device, dtype=query.dtype)
            cumulative = (log_decay * steps).unsqueeze(2)  # (batch, heads, 1, C)
        else:
            cumulative = _cumulative(_chunks(log_decay, size), 3, query.dtype)
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
    Follows flash-linear-attention's ``chunk_gated_delta_rule`` reference. With one decay per key
    dimension (KDA, which applies ``diag(a_t)`` before the correction) the same system holds with
    ``A_tj = beta_t sum_d k_td k_jd e^{c_td - c_jd}``, ``D`` per dimension and a row-wise state decay.

    Args:
        query, key (`(batch, heads, frames, dk)`; keys L2-normalised, queries scaled), value
            (`(batch, heads, frames, dv)`), log_decay (`(batch, heads, frames)`, ``<= 0``: gated
            DeltaNet; or `(batch, heads, frames, dk)`: one decay per key dimension, KDA), beta
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


def _delta_rule_terms(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    beta: torch.Tensor,
) -> tuple[torch.Tensor, ...]:
    """Per-chunk terms of the delta rule, all chunks at once (tensors shaped ``(B, N, C, ...)``).

    Returns ``(Q e^c, scores, U, W_k, (K e^{c_C - c})^T, e^{c_C})`` of :func:`chunk_gated_delta_rule`;
    a 4-d ``log_decay`` (one decay per key dimension, KDA) makes every ``e^{c_i - c_j}`` per dimension
    (:func:`_gated_products`), a 3-d one (a scalar per head) a plain ``(C, C)`` decay matrix.
    """
    per_dim = log_decay.dim() == 4
    cumulative = _cumulative(log_decay, 2, query.dtype)  # (B, N, C[, dk])
    if per_dim:
        strong = _strong_chunks(cumulative)
        strict = _gated_products(key * beta.unsqueeze(-1), key, cumulative, -1, strong)
        scores = _gated_products(query, key, cumulative, 0, strong)
    else:
        size = query.shape[2]
        causal = torch.ones(size, size, dtype=torch.bool, device=query.device).tril()
        differences = cumulative.unsqueeze(-1) - cumulative.unsqueeze(-2)
        decay_matrix = differences.masked_fill_(~causal, float("-inf")).exp_()  # D_ij = e^{c_i - c_j}
        strict = (((key * beta.unsqueeze(-1)) @ key.transpose(-1, -2)) * decay_matrix).tril(-1)
        scores = (query @ key.transpose(-1, -2)) * decay_matrix
        cumulative = cumulative.unsqueeze(-1)
    last = cumulative[..., -1:, :]
    transform = _unit_lower_inverse(strict)
    pseudo_values = transform @ (value * beta.unsqueeze(-1))  # U
    key_weights = transform @ (key * beta.unsqueeze(-1) * cumulative.exp())  # W_k
    key_decayed = (key * (last - cumulative).exp()).transpose(-1, -2).contiguous()
    chunk_decay = last.exp().transpose(-1, -2)  # (B, N, dk or 1, 1)
    return query * cumulative.exp(), scores, pseudo_values, key_weights, key_decayed, chunk_decay


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

    terms = _delta_rule_terms(*map(per_chunk, (query, key, value, log_decay, beta)))
    query_decayed, scores, pseudo_values, key_weights, key_decayed, chunk_decay = terms
    state = initial_state.reshape(batch * heads, key_dim, value_dim)
    # `out=` (no per-chunk allocation) is not differentiable: when training, collect and stack
    differentiable = torch.is_grad_enabled() and any(t.requires_grad for t in terms + (state,))
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
    decay = log_decay.exp().unsqueeze(-1)  # (batch, heads, frames, dk or 1, 1)
    decay = decay if log_decay.dim() == 4 else decay.unsqueeze(-1)
    outputs = []
    for t in range(frames):
        state = decay[:, :, t] * state  # KDA: diag(a_t) S_{t-1}, before the delta correction
        key_t = key[:, :, t, :, None]  # (batch, heads, dk, 1)
        error = value[:, :, t, None, :] - key_t.transpose(-1, -2) @ state  # (batch, heads, 1, dv)
        state = state + beta[:, :, t, None, None] * key_t @ error
        outputs.append((query[:, :, t, None, :] @ state).squeeze(-2))
    return torch.stack(outputs, dim=2), state


def chunk_value_decay_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    chunk_size: int = 64,
    initial_state: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chunkwise linear attention whose state decays along the *value* dimension.

    ``S_t = S_{t-1} diag(a_t) + k_t^T v_t``, ``o_t = q_t S_t``: the decay acts on the output columns,
    not inside the ``q . k`` contraction, so it does not reduce to :func:`chunk_linear_attention` (GSA's
    key -> slot pass, where the "values" are the slot write weights; Zhang et al., 2024).

    Args:
        query, key (`(batch, heads, frames, dk)`), value (`(batch, heads, frames, dv)`),
        log_decay (`(batch, heads, frames, dv)`, ``<= 0``): one decay per value dimension.
        chunk_size, initial_state (`(batch, heads, dk, dv)`): as in :func:`chunk_linear_attention`.

    Returns:
        `(output, final_state)`: `(batch, heads, frames, dv)` and `(batch, heads, dk, dv)`.
    """
    check_chunk_size(chunk_size)
    if initial_state is None:
        initial_state = query.new_zeros(query.shape[0], query.shape[1], query.shape[-1], value.shape[-1])
    tensors = [query, key, value, log_decay]
    return _run_segments(_value_decay_chunks, tensors, chunk_size, initial_state.to(query.dtype))


def _value_decay_chunks(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    size: int,
    initial_state: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`chunk_value_decay_attention` on a multiple of ``size`` frames.

    Intra-chunk ``o_i = sum_{j <= i} (q_i . k_j) (v_j * e^{c_i - c_j})``: one product
    ``(A (V e^{c_m - c})) e^{c - c_m}`` around the middle frame ``m`` unless a chunk of the segment is too
    strong for it (:func:`_strong_chunks`), then the exact ``(C, C, dv)`` weights; inter-chunk
    ``(q_i S_0) e^{c_i}``.
    """
    query, key, value = (_chunks(tensor, size) for tensor in (query, key, value))
    cumulative = _cumulative(_chunks(log_decay, size), 3, query.dtype)  # (b, h, N, C, dv)
    last = cumulative[:, :, :, -1:]
    causal = torch.ones(size, size, dtype=torch.bool, device=query.device).tril()
    attention = (query @ key.transpose(-1, -2)).masked_fill(~causal, 0.0)
    if not _strong_chunks(cumulative).any():
        middle = cumulative[:, :, :, size // 2 : size // 2 + 1]
        intra = (attention @ (value * (middle - cumulative).exp())) * (cumulative - middle).exp()
    else:
        weights = _decay_weights(cumulative)
        intra = (attention.unsqueeze(-1) * weights * value.unsqueeze(-3)).sum(-2)
    updates = key.transpose(-1, -2) @ (value * (last - cumulative).exp())
    entering, final_state = _scan_states(last.exp(), updates, initial_state)
    output = intra + (query @ entering) * cumulative.exp()
    return output.flatten(2, 3), final_state


def recurrent_value_decay_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    initial_state: Optional[torch.Tensor] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame-by-frame form of :func:`chunk_value_decay_attention` (same arguments and results)."""
    batch, heads, frames, dk = query.shape
    state = query.new_zeros(batch, heads, dk, value.shape[-1]) if initial_state is None else initial_state
    decay = log_decay.exp().unsqueeze(-2)  # (batch, heads, frames, 1, dv): scales the state's columns
    outputs = []
    for t in range(frames):
        state = decay[:, :, t] * state + key[:, :, t, :, None] * value[:, :, t, None, :]
        outputs.append((query[:, :, t, None, :] @ state).squeeze(-2))
    return torch.stack(outputs, dim=2), state


def _slot_attention(
    passes: tuple,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    initial_state: Optional[tuple[torch.Tensor, torch.Tensor]],
    **options,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Gated slot attention from its two passes ``(key -> slot kernel, slot -> value kernel)``."""
    key_pass, value_pass = passes
    key_state, value_state = (None, None) if initial_state is None else initial_state
    slots = -torch.expm1(log_decay)  # write weights 1 - a_t of the m slots
    slot_scores, key_state = key_pass(query, key, slots, log_decay, initial_state=key_state, **options)
    weights = slot_scores.softmax(dim=-1)
    output, value_state = value_pass(weights, slots, value, log_decay, initial_state=value_state, **options)
    return output, (key_state, value_state)


def chunk_gated_slot_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    chunk_size: int = 64,
    initial_state: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Gated slot attention (GSA; Zhang et al., 2024), chunkwise: a bounded memory of ``m`` slots.

    Slot keys and values are written with forget gates ``a_t`` (one per slot) and write weights
    ``1 - a_t``: ``K~_t = diag(a_t) K~_{t-1} + (1 - a_t)^T k_t``, ``V~_t = diag(a_t) V~_{t-1} +
    (1 - a_t)^T v_t``, read as ``o_t = softmax(q_t K~_t^T) V~_t``. Two passes (the GLA form of the paper):
    keys -> slots (:func:`chunk_value_decay_attention`, state ``K~^T`` of shape ``(dk, m)``), a softmax
    over the slots, then slots -> values (:func:`chunk_linear_attention` with the per-slot decay on its
    key dimension, state ``V~`` of shape ``(m, dv)``).

    Args:
        query, key (`(batch, heads, frames, dk)`), value (`(batch, heads, frames, dv)`).
        log_decay (`(batch, heads, frames, m)`): ``log a_t <= 0`` per slot.
        chunk_size (`int`, *optional*, defaults to 64): frames per chunk.
        initial_state (`tuple`, *optional*): ``(key_state (batch, heads, dk, m), value_state (batch,
            heads, m, dv))``, zeros by default.

    Returns:
        `(output, (key_state, value_state))`.
    """
    passes = (chunk_value_decay_attention, chunk_linear_attention)
    return _slot_attention(passes, query, key, value, log_decay, initial_state, chunk_size=chunk_size)


def recurrent_gated_slot_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    log_decay: torch.Tensor,
    initial_state: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Frame-by-frame form of :func:`chunk_gated_slot_attention` (same arguments and results)."""
    passes = (recurrent_value_decay_attention, recurrent_linear_attention)
    return _slot_attention(passes, query, key, value, log_decay, initial_state)


def lightnet_gate(
    features: torch.Tensor, initial_normalizer: Optional[torch.Tensor] = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LightNet's additive decay (Qin et al., 2024, "You Only Scan Once"): keys and GLA log decays.

    With the cumulative normaliser ``z_t = log sum_{s <= t} exp(f_s)`` (log-sum-exp over time, per
    dimension), the key is ``k_t = exp(f_t - z_t)`` and the decay ``a_t = exp(z_{t-1} - z_t)``, so
    ``S_t = a_t S_{t-1} + k_t^T v_t = sum_{s <= t} softmax_s(f)^T v_s``: a running softmax-weighted sum,
    the decay coming from the growing normaliser instead of a multiplicative gate. The result feeds
    :func:`chunk_linear_attention` / :func:`recurrent_linear_attention` (LightNet *is* GLA with this
    gate). Frames with ``f = -inf`` (padding held in a stream) write nothing and do not decay.

    Args:
        features (`torch.Tensor` of shape `(batch, heads, frames, dk)`): ``f_t``.
        initial_normalizer (`torch.Tensor` of shape `(batch, heads, dk)`, *optional*): ``z`` before the
            first frame (``-inf``, nothing seen, by default).

    Returns:
        `(key, log_decay, final_normalizer)`.
    """
    normalizer = features.logcumsumexp(dim=2)
    if initial_normalizer is None:  # one pass from an empty state: the first frame needs no decay
        previous = torch.cat([normalizer[:, :, :1], normalizer[:, :, :-1]], dim=2)
        return (features - normalizer).exp(), previous - normalizer, normalizer[:, :, -1]
    return _continued_lightnet_gate(features, normalizer, initial_normalizer)


def _continued_lightnet_gate(
    features: torch.Tensor, normalizer: torch.Tensor, initial_normalizer: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`lightnet_gate` after earlier frames (a stream), where ``-inf`` marks "nothing seen yet"
    (``initial_normalizer``) and held padding (``features``): such frames get decay 1 and key 0."""
    normalizer = torch.logaddexp(initial_normalizer.unsqueeze(2), normalizer)
    previous = torch.cat([initial_normalizer.unsqueeze(2), normalizer[:, :, :-1]], dim=2)
    started = torch.isfinite(previous)  # before the first real frame the state is zero: no decay needed
    log_decay = torch.where(started, previous - normalizer, 0.0)
    written = torch.isfinite(features)
    key = torch.where(written, features - torch.where(written, normalizer, 0.0), float("-inf")).exp()
    return key, log_decay, normalizer[:, :, -1]
