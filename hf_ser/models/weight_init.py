"""Weight initialisers used by the ``_init_weights`` of the hf_ser models.

They go through transformers' ``initialization`` functions, which skip parameters already loaded from a
checkpoint, so ``from_pretrained`` never overwrites trained weights.
"""

from __future__ import annotations

import math

from torch import nn
from transformers import initialization as init


def init_linear_(linear: nn.Linear, std: float) -> None:
    """Normal(0, ``std``) weight and zero bias (``std`` is the config's ``initializer_range``)."""
    init.normal_(linear.weight, mean=0.0, std=std)
    if linear.bias is not None:
        init.zeros_(linear.bias)


def init_lstm_(lstm: nn.LSTM) -> None:
    """PyTorch's default LSTM initialisation, uniform(-1/sqrt(hidden), 1/sqrt(hidden))."""
    bound = 1.0 / math.sqrt(lstm.hidden_size)
    for parameter in lstm.parameters():
        init.uniform_(parameter, -bound, bound)
