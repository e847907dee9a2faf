"""Tests for the seq2seq encoder (hf_ser.models.seq2seq) and its attention kernels."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from hf_ser.models.linear_attention import (
    GLA_MIN_LOG_DECAY,
    SEGMENT_CHUNKS,
    chunk_gated_delta_rule,
    chunk_linear_attention,
    recurrent_gated_delta_rule,
    recurrent_linear_attention,
)
from hf_ser.models.mixer_base import padded_reverse_index, reverse_padded
from hf_ser.models.mixers_softmax import forgetting_attention
from hf_ser.models.seq2seq import LINEAR_MECHANISMS, SEQ2SEQ_MECHANISMS, Seq2SeqEncoder

HIDDEN, HEADS = 32, 4


def _random_heads(batch=2, heads=3, frames=45, dim=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, heads, frames, dim, generator=generator) for _ in range(3)]


def _mask(lengths, frames):
    return torch.arange(frames).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)


def test_public_alias_and_mechanism_list():
    import hf_ser.models.seq2seq as models_seq2seq

    assert Seq2SeqEncoder is models_seq2seq.Seq2SeqEncoder
    assert SEQ2SEQ_MECHANISMS == (
        "none", "softmax", "retention", "gla", "forgetting", "delta", "lightnet", "gsa", "kda"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mechanism": "mamba"}, "choose one of"),
        ({"num_heads": 5}, "divisible"),
        ({"num_layers": 0}, "num_layers"),
        ({"chunk_size": 0}, "chunk_size"),
    ],
)
def test_invalid_arguments_raise(kwargs, message):
    arguments = {"mechanism": "gla", "hidden_size": HIDDEN, "num_heads": HEADS, "num_layers": 1}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Seq2SeqEncoder(**arguments)


def test_invalid_mode_and_shapes_raise():
    encoder = Seq2SeqEncoder("retention", HIDDEN, HEADS, 1)
    with pytest.raises(ValueError, match="mode"):
        encoder(torch.randn(1, 10, HIDDEN), mode="parallel")
    with pytest.raises(ValueError, match="hidden_states"):
        encoder(torch.randn(1, 10, HIDDEN + 1))
    with pytest.raises(ValueError, match="attention_mask"):
        encoder(torch.randn(1, 10, HIDDEN), attention_mask=torch.ones(1, 9))


@pytest.mark.parametrize("mechanism", SEQ2SEQ_MECHANISMS)
def test_padding_does_not_leak(mechanism):
    """A clip padded inside a batch gets exactly the outputs it gets alone; padding is zeroed."""
    torch.manual_seed(0)
    encoder = Seq2SeqEncoder(mechanism, HIDDEN, HEADS, num_layers=2, chunk_size=8).eval()
    lengths = [37, 21, 5]
    frames = torch.randn(3, 37, HIDDEN)
    frames[1, 21:] = 100.0  # loud garbage in the padding must not matter
    mask = _mask(lengths, 37)
    with torch.no_grad():
        batched = encoder(frames, attention_mask=mask)
        for index, length in enumerate(lengths):
            alone = encoder(frames[index : index + 1, :length])
            torch.testing.assert_close(batched[index, :length], alone[0], atol=1e-5, rtol=1e-5)
    assert torch.all(batched[~mask] == 0)
    assert torch.isfinite(batched).all()


@pytest.mark.parametrize("mechanism", LINEAR_MECHANISMS)
def test_encoder_chunk_and_recurrent_modes_agree(mechanism):
    torch.manual_seed(1)
    encoder = Seq2SeqEncoder(mechanism, HIDDEN, HEADS, num_layers=2, chunk_size=16).eval()
    frames = torch.randn(2, 70, HIDDEN)
    mask = _mask([70, 41], 70)
    with torch.no_grad():
        chunked = encoder(frames, mask, mode="chunk")
        recurrent = encoder(frames, mask, mode="recurrent")
    torch.testing.assert_close(chunked, recurrent, atol=1e-4, rtol=0)


@pytest.mark.parametrize("chunk_size", [1, 7, 16, 64])
@pytest.mark.parametrize("per_dim", [False, True])
def test_linear_attention_chunk_equals_recurrent(chunk_size, per_dim):
    query, key, value = _random_heads(frames=45)
    shape = query.shape if per_dim else query.shape[:-1]
    log_decay = F.logsigmoid(torch.randn(shape) + 2.0)
    if per_dim:
        log_decay = log_decay.clamp(min=GLA_MIN_LOG_DECAY)
    state = torch.randn(2, 3, 8, 8)
    chunked, chunk_state = chunk_linear_attention(query, key, value, log_decay, chunk_size, state)
    recurrent, recurrent_state = recurrent_linear_attention(query, key, value, log_decay, state)
    torch.testing.assert_close(chunked, recurrent, atol=1e-4, rtol=0)
    torch.testing.assert_close(chunk_state, recurrent_state, atol=1e-4, rtol=0)


def test_gla_chunkwise_is_stable_at_the_strongest_decay():
    """Per-dimension decays at the clamp over a full 64-frame chunk (exponents reach +-32) stay as
    accurate as fp32 allows: relative error vs a float64 recurrence below 1e-6."""
    query, key, value = (tensor * 3 for tensor in _random_heads(frames=200, dim=16))
    log_decay = torch.full(query.shape, GLA_MIN_LOG_DECAY)
    log_decay[..., ::2] = -1e-4  # mix of near-constant and fastest-forgetting dimensions
    chunked, _ = chunk_linear_attention(query, key, value, log_decay, chunk_size=64)
    reference, _ = recurrent_linear_attention(*(t.double() for t in (query, key, value, log_decay)))
    assert torch.isfinite(chunked).all()
    relative_error = (chunked.double() - reference).abs().max() / reference.abs().max()
    assert relative_error < 1e-6, relative_error


@pytest.mark.parametrize("chunk_size", [1, 5, 16, 64])
def test_gated_delta_rule_chunk_equals_recurrent(chunk_size):
    query, key, value = _random_heads(frames=53, dim=16)
    key = F.normalize(key, dim=-1)
    query = F.normalize(query, dim=-1) * 16**-0.5
    log_decay = F.logsigmoid(torch.randn(query.shape[:-1]) + 2.0)
    beta = torch.rand(query.shape[:-1])
    state = torch.randn(2, 3, 16, 16) * 0.1
    chunked, chunk_state = chunk_gated_delta_rule(query, key, value, log_decay, beta, chunk_size, state)
    recurrent, recurrent_state = recurrent_gated_delta_rule(query, key, value, log_decay, beta, state)
    torch.testing.assert_close(chunked, recurrent, atol=1e-4, rtol=0)
    torch.testing.assert_close(chunk_state, recurrent_state, atol=1e-4, rtol=0)


def test_kernels_carry_the_state_across_segments():
    """Inputs longer than one segment (``SEGMENT_CHUNKS`` chunks) plus a partial chunk: the chunk
    kernels, fixed retention decay included, still equal the recurrences."""
    chunk_size = 4
    frames = 2 * SEGMENT_CHUNKS * chunk_size + 7
    query, key, value = _random_heads(frames=frames)
    key = F.normalize(key, dim=-1)
    fixed_decay = torch.full((2, 3, 1), math.log(0.9))
    chunked, _ = chunk_linear_attention(query, key, value, fixed_decay, chunk_size)
    recurrent, _ = recurrent_linear_attention(query, key, value, fixed_decay)
    torch.testing.assert_close(chunked, recurrent, atol=1e-4, rtol=0)
    log_decay = F.logsigmoid(torch.randn(query.shape[:-1]) + 2.0)
    beta = torch.rand(query.shape[:-1])
    chunked, _ = chunk_gated_delta_rule(query, key, value, log_decay, beta, chunk_size)
    recurrent, _ = recurrent_gated_delta_rule(query, key, value, log_decay, beta)
    torch.testing.assert_close(chunked, recurrent, atol=1e-4, rtol=0)


def test_gated_delta_rule_chunk_gradients_equal_recurrent():
    """Training goes through the chunk form (no in-place write into a buffer when gradients are on):
    its gradients equal the recurrence's."""
    tensors = list(_random_heads(frames=37, dim=8))
    tensors[1] = F.normalize(tensors[1], dim=-1)
    gates = [F.logsigmoid(torch.randn(tensors[0].shape[:-1]) + 2.0), torch.rand(tensors[0].shape[:-1])]
    leaves = [tensor.clone().requires_grad_(True) for tensor in tensors + gates]
    chunked, _ = chunk_gated_delta_rule(*leaves, chunk_size=8)
    chunk_grads = torch.autograd.grad(chunked.square().sum(), leaves)
    recurrent, _ = recurrent_gated_delta_rule(*leaves)
    recurrent_grads = torch.autograd.grad(recurrent.square().sum(), leaves)
    for chunk_grad, recurrent_grad in zip(chunk_grads, recurrent_grads, strict=True):
        torch.testing.assert_close(chunk_grad, recurrent_grad, atol=1e-4, rtol=1e-4)


