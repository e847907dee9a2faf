"""Wav2Small-style student: raw audio -> in-model log-mel -> small 2-D CNN -> attention pooling -> heads.

Data flow (shapes for a batch of ``B`` clips of ``N`` samples):

1. Waveform ``(B, N)`` with its sample mask; padded samples are zeroed and, with
   ``normalize_waveform``, each clip is standardised over its real samples.
2. :class:`LogMelFrontEnd`: centred STFT (zero padding, periodic Hann window), power, mel filters,
   ``log(mel + 1e-6)`` and per-clip mean/variance normalisation of each mel band over the real frames
   -> ``(B, 1, frames, n_mels)``. The window and mel matrix are buffers rebuilt from the config, not
   trained and not saved; the STFT exports as the ONNX ``STFT`` operator (opset >= 17), so the ONNX
   file holds no DFT matrix.
3. :class:`ConvBlock` x len(conv_channels): 3x3 conv -> batch norm -> ReLU -> max pool (time by
   ``time_pooling``, frequency by 2). Padded frames are zeroed after every step, so the zero padding
   the convolutions see at a clip's end is the same alone or in a batch.
4. Per frame, channels x remaining mel bins -> linear -> ReLU (``hidden_size``) -> soft attention
   pooling over real frames -> dropout -> linear heads (classification and/or A/D/V).

A clip therefore gets the same output alone or padded inside a batch (in eval mode, where batch norm
uses its running statistics). In training mode the batch statistics also see the (zero) padded
positions; length-grouped batches (``group_by_length``) keep that effect small.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init

from .audio_features import LogMelSettings, log_mel_projection
from .audio_features import hann_window as numpy_hann_window
from .configuration_student import Wav2SmallConfig
from .docstrings import add_forward_docstring
from .heads import SERHeadsMixin
from .masks import lengths_to_mask
from .outputs import SERModelOutput
from .pooling import SoftAttentionPooling
from .weight_init import init_linear_


def hann_window(length: int) -> torch.Tensor:
    """Periodic Hann window of ``length`` samples (as librosa / torch.hann_window)."""
    return torch.from_numpy(numpy_hann_window(length).astype(np.float32))


def mel_matrix(config: Wav2SmallConfig) -> torch.Tensor:
    """``(n_fft // 2 + 1, n_mels)`` HTK-scale mel filters with Slaney area normalisation."""
    settings = LogMelSettings(
        sampling_rate=config.sampling_rate,
        n_fft=config.n_fft,
        win_length=config.win_length,
        hop_length=config.hop_length,
        n_mels=config.n_mels,
        f_min=float(config.f_min),
        f_max=float(config.f_max),
    )
    return torch.from_numpy(log_mel_projection(settings).copy())


def masked_standardize(values: torch.Tensor, mask: torch.Tensor, dim: int, eps: float = 1e-5) -> torch.Tensor:
    """Zero mean, unit variance along ``dim`` over positions where ``mask`` (broadcastable) is 1;
    masked positions come out as 0."""
    weights = mask.to(values.dtype)
    count = weights.sum(dim=dim, keepdim=True).clamp(min=1.0)
    mean = (values * weights).sum(dim=dim, keepdim=True) / count
    centred = (values - mean) * weights
    variance = (centred * centred).sum(dim=dim, keepdim=True) / count
    return centred / torch.sqrt(variance + eps)


class LogMelFrontEnd(nn.Module):
    """Waveform ``(B, N)`` + sample lengths -> normalised log-mel ``(B, frames, n_mels)`` + frame lengths."""

    def __init__(self, config: Wav2SmallConfig) -> None:
        super().__init__()
        self.n_fft = config.n_fft
        self.hop_length = config.hop_length
        self.num_bins = config.n_fft // 2 + 1
        self.normalize_waveform = config.normalize_waveform
        self.register_buffer("window", hann_window(config.win_length), persistent=False)
        self.register_buffer("mel", mel_matrix(config), persistent=False)

    def reset_buffers(self, config: Wav2SmallConfig) -> None:
        """Recompute the fixed window and mel matrix (after meta-device construction)."""
        init.copy_(self.window, hann_window(config.win_length))
        init.copy_(self.mel, mel_matrix(config))

    def forward(
        self, waveform: torch.Tensor, sample_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        sample_mask = lengths_to_mask(sample_lengths, waveform.shape[1])
        if self.normalize_waveform:
            waveform = masked_standardize(waveform, sample_mask, dim=1)
        else:
            waveform = waveform * sample_mask.to(waveform.dtype)
        half = self.n_fft // 2
        padded = nn.functional.pad(waveform.unsqueeze(1), (half, half)).squeeze(1)
        stft_kwargs = {
            "hop_length": self.hop_length,
            "win_length": self.window.shape[0],
            "window": self.window,
            "center": False,
        }
        if torch.jit.is_tracing():
            # The TorchScript ONNX exporter maps only the real-valued form to the ONNX STFT operator.
            spectrum = torch.stft(padded, self.n_fft, return_complex=False, **stft_kwargs)
        else:
            spectrum = torch.view_as_real(torch.stft(padded, self.n_fft, return_complex=True, **stft_kwargs))
        power = spectrum.pow(2).sum(-1)  # (B, bins, frames)
        log_mel = torch.log(torch.matmul(power.transpose(1, 2), self.mel) + 1e-6)  # (B, frames, mels)
        frame_lengths = 1 + torch.div(sample_lengths, self.hop_length, rounding_mode="floor")
        frame_mask = lengths_to_mask(frame_lengths, log_mel.shape[1])
        return masked_standardize(log_mel, frame_mask.unsqueeze(-1), dim=1), frame_lengths


class ConvBlock(nn.Module):
    """3x3 conv -> batch norm -> ReLU -> max pool (time_pool x 2) on ``(B, C, frames, freq)``, masked."""

    def __init__(self, in_channels: int, out_channels: int, time_pool: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d(kernel_size=(time_pool, 2), stride=(time_pool, 2))
        self.time_pool = time_pool

    def forward(self, hidden: torch.Tensor, frame_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = lengths_to_mask(frame_lengths, hidden.shape[2]).to(hidden.dtype)[:, None, :, None]
        hidden = torch.relu(self.norm(self.conv(hidden))) * mask
        hidden = self.pool(hidden)
        frame_lengths = torch.div(frame_lengths, self.time_pool, rounding_mode="floor")
        mask = lengths_to_mask(frame_lengths, hidden.shape[2]).to(hidden.dtype)[:, None, :, None]
        return hidden * mask, frame_lengths


class Wav2SmallPreTrainedModel(PreTrainedModel):
    """Base class: config class and weight initialisation of the Wav2Small-style student."""

    config_class = Wav2SmallConfig
    config: Wav2SmallConfig
    base_model_prefix = "wav2small"
    main_input_name = "input_values"
    input_modalities = "audio"

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, LogMelFrontEnd):
            module.reset_buffers(self.config)
        elif isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            init_linear_(module, self.config.initializer_range)
        else:
            super()._init_weights(module)


class Wav2SmallForAudioClassification(SERHeadsMixin, Wav2SmallPreTrainedModel):
    """Wav2Small-style student on raw 16 kHz audio (log-mel computed inside the model).

    Use `transformers.Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True)` as the
    feature extractor (normalisation happens in the model), e.g. via
    `AutoFeatureExtractor.from_pretrained(checkpoint)`.

    Example:

    ```python
    >>> import numpy as np
    >>> from transformers import Wav2Vec2FeatureExtractor
    >>> from hf_ser import Wav2SmallConfig, Wav2SmallForAudioClassification
    >>> model = Wav2SmallForAudioClassification(Wav2SmallConfig(task="regression")).eval()
    >>> extractor = Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True)
    >>> clips = [np.random.randn(16000).astype(np.float32), np.random.randn(8000).astype(np.float32)]
    >>> inputs = extractor(clips, sampling_rate=16000, padding=True, return_tensors="pt")
    >>> model(**inputs).regression.shape
    torch.Size([2, 3])

    ```
    """

    def __init__(self, config: Wav2SmallConfig) -> None:
        super().__init__(config)
        self.front_end = LogMelFrontEnd(config)
        channels = [1, *config.conv_channels]
        self.blocks = nn.ModuleList(
            ConvBlock(channels[i], channels[i + 1], pool) for i, pool in enumerate(config.time_pooling)
        )
        remaining_mels = config.n_mels >> len(config.conv_channels)
        self.projection = nn.Linear(channels[-1] * remaining_mels, config.hidden_size)
        self.pooling = SoftAttentionPooling(config.hidden_size, attention_size=None)
        self._build_heads(config.hidden_size, config.classifier_dropout)
        self.post_init()

    def frame_lengths(self, sample_lengths: torch.Tensor) -> torch.Tensor:
        """Number of pooled frames for clips of ``sample_lengths`` samples."""
        lengths = 1 + torch.div(sample_lengths, self.config.hop_length, rounding_mode="floor")
        for pool in self.config.time_pooling:
            lengths = torch.div(lengths, pool, rounding_mode="floor")
        return lengths

    @add_forward_docstring
    def forward(
        self,
        input_values: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        labels: Optional[torch.Tensor] = None,
        regression_labels: Optional[torch.Tensor] = None,
        return_dict: Optional[bool] = None,
        **kwargs: Any,
    ) -> Union[SERModelOutput, tuple]:
        r"""Classify / score a batch of waveforms.

        Args:
            input_values (`torch.FloatTensor` of shape `(batch, samples)`):
                16 kHz mono waveforms, right-padded.
            attention_mask (`torch.LongTensor` of shape `(batch, samples)`, *optional*):
                1 for real samples, 0 for padding. Always pass it for padded batches.
            {labels_args}
            {return_dict_arg}

        Returns:
            `SERModelOutput` with `loss`, `logits`, `regression`, `pooled` and `frame_weights` (attention
            over the pooled frames, 40 ms each with the default config).
        """
        if input_values.dim() != 2:
            raise ValueError(
                f"input_values must have shape (batch, samples), got {tuple(input_values.shape)}."
            )
        if attention_mask is None:
            sample_lengths = torch.full(
                (input_values.shape[0],), input_values.shape[1], dtype=torch.long, device=input_values.device
            )
        else:
            sample_lengths = attention_mask.long().sum(dim=-1)
        if not torch.jit.is_tracing() and not torch.compiler.is_compiling():
            shortest = int(sample_lengths.min())
            if shortest < self.config.min_samples:
                raise ValueError(
                    f"A clip has {shortest} samples; Wav2Small needs at least {self.config.min_samples} "
                    f"({1000 * self.config.min_samples / self.config.sampling_rate:.0f} ms)."
                )
        log_mel, frame_lengths = self.front_end(input_values, sample_lengths)
        hidden = log_mel.unsqueeze(1)  # (B, 1, frames, mels)
        for block in self.blocks:
            hidden, frame_lengths = block(hidden, frame_lengths)
        hidden = hidden.permute(0, 2, 1, 3).flatten(2)  # (B, frames, channels * mels)
        mask = lengths_to_mask(frame_lengths, hidden.shape[1])
        hidden = torch.relu(self.projection(hidden)) * mask.unsqueeze(-1).to(hidden.dtype)
        return self._heads_output(self.pooling(hidden, mask), labels, regression_labels, return_dict)
