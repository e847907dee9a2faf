"""Deprecated alias of :mod:`hf_ser.models.seq2seq` (kept for one release, with a `FutureWarning`)."""

from ._deprecation import warn_moved
from .models.linear_attention import (
    chunk_gated_delta_rule,
    chunk_linear_attention,
    recurrent_gated_delta_rule,
    recurrent_linear_attention,
)
from .models.mixers_softmax import forgetting_attention
from .models.seq2seq import (
    LINEAR_MECHANISMS,
    ONNX_EXPORTABLE,
    SEQ2SEQ_MECHANISMS,
    Seq2SeqBlock,
    Seq2SeqEncoder,
    build_token_mixer,
)
from .models.streaming import STREAMABLE_MECHANISMS, Seq2SeqStream, Seq2SeqStreamState

warn_moved("hf_ser.seq2seq", "hf_ser.models.seq2seq")

__all__ = [
    "LINEAR_MECHANISMS",
    "ONNX_EXPORTABLE",
    "SEQ2SEQ_MECHANISMS",
    "STREAMABLE_MECHANISMS",
    "Seq2SeqBlock",
    "Seq2SeqEncoder",
    "Seq2SeqStream",
    "Seq2SeqStreamState",
    "build_token_mixer",
    "chunk_gated_delta_rule",
    "chunk_linear_attention",
    "forgetting_attention",
    "recurrent_gated_delta_rule",
    "recurrent_linear_attention",
]