def test_delta_rule_stores_a_key_value_pair():
    """With beta = 1 and no decay, writing (k, v) then reading with q = k returns v exactly."""
    key = F.normalize(torch.randn(1, 1, 1, 8), dim=-1)
    value = torch.randn(1, 1, 1, 8)
    ones = torch.ones(1, 1, 1)
    output, _ = recurrent_gated_delta_rule(key, key, value, torch.zeros(1, 1, 1), ones)
    torch.testing.assert_close(output, value)
    # writing the same key twice with beta = 1 replaces the value instead of adding it up
    keys = key.repeat(1, 1, 2, 1)
    values = torch.cat([value, 2 * value], dim=2)
    output, _ = chunk_gated_delta_rule(keys, keys, values, torch.zeros(1, 1, 2), ones.repeat(1, 1, 2))
    torch.testing.assert_close(output[:, :, 1], 2 * value[:, :, 0])


@pytest.mark.parametrize(("kernel", "extra"), [("linear", 0), ("delta", 1)])
def test_streaming_in_pieces_equals_one_pass(kernel, extra):
    """The recurrent state returned by a chunk continues the stream exactly."""
    query, key, value = _random_heads(frames=40)
    key = F.normalize(key, dim=-1)
    gates = [F.logsigmoid(torch.randn(query.shape[:-1]) + 2.0), torch.rand(query.shape[:-1])][: 1 + extra]
    function = chunk_linear_attention if kernel == "linear" else chunk_gated_delta_rule
    whole, _ = function(query, key, value, *gates, chunk_size=16)
    first, state = function(*(t[:, :, :25] for t in (query, key, value, *gates)), chunk_size=16)
    rest = (t[:, :, 25:] for t in (query, key, value, *gates))
    second, _ = function(*rest, chunk_size=16, initial_state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=2), whole, atol=1e-5, rtol=0)


