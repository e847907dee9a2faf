"""Streaming: causal linear seq2seq state, running poolings, ``model.stream_step`` and ``pipe.stream``.

Each level is checked against its one-shot counterpart: streamed encoder outputs against one causal
pass, running poolings against the pooling of all frames, the model's running prediction against
backbone-per-piece + one pass of seq2seq / pooling / heads, and the pipeline against the model.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from hf_ser.data.audio import AudioError, load_audio
from hf_ser.inference.pipeline import pipeline, softmax
from hf_ser.models.pooling import POOLING_TYPES, build_pooling
from hf_ser.models.seq2seq import LINEAR_MECHANISMS, Seq2SeqEncoder
from hf_ser.models.streaming import RECURRENT_MAX_FRAMES, STREAMABLE_MECHANISMS, Seq2SeqStream

HIDDEN = 16
# uneven pieces: recurrent-kernel sizes (<= RECURRENT_MAX_FRAMES), an empty piece, several chunks of 8
PIECES = [1, RECURRENT_MAX_FRAMES, 0, 5, 19, 41]


def causal_encoder(mechanism: str, seed: int = 0) -> Seq2SeqEncoder:
    torch.manual_seed(seed)
    return Seq2SeqEncoder(
        mechanism, hidden_size=HIDDEN, num_heads=2, num_layers=3, bidirectional=False, chunk_size=8
    ).eval()


def run_stream(stream: Seq2SeqStream, frames: torch.Tensor, sizes: list[int]):
    state, outputs = stream.init_state(frames.shape[0]), []
    for piece in frames.split(sizes, dim=1):
        output, state = stream.step(piece, state)
        outputs.append(output)
    return torch.cat(outputs, dim=1), state


@pytest.mark.parametrize("mechanism", STREAMABLE_MECHANISMS)
def test_encoder_stream_equals_one_causal_pass(mechanism):
    encoder = causal_encoder(mechanism)
    frames = torch.randn(2, sum(PIECES), HIDDEN)
    streamed, state = run_stream(Seq2SeqStream(encoder), frames, PIECES)
    torch.testing.assert_close(streamed, encoder(frames), atol=1e-4, rtol=0)
    assert state.frames.tolist() == [sum(PIECES)] * 2
    assert len(state.layer_states) == 3


@pytest.mark.parametrize("mechanism", LINEAR_MECHANISMS)
def test_encoder_stream_rows_are_independent_streams(mechanism):
    """Rows fed pieces of different lengths (padded, masked) advance on their own real frames only: each
    row's outputs and final per-row states equal those of streaming that row alone."""
    encoder = causal_encoder(mechanism, seed=1)
    stream = Seq2SeqStream(encoder)
    lengths = [(12, 3), (30, 44), (2, 9)]  # frames of (row 0, row 1) in each piece
    sequences = [torch.randn(sum(row), HIDDEN) for row in zip(*lengths, strict=True)]
    state, outputs, positions = stream.init_state(2), [[], []], [0, 0]
    for piece_lengths in lengths:
        piece = torch.zeros(2, max(piece_lengths), HIDDEN)
        mask = torch.zeros(2, max(piece_lengths), dtype=torch.bool)
        for row, length in enumerate(piece_lengths):
            piece[row, :length] = sequences[row][positions[row] : positions[row] + length]
            mask[row, :length] = True
        output, state = stream.step(piece, state, attention_mask=mask)
        assert (output[~mask] == 0).all()
        for row, length in enumerate(piece_lengths):
            outputs[row].append(output[row, :length])
            positions[row] += length
    for row, sequence in enumerate(sequences):
        alone, alone_state = run_stream(stream, sequence[None], [len(sequence)])
        torch.testing.assert_close(torch.cat(outputs[row]), alone[0], atol=1e-4, rtol=0)
        for batched, single in zip(state.layer_states, alone_state.layer_states, strict=True):
            # a layer's state is a tensor or, for lightnet / gsa, a tuple of tensors
            batched, single = (parts if isinstance(parts, tuple) else (parts,) for parts in (batched, single))
            for batched_part, single_part in zip(batched, single, strict=True):
                torch.testing.assert_close(batched_part[row], single_part[0], atol=1e-4, rtol=0)
    assert state.frames.tolist() == positions


