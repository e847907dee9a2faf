"""Layer mixing: choose which backbone hidden states feed the pooling.

SER works best from the middle layers of SSL models, so besides the last hidden state hf_ser can learn
a softmax-weighted sum of all hidden states (embeddings + every transformer layer), as transformers'
``use_weighted_layer_sum`` and SUPERB do. The weights live in an ``nn.Module`` (not a bare parameter) so
peft can list it in ``modules_to_save`` and LoRA adapters carry it.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn


class LayerMix(nn.Module):
    """Combine backbone hidden states into one ``(batch, frames, hidden)`` sequence.

    Args:
        mode: ``"last"`` (use ``last_hidden_state``) or ``"weighted"`` (learned softmax weights over
            ``num_layers`` hidden states, initialised uniform).
        num_layers: number of hidden states the backbone returns (``num_hidden_layers + 1``).
    """

    def __init__(self, mode: str, num_layers: int) -> None:
        super().__init__()
        if mode not in ("last", "weighted"):
            raise ValueError(f"Unknown layer_weighting {mode!r}; choose one of last, weighted.")
        self.mode = mode
        self.num_layers = num_layers
        self.layer_weights = (
            nn.Parameter(torch.full((num_layers,), 1.0 / num_layers)) if mode == "weighted" else None
        )

    @property
    def needs_all_hidden_states(self) -> bool:
        """Whether the backbone must be run with ``output_hidden_states=True``."""
        return self.mode == "weighted"

    def normalized_weights(self) -> Optional[torch.Tensor]:
        """Softmax of the layer weights (``None`` for ``"last"``), e.g. to plot which layers matter."""
        return None if self.layer_weights is None else torch.softmax(self.layer_weights, dim=-1)

    def forward(
        self, last_hidden_state: torch.Tensor, hidden_states: Optional[Sequence[torch.Tensor]] = None
    ) -> torch.Tensor:
        if self.layer_weights is None:
            return last_hidden_state
        if hidden_states is None or len(hidden_states) != self.num_layers:
            got = None if hidden_states is None else len(hidden_states)
            raise ValueError(f"Weighted layer mix expects {self.num_layers} hidden states, got {got}.")
        stacked = torch.stack(tuple(hidden_states), dim=1)  # (B, L, T, H)
        weights = self.normalized_weights().to(stacked.dtype).view(1, -1, 1, 1)
        return (stacked * weights).sum(dim=1)