def test_forgetting_attention_matches_explicit_formula():
    query, key, value = _random_heads(frames=30)
    log_forget = F.logsigmoid(torch.randn(query.shape[:-1]) + 1.0)
    cumulative = log_forget.cumsum(-1)
    scores = query @ key.transpose(-1, -2) / math.sqrt(8)
    scores = scores + cumulative.unsqueeze(-1) - cumulative.unsqueeze(-2)
    causal = torch.ones(30, 30, dtype=torch.bool).tril()
    expected = scores.masked_fill(~causal, float("-inf")).softmax(-1) @ value
    output = forgetting_attention(query, key, value, log_forget)
    torch.testing.assert_close(output, expected, atol=1e-5, rtol=1e-5)


def test_padded_reverse_index_is_an_involution():
    mask = _mask([5, 3, 0], 6)
    index = padded_reverse_index(mask)
    assert index.tolist() == [[4, 3, 2, 1, 0, 5], [2, 1, 0, 3, 4, 5], [0, 1, 2, 3, 4, 5]]
    tensor = torch.randn(3, 2, 6, 4)
    torch.testing.assert_close(reverse_padded(reverse_padded(tensor, mask), mask), tensor)


@pytest.mark.parametrize("mechanism", LINEAR_MECHANISMS + ("forgetting",))
def test_bidirectional_sees_the_future_and_causal_does_not(mechanism):
    torch.manual_seed(2)
    frames = torch.randn(1, 24, HIDDEN)
    changed = frames.clone()
    changed[:, -1] = torch.randn(HIDDEN)
    for bidirectional, future_matters in ((True, True), (False, False)):
        encoder = Seq2SeqEncoder(mechanism, HIDDEN, HEADS, 1, bidirectional=bidirectional).eval()
        with torch.no_grad():
            difference = (encoder(frames)[:, 0] - encoder(changed)[:, 0]).abs().max().item()
        assert (difference > 1e-4) is future_matters, (bidirectional, difference)


def test_none_mechanism_does_not_mix_frames():
    encoder = Seq2SeqEncoder("none", HIDDEN, HEADS, 2).eval()
    frames = torch.randn(1, 10, HIDDEN)
    with torch.no_grad():
        torch.testing.assert_close(encoder(frames)[:, :4], encoder(frames[:, :4]))


@pytest.mark.parametrize("mechanism", SEQ2SEQ_MECHANISMS)
def test_gradients_are_finite(mechanism):
    torch.manual_seed(3)
    encoder = Seq2SeqEncoder(mechanism, HIDDEN, HEADS, 1, chunk_size=8, dropout=0.1)
    frames = torch.randn(2, 30, HIDDEN, requires_grad=True)
    encoder(frames, _mask([30, 12], 30)).pow(2).mean().backward()
    assert torch.isfinite(frames.grad).all()
    for name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
