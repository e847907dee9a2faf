"""Tests for paper 000's LightNet, GSA and KDA mechanisms (hf_ser.models.mixers_gated and their kernels).

Each kernel's chunkwise form is checked against its recurrence (and its recurrence against the paper's
formula), gradients with ``gradcheck`` in double precision, the streaming forms piece by piece, tiny SER
models end to end, and the optional fla fast path: its CPU fallback always, its outputs against the
reference kernels only where ``fla`` and a CUDA GPU are present.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hf_ser.models import fla_backend
from hf_ser.models.linear_attention import (
    FACTORISED_MAX_EXPONENT,
    _exact_gated_products,
    _factorised_products,
    _stable_gated_products,
    chunk_gated_delta_rule,
    chunk_gated_slot_attention,
    chunk_linear_attention,
    chunk_value_decay_attention,
    lightnet_gate,
    recurrent_gated_delta_rule,
    recurrent_gated_slot_attention,
    recurrent_linear_attention,
    recurrent_value_decay_attention,
)
from hf_ser.models.seq2seq import LINEAR_MECHANISMS, SEQ2SEQ_MECHANISMS, Seq2SeqEncoder
from hf_ser.models.streaming import STREAMABLE_MECHANISMS, Seq2SeqStream

NEW = ("lightnet", "gsa", "kda")
SHAPE = (2, 3, 45, 8)  # batch, heads, frames, head dim


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def lightnet_inputs(shape=SHAPE, dtype=torch.float32, scale=30.0):
    query, features, value = (_randn(*shape, seed=seed, dtype=dtype) for seed in range(3))
    return query, features * scale, value


def gsa_inputs(shape=SHAPE, slots=6, dtype=torch.float32, strength=1.0):
    query, key, value = (_randn(*shape, seed=seed, dtype=dtype) for seed in range(3))
    log_forget = F.logsigmoid(_randn(*shape[:3], slots, seed=3, dtype=dtype) * strength) / 8 * strength
    return query, key, value, log_forget


def kda_inputs(shape=SHAPE, dtype=torch.float32, strength=1.0):
    query, key, value = (_randn(*shape, seed=seed, dtype=dtype) for seed in range(3))
    log_decay = -F.softplus(_randn(*shape, seed=3, dtype=dtype)) * strength
    beta = torch.sigmoid(_randn(*shape[:3], seed=4, dtype=dtype))
    return F.normalize(query, dim=-1) * shape[-1] ** -0.5, F.normalize(key, dim=-1), value, log_decay, beta


def lightnet_chunk(query, features, value, chunk_size=16):
    key, log_decay, _ = lightnet_gate(features)
    return chunk_linear_attention(query, key, value, log_decay, chunk_size)[0]


def test_mechanisms_are_registered():
    for mechanism in NEW:
        assert mechanism in SEQ2SEQ_MECHANISMS
        assert mechanism in LINEAR_MECHANISMS
        assert mechanism in STREAMABLE_MECHANISMS


@pytest.mark.parametrize("mechanism", NEW)
def test_config_accepts_the_mechanism(mechanism):
    from hf_ser import SERConfig

    labels = {"id2label": {0: "anger", 1: "neutral"}}
    assert SERConfig(seq2seq=mechanism, **labels).seq2seq == mechanism
    with pytest.raises(ValueError, match="kda"):
        SERConfig(seq2seq="kimi", **labels)


# --- per-dimension decay products -------------------------------------------------------------------


@pytest.mark.parametrize("diagonal", [0, -1])
def test_decay_product_forms_agree(diagonal):
    """Factorised (moderate decays), sub-blocked stable and exact forms of ``sum_d l_id r_jd e^{c_id - c_jd}``
    against a float64 loop; the stable form also at decays whose factorised form would overflow."""
    left, right = _randn(2, 3, 64, 8, seed=0), _randn(2, 3, 64, 8, seed=1)
    for step in (0.5, 30.0):
        cumulative = (-torch.rand(2, 3, 64, 8, generator=torch.Generator().manual_seed(2)) * step).cumsum(-2)
        reference = torch.zeros(2, 3, 64, 64, dtype=torch.float64)
        for i in range(64):
            for j in range(i + 1 + diagonal):
                weight = (cumulative[..., i, :] - cumulative[..., j, :]).double().exp()
                reference[..., i, j] = (left[..., i, :].double() * right[..., j, :] * weight).sum(-1)
        forms = [_stable_gated_products, _exact_gated_products]
        if step * 32 <= FACTORISED_MAX_EXPONENT:
            forms.append(_factorised_products)
        for form in forms:
            output = form(left, right, cumulative, diagonal)
            torch.testing.assert_close(output.double(), reference, atol=1e-5, rtol=1e-5)


def test_stable_decay_products_gradcheck():
    """The sub-blocked form (in-place add of the diagonal blocks included) has exact gradients."""
    left, right = _randn(1, 24, 2, seed=0, dtype=torch.float64), _randn(1, 24, 2, seed=1, dtype=torch.float64)
    log_decay = -torch.rand(1, 24, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 20
    _gradcheck(lambda a, b, g: _stable_gated_products(a, b, g.cumsum(-2), 0), [left, right, log_decay])


# --- LightNet ---------------------------------------------------------------------------------------


def test_lightnet_state_is_a_running_softmax_average():
    """``S_t = sum_{s <= t} softmax_s(f)^T v_s`` (per key dimension): LightNet's additive decay."""
    query, features, value = lightnet_inputs()
    key, log_decay, normalizer = lightnet_gate(features)
    _, state = recurrent_linear_attention(query, key, value, log_decay)
    expected = torch.einsum("bhtd,bhte->bhde", features.softmax(dim=2), value)
    torch.testing.assert_close(state, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(normalizer, features.logsumexp(dim=2))
    assert (log_decay <= 0).all() and (log_decay[:, :, 0] == 0).all()


@pytest.mark.parametrize("chunk_size", [1, 7, 16, 64])
def test_lightnet_chunk_equals_recurrent(chunk_size):
    """Features scaled by 30: early chunks decay too strongly to factorise and take the stable form,
    later ones the one-product form; both agree with the recurrence."""
    query, features, value = lightnet_inputs()
    key, log_decay, _ = lightnet_gate(features)
    assert log_decay.min() < -FACTORISED_MAX_EXPONENT  # beyond the factorised form's range
    chunked, chunk_state = chunk_linear_attention(query, key, value, log_decay, chunk_size)
    recurrent, recurrent_state = recurrent_linear_attention(query, key, value, log_decay)
    torch.testing.assert_close(chunked, recurrent, atol=1e-4, rtol=0)
    torch.testing.assert_close(chunk_state, recurrent_state, atol=1e-4, rtol=0)


def test_lightnet_gate_continues_from_a_normalizer():
    """Gating two pieces with the first's final normaliser equals gating the whole sequence."""
    features = lightnet_inputs()[1]
    whole_key, whole_decay, whole_z = lightnet_gate(features)
    first_key, first_decay, z = lightnet_gate(features[:, :, :20])
    second_key, second_decay, second_z = lightnet_gate(features[:, :, 20:], z)
    torch.testing.assert_close(torch.cat([first_key, second_key], 2), whole_key)
    torch.testing.assert_close(torch.cat([first_decay, second_decay], 2), whole_decay)
    torch.testing.assert_close(second_z, whole_z)


# --- GSA --------------------------------------------------------------------------------------------


def naive_gated_slot_attention(query, key, value, log_forget):
    """GSA straight from the paper: slot memories written with ``1 - a_t``, read with a softmax."""
    batch, heads, frames, dim = query.shape
    slot_keys = query.new_zeros(batch, heads, log_forget.shape[-1], dim)
    slot_values = torch.zeros_like(slot_keys)
    outputs = []
    for t in range(frames):
        forget = log_forget[:, :, t].exp().unsqueeze(-1)
        slot_keys = forget * slot_keys + (1 - forget) * key[:, :, t, None]
        slot_values = forget * slot_values + (1 - forget) * value[:, :, t, None]
        weights = (slot_keys @ query[:, :, t, :, None]).squeeze(-1).softmax(-1)
        outputs.append((weights.unsqueeze(-2) @ slot_values).squeeze(-2))
    return torch.stack(outputs, dim=2)


def test_gsa_recurrence_matches_the_paper_formula():
    inputs = gsa_inputs()
    output, _ = recurrent_gated_slot_attention(*inputs)
    torch.testing.assert_close(output, naive_gated_slot_attention(*inputs), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("strength", [1.0, 8.0])
@pytest.mark.parametrize("chunk_size", [1, 7, 16, 64])
def test_gsa_chunk_equals_recurrent(chunk_size, strength):
    """Ordinary gates and forget gates 8x stronger (exact per-slot path), from a non-zero state."""
    inputs = gsa_inputs(strength=strength)
    state = (_randn(2, 3, 8, 6, seed=5) * 0.1, _randn(2, 3, 6, 8, seed=6) * 0.1)
    chunked, (chunk_keys, chunk_values) = chunk_gated_slot_attention(*inputs, chunk_size, state)
    recurrent, (keys, values) = recurrent_gated_slot_attention(*inputs, state)
    torch.testing.assert_close(chunked, recurrent, atol=1e-4, rtol=0)
    torch.testing.assert_close(chunk_keys, keys, atol=1e-4, rtol=0)
    torch.testing.assert_close(chunk_values, values, atol=1e-4, rtol=0)


def test_value_decay_attention_chunk_equals_recurrent():
    query, key, value = (_randn(*SHAPE, seed=seed) for seed in range(3))
    log_decay = F.logsigmoid(_randn(*SHAPE, seed=3) * 3)
    chunked, chunk_state = chunk_value_decay_attention(query, key, value, log_decay, 16)
    recurrent, recurrent_state = recurrent_value_decay_attention(query, key, value, log_decay)
    torch.testing.assert_close(chunked, recurrent, atol=1e-4, rtol=0)
    torch.testing.assert_close(chunk_state, recurrent_state, atol=1e-4, rtol=0)


# --- KDA --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strength", [0.1, 5.0, 50.0])
@pytest.mark.parametrize("chunk_size", [1, 5, 16, 64])
def test_kda_chunk_equals_recurrent(chunk_size, strength):
    """Weak (factorised form) and strong (stable form for 50) per-dimension decays, from a non-zero
    state."""
    inputs = kda_inputs(strength=strength)
    state = _randn(2, 3, 8, 8, seed=7) * 0.1
    chunked, chunk_state = chunk_gated_delta_rule(*inputs, chunk_size, state)
    recurrent, recurrent_state = recurrent_gated_delta_rule(*inputs, state)
    torch.testing.assert_close(chunked, recurrent, atol=1e-4, rtol=0)
    torch.testing.assert_close(chunk_state, recurrent_state, atol=1e-4, rtol=0)


def test_kda_with_equal_channel_decays_is_the_gated_delta_rule():
    """One decay shared by all key dimensions gives gated DeltaNet's scalar-gate result."""
    query, key, value, log_decay, beta = kda_inputs()
    scalar = log_decay[..., 0]
    per_dim = scalar.unsqueeze(-1).expand_as(log_decay)
    expected, _ = chunk_gated_delta_rule(query, key, value, scalar, beta, 16)
    output, _ = chunk_gated_delta_rule(query, key, value, per_dim, beta, 16)
    torch.testing.assert_close(output, expected, atol=1e-5, rtol=0)


# --- gradients --------------------------------------------------------------------------------------

TINY = (1, 2, 7, 3)


def _gradcheck(function, inputs):
    leaves = [tensor.clone().requires_grad_(True) for tensor in inputs]
    assert torch.autograd.gradcheck(function, leaves, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("chunk_size", [3, 8])
def test_lightnet_gradcheck(chunk_size):
    inputs = lightnet_inputs(TINY, torch.float64)
    _gradcheck(lambda *tensors: lightnet_chunk(*tensors, chunk_size=chunk_size), inputs)


@pytest.mark.parametrize("strength", [1.0, 8.0])
def test_gsa_gradcheck(strength):
    inputs = gsa_inputs(TINY, slots=4, dtype=torch.float64, strength=strength)
    _gradcheck(lambda *tensors: chunk_gated_slot_attention(*tensors, chunk_size=3)[0], inputs)


@pytest.mark.parametrize("strength", [0.1, 50.0])
def test_kda_gradcheck(strength):
    inputs = kda_inputs(TINY, torch.float64, strength=strength)
    _gradcheck(lambda *tensors: chunk_gated_delta_rule(*tensors, chunk_size=3)[0], inputs)


# --- encoders, streaming, models ---------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", NEW)
def test_stream_in_pieces_equals_one_causal_pass(mechanism):
    torch.manual_seed(0)
    encoder = Seq2SeqEncoder(mechanism, 16, 2, num_layers=2, bidirectional=False, chunk_size=8).eval()
    frames = torch.randn(2, 61, 16)
    stream = Seq2SeqStream(encoder)
    state, pieces = stream.init_state(2), []
    with torch.no_grad():
        for piece in frames.split([1, 3, 20, 37], dim=1):
            output, state = stream.step(piece, state)
            pieces.append(output)
        torch.testing.assert_close(torch.cat(pieces, dim=1), encoder(frames), atol=1e-4, rtol=0)


@pytest.mark.parametrize("mechanism", NEW)
def test_tiny_model_trains_and_round_trips(tiny_ser_model, tmp_path, mechanism):
    from hf_ser import SERModelForAudioClassification

    model = tiny_ser_model(seq2seq=mechanism, seq2seq_layers=1, seq2seq_heads=2)
    audio = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, 8000, dtype=torch.long)
    mask[1, 5000:] = 0
    model.train()
    output = model(input_values=audio, attention_mask=mask, labels=torch.tensor([0, 2]))
    output.loss.backward()
    mixer_grads = [p.grad for p in model.seq2seq.parameters()]
    assert all(grad is not None and torch.isfinite(grad).all() for grad in mixer_grads)
    model.eval()
    model.save_pretrained(tmp_path)
    reloaded = SERModelForAudioClassification.from_pretrained(tmp_path).eval()
    assert reloaded.config.seq2seq == mechanism
    with torch.no_grad():
        expected = model(input_values=audio, attention_mask=mask).logits
        torch.testing.assert_close(reloaded(input_values=audio, attention_mask=mask).logits, expected)


# --- optional fla fast path ----------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", NEW)
def test_cpu_inputs_never_take_the_fla_path(monkeypatch, mechanism):
    """Even when fla imports, CPU tensors run the reference kernels (fla's are Triton / CUDA only)."""
    monkeypatch.setattr(fla_backend, "fla_available", lambda: True)
    assert not fla_backend.use_fla(torch.zeros(1))
    encoder = Seq2SeqEncoder(mechanism, 16, 2, num_layers=1, chunk_size=8).eval()
    mixer = encoder.layers[0].mixer

    def refuse(*args, **kwargs):
        raise AssertionError("fla kernel called on CPU")

    monkeypatch.setattr(type(mixer), "fla_kernel", (refuse,))
    frames = torch.randn(1, 20, 16)
    with torch.no_grad():
        torch.testing.assert_close(encoder(frames), encoder(frames, mode="recurrent"), atol=1e-4, rtol=0)


def test_fla_availability_is_a_bool_without_importing_it_at_module_load():
    assert isinstance(fla_backend.fla_available(), bool)


needs_fla = pytest.mark.skipif(
    not (torch.cuda.is_available() and fla_backend.fla_available()),
    reason="flash-linear-attention and a CUDA GPU are needed for the fast-path comparison",
)


@needs_fla
@pytest.mark.parametrize("mechanism", NEW)
def test_fla_path_matches_the_reference_kernels(mechanism):
    torch.manual_seed(0)
    encoder = Seq2SeqEncoder(mechanism, 64, 2, num_layers=1, bidirectional=False).cuda().eval()
    mixer = encoder.layers[0].mixer
    frames = torch.randn(2, 300, 64, device="cuda")
    with torch.no_grad():
        projected = mixer.project(frames, None)
        fast, fast_state = mixer.run_kernel(projected, "chunk")
        reference, reference_state = mixer.run_kernel(projected, "recurrent")
    torch.testing.assert_close(fast, reference, atol=2e-3, rtol=2e-3)
    fast_parts = fast_state if isinstance(fast_state, tuple) else (fast_state,)
    reference_parts = reference_state if isinstance(reference_state, tuple) else (reference_state,)
    for fast_part, reference_part in zip(fast_parts, reference_parts, strict=True):
        torch.testing.assert_close(fast_part.float(), reference_part.float(), atol=2e-3, rtol=2e-3)
