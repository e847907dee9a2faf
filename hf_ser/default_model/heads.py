"""Output heads: map the pooled utterance vector to class logits or regression values, and the frames to
CTC character logits.

One utterance head shape covers the layouts users already have: ``dropout -> dense -> activation -> dropout
-> out_proj``, which is the audEERING A/D/V head (``classifier.dense`` / ``classifier.out_proj`` with tanh)
and, with ``activation="identity"`` and no dropout, transformers' ``projector`` + ``classifier``.
:class:`CTCHead` is the frame-level ``dropout -> linear`` head of transformers' ``Wav2Vec2ForCTC``.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

HEAD_ACTIVATIONS = ("tanh", "relu", "gelu", "identity")


def build_activation(name: str) -> nn.Module:
    """Return the activation module called ``name`` (one of :data:`HEAD_ACTIVATIONS`)."""
    activations = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "identity": nn.Identity}
    if name not in activations:
        raise ValueError(f"Unknown head_activation {name!r}; choose one of {', '.join(HEAD_ACTIVATIONS)}.")
    return activations[name]()


class SERHead(nn.Module):
    """``dropout -> dense -> activation -> dropout -> out_proj``; without ``projector_size`` just
    ``dropout -> out_proj``.

    Args:
        input_size: size of the pooled vector.
        output_size: number of classes or regression targets.
        projector_size: width of ``dense``; ``None`` for a single linear layer.
        activation: one of :data:`HEAD_ACTIVATIONS`.
        dropout: dropout probability.
    """

    def __init__(
        self,
        input_size: int,
        output_size: int,
        projector_size: Optional[int] = 256,
        activation: str = "tanh",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        if projector_size is None:
            self.dense = None
            self.activation = None
            out_features = input_size
        else:
            self.dense = nn.Linear(input_size, projector_size)
            self.activation = build_activation(activation)
            out_features = projector_size
        self.out_proj = nn.Linear(out_features, output_size)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        hidden = self.dropout(pooled)
        if self.dense is not None:
            hidden = self.dropout(self.activation(self.dense(hidden)))
        return self.out_proj(hidden)


class CTCHead(nn.Module):
    """``dropout -> proj``: backbone frames ``(batch, frames, hidden)`` to character logits
    ``(batch, frames, vocab)`` for the auxiliary CTC loss (Cai et al., 2021) and greedy transcription.

    Args:
        hidden_size: size of the backbone frames.
        vocab_size: number of CTC tokens, blank included.
        dropout: dropout probability on the frames.
    """

    def __init__(self, hidden_size: int, vocab_size: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(hidden_size, vocab_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dropout(hidden_states))