@pytest.mark.parametrize(
    ("mechanism", "bidirectional", "message"),
    [
        ("gla", True, "bidirectional=True"),
        ("delta", True, "bidirectional=True"),
        ("softmax", False, "mechanism='softmax'"),
        ("forgetting", False, "mechanism='forgetting'"),
    ],
)
def test_encoder_stream_refuses_what_cannot_stream(mechanism, bidirectional, message):
    encoder = Seq2SeqEncoder(mechanism, HIDDEN, num_heads=2, num_layers=1, bidirectional=bidirectional)
    with pytest.raises(ValueError, match=message):
        Seq2SeqStream(encoder)


def test_encoder_stream_checks_the_state_batch():
    stream = Seq2SeqStream(causal_encoder("retention"))
    with pytest.raises(ValueError, match="init_state"):
        stream.step(torch.randn(3, 5, HIDDEN), stream.init_state(2))


@pytest.mark.parametrize("pooling_name", POOLING_TYPES)
def test_pooling_stream_equals_one_shot_pooling(pooling_name):
    """Padded rows, an empty piece, a fully padded piece for one row, and scores that grow piece after
    piece far beyond exp's fp32 range (the running max must rescale the accumulators)."""
    torch.manual_seed(0)
    pooling = build_pooling(pooling_name, HIDDEN, attention_size=None, num_heads=3).eval()
    scorer = getattr(pooling, "scorer", None)
    if scorer is not None:
        with torch.no_grad():
            scorer.context.weight.mul_(300.0)
    sizes = [4, 0, 7, 13, 6]
    frames = torch.cat([torch.randn(2, size, HIDDEN) * (1 + 0.5 * i) for i, size in enumerate(sizes)], dim=1)
    mask = torch.ones(2, sum(sizes), dtype=torch.bool)
    mask[1, 4:11] = False  # row 1: a padded gap, including all of the third piece
    mask[1, -3:] = False
    state = None
    for piece, piece_mask in zip(frames.split(sizes, dim=1), mask.split(sizes, dim=1), strict=True):
        state = pooling.stream_update(piece, state, piece_mask)
    expected = pooling(frames, mask).pooled
    rows_alone = torch.stack([pooling(frames[row : row + 1, mask[row]]).pooled[0] for row in range(2)])
    result = pooling.stream_output(state).pooled
    assert torch.isfinite(result).all()
    torch.testing.assert_close(result, expected, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(result, rows_alone, atol=1e-4, rtol=1e-5)


# ------------------------------------------------------------------------------------------------------
# Model and pipeline (tiny random wav2vec2 backbone, real EmoDB audio)
# ------------------------------------------------------------------------------------------------------
def streaming_model(tiny_ser_model, mechanism="delta", **config):
    config.setdefault("pooling", "attentive_stats")
    return tiny_ser_model(
        seq2seq=mechanism,
        seq2seq_layers=2,
        seq2seq_heads=2,
        seq2seq_bidirectional=False,
        backbone_overrides={"num_hidden_layers": 1},
        **config,
    )


def extract(feature_extractor, audio: np.ndarray) -> torch.Tensor:
    return feature_extractor(audio, sampling_rate=16000, return_tensors="pt")["input_values"]


def one_shot_over_pieces(model, feature_extractor, pieces: list[np.ndarray]):
    """The reference: backbone on each piece alone, frames concatenated, seq2seq + pooling + heads once."""
    frames = []
    for piece in pieces:
        outputs = model.backbone(
            extract(feature_extractor, piece),
            output_hidden_states=model.layer_mix.needs_all_hidden_states,
            return_dict=True,
        )
        frames.append(model.layer_mix(outputs.last_hidden_state, outputs.hidden_states))
    hidden = torch.cat(frames, dim=1)
    if model.seq2seq is not None:
        hidden = model.seq2seq(hidden)
    class_logits, regression, _, _ = model._apply_heads(model.pooling(hidden).pooled, None, None)
    return class_logits, regression


@pytest.mark.parametrize(
    ("mechanism", "config"),
    [
        ("delta", {"task": "multitask"}),
        ("gla", {"pooling": "soft_attention", "layer_weighting": "weighted"}),
        ("lightnet", {}),  # a tuple state (S, running normaliser)
        ("gsa", {"task": "multitask"}),  # a tuple state (slot keys, slot values)
        ("kda", {}),
        (None, {"task": "regression", "pooling": "mean"}),
    ],
)
def test_model_stream_step_equals_one_pass_over_piece_frames(
    tiny_ser_model, feature_extractor, emodb_clips, mechanism, config
):
    model = (
        streaming_model(tiny_ser_model, mechanism, **config)
        if mechanism
        else tiny_ser_model(backbone_overrides={"num_hidden_layers": 1}, **config)
    )
    clip = emodb_clips[1]  # 1.0 s
    pieces = np.split(clip, [4000, 4000 + 6720])  # 0.25 s, 0.42 s, the rest
    state, running = None, []
    with torch.inference_mode():
        for piece in pieces:
            output, state = model.stream_step(extract(feature_extractor, piece), state)
            running.append(output)
        first = model(extract(feature_extractor, pieces[0]))
        class_logits, regression = one_shot_over_pieces(model, feature_extractor, pieces)
    # after one piece the stream is just the model's forward on that piece
    torch.testing.assert_close(running[0].logits, first.logits, atol=1e-4, rtol=0)
    if class_logits is not None:
        torch.testing.assert_close(running[-1].logits, class_logits, atol=1e-4, rtol=0)
    if regression is not None:
        torch.testing.assert_close(running[-1].regression, regression, atol=1e-4, rtol=0)
    assert not torch.allclose(running[0].logits, running[-1].logits)  # the prediction does move
    assert int(state.frames[0]) == sum(
        model.backbone._get_feat_extract_output_lengths(len(p)) for p in pieces
    )


@pytest.mark.parametrize("norm", ["layer", "group"])
def test_model_stream_step_batched_streams_equal_single(tiny_ser_model, feature_extractor, emodb_clips, norm):
    """A padded batch of pieces (with the sample attention mask) = each stream fed alone, for per-frame
    (layer) and masked group-norm feature encoders alike."""
    model = tiny_ser_model(
        seq2seq="retention",
        seq2seq_layers=2,
        seq2seq_heads=2,
        seq2seq_bidirectional=False,
        pooling="attentive_stats",
        backbone_overrides={"num_hidden_layers": 1, "feat_extract_norm": norm},
    )
    clips = [emodb_clips[0], emodb_clips[2]]
    cuts = [[3200, 8000], [6400, 8000]]
    streams = [np.split(clip, cut) for clip, cut in zip(clips, cuts, strict=True)]
    state = None
    with torch.inference_mode():
        for pieces in zip(*streams, strict=True):
            inputs = feature_extractor(
                list(pieces),
                sampling_rate=16000,
                padding=True,
                return_attention_mask=True,
                return_tensors="pt",
            )
            batched, state = model.stream_step(inputs["input_values"], state, inputs["attention_mask"])
        for row, pieces in enumerate(streams):
            single = None
            for piece in pieces:
                alone, single = model.stream_step(extract(feature_extractor, piece), single)
            torch.testing.assert_close(batched.logits[row], alone.logits[0], atol=1e-5, rtol=0)


def test_model_stream_refuses_bidirectional_softmax(tiny_ser_model):
    model = tiny_ser_model(seq2seq="softmax", seq2seq_heads=2, backbone_overrides={"num_hidden_layers": 1})
    with pytest.raises(ValueError, match="mechanism='softmax' cannot stream"):
        model.init_stream_state()
    model = tiny_ser_model(seq2seq="gla", seq2seq_heads=2, backbone_overrides={"num_hidden_layers": 1})
    with pytest.raises(ValueError, match="seq2seq_bidirectional=False"):
        model.stream_step(torch.zeros(1, 3200))


@pytest.fixture
def streaming_pipe(tiny_ser_model, feature_extractor):
    model = streaming_model(tiny_ser_model, "gla")
    return pipeline(model, feature_extractor=feature_extractor, device="cpu", dtype="float32")


def test_pipeline_stream_running_results_equal_model(streaming_pipe, feature_extractor, emodb_clips):
    clip = emodb_clips[1]  # 1.0 s at 16 kHz
    results = list(streaming_pipe.stream(clip, sampling_rate=16000, piece_seconds=0.3, top_k=2))
    assert [r["end"] for r in results] == [0.3, 0.6, 0.9, 1.0]
    assert [r["start"] for r in results] == [0.0, 0.3, 0.6, 0.9]
    assert all(len(r["scores"]) == 2 for r in results)
    assert all(r["label"] == next(iter(r["scores"])) for r in results)
    state = None
    with torch.inference_mode():
        for start in range(0, len(clip), 4800):
            output, state = streaming_pipe.model.stream_step(
                extract(feature_extractor, clip[start : start + 4800]), state
            )
    probabilities = softmax(output.logits[0].numpy())
    expected = {streaming_pipe.id2label[i]: float(p) for i, p in enumerate(probabilities)}
    for name, score in results[-1]["scores"].items():
        assert score == pytest.approx(expected[name], abs=1e-5)
    # a microphone-like source: blocks of any size are re-cut into the same pieces
    blocks = np.split(clip, [1000, 1500, 7000, 12345])
    from_blocks = list(streaming_pipe.stream(iter(blocks), sampling_rate=16000, piece_seconds=0.3, top_k=2))
    assert [r["end"] for r in from_blocks] == [0.3, 0.6, 0.9, 1.0]
    for block_result, clip_result in zip(from_blocks, results, strict=True):
        assert block_result["scores"] == pytest.approx(clip_result["scores"], abs=1e-6)


def test_pipeline_stream_reads_files_piece_by_piece(streaming_pipe, data_dir, tmp_path):
    path = data_dir / "emodb" / "03a01Nc.flac"  # 22.05 kHz on disk: each piece is read and resampled
    results = list(streaming_pipe.stream(str(path), piece_seconds=0.5, return_embeddings=True))
    ends = [r["end"] for r in results]
    assert ends == [0.5, 1.0, 1.5, 2.0]
    assert ends[-1] == pytest.approx(len(load_audio(path)) / 16000, abs=1e-3)
    assert results[-1]["embedding"].shape == (64,)  # attentive stats: mean || std of 32
    # at the model's rate, a file streams exactly like its decoded array
    audio = load_audio(path)[:20000]
    wav = tmp_path / "clip16k.wav"
    sf.write(wav, audio, 16000, subtype="FLOAT")
    from_file = list(streaming_pipe.stream(wav, piece_seconds=0.5))
    from_array = list(streaming_pipe.stream(audio, sampling_rate=16000, piece_seconds=0.5))
    assert [r["end"] for r in from_file] == [r["end"] for r in from_array] == [0.5, 1.0, 1.25]
    assert from_file[-1]["scores"] == pytest.approx(from_array[-1]["scores"], abs=1e-6)


def test_pipeline_stream_errors(tiny_ser_model, feature_extractor, streaming_pipe):
    model = tiny_ser_model(seq2seq="softmax", seq2seq_heads=2, backbone_overrides={"num_hidden_layers": 1})
    pipe = pipeline(model, feature_extractor=feature_extractor, device="cpu", dtype="float32")
    with pytest.raises(ValueError, match="softmax"):
        pipe.stream(np.zeros(16000, np.float32), sampling_rate=16000)
    with pytest.raises(ValueError, match="piece_seconds"):
        streaming_pipe.stream(np.zeros(16000, np.float32), sampling_rate=16000, piece_seconds=0.01)
    with pytest.raises(AudioError, match="sampling rate"):
        streaming_pipe.stream([np.zeros(1600, np.float32)])
    blocks = [np.zeros(1600, np.float32), np.full(1600, np.nan, np.float32)]
    with pytest.raises(AudioError, match="stream block 1: .*NaN"):
        list(streaming_pipe.stream(blocks, sampling_rate=16000))
    with pytest.raises(AudioError, match="empty"):
        streaming_pipe.stream(np.zeros(0, np.float32), sampling_rate=16000)


def test_cli_predict_stream(tiny_checkpoint_dir, data_dir, capsys):
    """``hf-ser predict --stream S``: JSON lines of running predictions; a table of them; flag clash."""
    import json

    from hf_ser.app.cli import main

    clip = str(data_dir / "emodb" / "03a01Nc.flac")  # 2.0 s
    model = ["--model", str(tiny_checkpoint_dir), "--dtype", "float32"]
    assert main(["predict", clip, *model, "--stream", "0.75", "--json", "--top-k", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["end"] for line in lines] == [0.75, 1.5, 2.0]
    assert all(line["file"] == clip for line in lines)
    assert all(len(line["scores"]) == 1 for line in lines)
    assert main(["predict", clip, *model, "--stream", "1"]) == 0
    table = capsys.readouterr().out
    assert "0.00-1.00 s" in table
    assert "0.00-2.00 s" in table
    assert main(["predict", clip, *model, "--stream", "1", "--chunk-length", "1"]) == 2
    assert "--stream and --chunk-length" in capsys.readouterr().err
