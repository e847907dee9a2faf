"""Streaming: classify audio as it arrives, with a running prediction after every piece.

:meth:`hf_ser.inference.pipeline.SERPipeline.stream` is built from the two parts here:

- :func:`stream_pieces` turns one clip (file, array, bytes, dict) or an iterable of audio blocks (a
  microphone-like source) into pieces of ``piece_samples`` samples at the model's rate. File clips
  are read piece by piece (never decoded whole); blocks of any length are validated and resampled
  with :func:`hf_ser.data.audio.prepare_audio` one by one and re-cut to fixed pieces, so results do
  not depend on how a device slices its audio. (Blocks at another rate are resampled independently,
  which adds tiny edge effects at block boundaries; feed 16 kHz blocks to avoid them.)
- :class:`TorchStreamer` feeds the pieces to ``model.stream_step`` (:mod:`hf_ser.models.streaming`)
  and yields the running outputs.

Only hf_ser SSL models whose seq2seq encoder is causal and linear (or absent) stream: the backbone
runs on each piece alone (as windows do with ``chunk_length_s``); everything after it carries its
state across pieces exactly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from typing import Any, Callable, Optional

import numpy as np
import torch

from ..data.audio import MIN_DURATION_S, AudioError, pad_short_audio, validate_audio
from .backends import ClipOutput, to_numpy
from .inputs import (
    AudioSource,
    UnsupportedInputError,
    prepare_named_audio,
    source_from_value,
)

Piece = tuple[np.ndarray, int]
"""A piece of audio ready for the model and its number of real samples (short last pieces are padded)."""


def check_piece_seconds(piece_seconds: Any) -> float:
    """Validate the piece length: a finite number of seconds, at least ``MIN_DURATION_S``."""
    if isinstance(piece_seconds, bool) or not isinstance(piece_seconds, (int, float)):
        raise ValueError(f"piece_seconds must be a number of seconds, got {piece_seconds!r}.")
    if not math.isfinite(piece_seconds) or piece_seconds < MIN_DURATION_S:
        raise ValueError(
            f"piece_seconds must be a finite number >= {MIN_DURATION_S} s, got {piece_seconds!r}."
        )
    return float(piece_seconds)


def _is_single_clip(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike, bytes, bytearray, memoryview, dict, np.ndarray)) or (
        hasattr(value, "detach") and hasattr(value, "numpy")
    )


def stream_pieces(
    inputs: Any,
    piece_samples: int,
    load: Callable[[AudioSource, int, int], np.ndarray],
    *,
    sampling_rate: Optional[int] = None,
    target_sampling_rate: int,
) -> Iterator[Piece]:
    """Cut ``inputs`` into pieces of ``piece_samples`` samples at ``target_sampling_rate``.

    Args:
        inputs: one clip in any form the pipeline accepts (path, bytes, array/tensor with
            ``sampling_rate``, dict), or an iterable (list, generator...) of audio blocks of any length
            at ``sampling_rate`` (mono or multichannel, integer or float PCM).
        piece_samples (`int`): piece length; the last piece may be shorter.
        load (`Callable`): ``load(source, start, end)`` reads samples ``[start, end)`` of a clip (the
            pipeline's window reader, which pads pieces shorter than ``MIN_DURATION_S``).
        sampling_rate (`int`, *optional*): rate of array inputs and blocks.
        target_sampling_rate (`int`): the model's rate.

    A single clip is validated here, before the first piece is requested; blocks of an iterable are
    validated as they arrive (:class:`~hf_ser.data.audio.AudioError` naming the block).
    """
    if _is_single_clip(inputs):
        source = source_from_value(inputs, target_sampling_rate, input_rate=sampling_rate, name="stream")
        return _clip_pieces(source, piece_samples, load)
    if isinstance(inputs, Iterable):
        if sampling_rate is None:
            raise AudioError(
                "A stream of audio blocks needs their sampling rate: "
                "pipe.stream(blocks, sampling_rate=16000)."
            )
        validate_audio(np.zeros(1, dtype=np.float32), sampling_rate)  # rate check only
        return _rebuffer(inputs, piece_samples, sampling_rate, target_sampling_rate)
    raise UnsupportedInputError(
        f"stream: unsupported input type {type(inputs).__name__}. Pass one clip (path, bytes, array with "
        "sampling_rate=, dict) or an iterable of audio blocks (numpy arrays) with sampling_rate=."
    )


def _clip_pieces(
    source: AudioSource, piece_samples: int, load: Callable[[AudioSource, int, int], np.ndarray]
) -> Iterator[Piece]:
    for start in range(0, source.num_samples, piece_samples):
        end = min(start + piece_samples, source.num_samples)
        yield load(source, start, end), end - start


def _rebuffer(
    blocks: Iterable, piece_samples: int, sampling_rate: int, target_sampling_rate: int
) -> Iterator[Piece]:
    """Validate and resample each block, and re-cut the audio into pieces of ``piece_samples``."""
    pending: list[np.ndarray] = []
    buffered = 0
    for index, block in enumerate(blocks):
        audio = prepare_named_audio(block, sampling_rate, target_sampling_rate, f"stream block {index}")
        pending.append(audio)
        buffered += audio.shape[0]
        if buffered < piece_samples:
            continue
        joined = np.concatenate(pending)
        whole = buffered // piece_samples * piece_samples
        for start in range(0, whole, piece_samples):
            yield joined[start : start + piece_samples], piece_samples
        pending, buffered = [joined[whole:]], buffered - whole
    if buffered:
        tail = np.concatenate(pending)
        yield pad_short_audio(tail, target_sampling_rate, "the last piece of the stream"), buffered


class TorchStreamer:
    """Runs pieces through an hf_ser model's ``stream_step`` (fp32, ``torch.inference_mode``).

    Args:
        backend (`TorchBackend`): the pipeline's backend; its model must be able to stream, else a
            `ValueError` says why (ONNX backend, non-hf_ser model, bidirectional or softmax seq2seq).
    """

    def __init__(self, backend: Any) -> None:
        model = getattr(backend, "model", None)
        if model is None or not hasattr(model, "stream_step"):
            kind = type(model).__name__ if model is not None else f"the {type(backend).__name__}"
            raise ValueError(
                "Streaming needs the torch backend and an hf_ser SERModelForAudioClassification; "
                f"got {kind}. Use pipe(..., chunk_length_s=...) to classify long audio in windows instead."
            )
        model.init_stream_state()  # raises the model's own reason when it cannot stream
        self.backend = backend
        self.model = model

    def run(self, pieces: Iterable[Piece]) -> Iterator[tuple[int, int, ClipOutput]]:
        """Yield ``(start, end, output)`` per piece: its sample range and the running outputs so far."""
        backend, state, position = self.backend, None, 0
        task = backend.task
        for audio, length in pieces:
            inputs = backend.feature_extractor(
                [audio], sampling_rate=backend.sampling_rate, return_attention_mask=True, return_tensors="pt"
            )
            with torch.inference_mode():
                output, state = self.model.stream_step(inputs["input_values"].to(backend.device), state)
            clip = ClipOutput(embedding=to_numpy(output.pooled)[0])
            if task != "regression":
                clip.class_logits = to_numpy(output.logits)[0]
            if output.regression is not None:
                clip.regression = to_numpy(output.regression)[0]
            yield position, position + length, clip
            position += length


__all__ = ["Piece", "TorchStreamer", "check_piece_seconds", "stream_pieces"]
