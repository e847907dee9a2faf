"""Configuration of :class:`~.modeling_student.Wav2SmallForAudioClassification`, a Wav2Small-style student.

Wav2Small (Kounadis-Bastian et al., 2024) is a ~72k-parameter model trained on a teacher's
arousal/dominance/valence outputs; quantised to int8 its ONNX file is 120 KB. hf_ser's student keeps the
ideas (log-mel input computed inside the model, a small VGG-like 2-D convolution stack, attention pooling,
tiny heads, distillation) with its own layer sizes: the default build has 55,059 parameters for
A/D/V regression. Because the log-mel front-end is part of the model, the exported ONNX graph takes raw
16 kHz audio plus its attention mask and needs no feature code at inference time.

Task, label and loss options come from :class:`~.configuration_base.SERHeadConfig`, the base of every config
of the family; the default task is A/D/V regression as in the paper.
"""

from __future__ import annotations

from typing import Any, Optional, Union

from .configuration_base import SERHeadConfig


class Wav2SmallConfig(SERHeadConfig):
    r"""Configuration for :class:`Wav2SmallForAudioClassification`.

    Args:
        sampling_rate (`int`, *optional*, defaults to 16000):
            Sampling rate of the input audio.
        n_fft (`int`, *optional*, defaults to 512):
            FFT size in samples (a power of two keeps ONNX Runtime's STFT fast).
        win_length (`int`, *optional*, defaults to 400):
            Hann window length in samples (25 ms at 16 kHz), centred in the `n_fft` frame; <= `n_fft`.
        hop_length (`int`, *optional*, defaults to 160):
            Hop between frames (10 ms). A clip of `n` samples has `1 + n // hop_length` log-mel frames.
        n_mels (`int`, *optional*, defaults to 40):
            Number of mel bands (HTK mel scale, Slaney area normalisation).
        f_min (`float`, *optional*, defaults to 20.0):
            Lowest mel band edge in Hz.
        f_max (`float`, *optional*):
            Highest mel band edge in Hz; defaults to `sampling_rate / 2`.
        normalize_waveform (`bool`, *optional*, defaults to `True`):
            Standardise each clip's real samples to zero mean and unit variance inside the model (so the
            feature extractor does not need to, and the ONNX graph is self-contained).
        conv_channels (`list[int]`, *optional*, defaults to `[16, 32, 48, 64]`):
            Output channels of the 3x3 convolution blocks (conv -> batch norm -> ReLU -> max pool).
        time_pooling (`list[int]`, *optional*, defaults to `[2, 2, 1, 1]`):
            Max-pool factor along time of each block (1 or 2); frequency is halved in every block.
        hidden_size (`int`, *optional*, defaults to 64):
            Size of the per-frame vector after the convolutions (and of the pooled utterance vector).
        classifier_dropout (`float`, *optional*, defaults to 0.1):
            Dropout on the pooled vector before the output layers.
        task (`str`, *optional*, defaults to `"regression"`):
            `"classification"`, `"regression"` or `"multitask"`, as in
            :class:`~.configuration_base.SERHeadConfig`.
        regression_targets, classification_loss, class_weights, focal_gamma, regression_loss,
        regression_loss_weights, multitask_weight:
            As in :class:`~.configuration_base.SERHeadConfig`.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Standard deviation of the normal initialiser of linear layers.

    Example:

    ```python
    >>> from hf_ser import Wav2SmallConfig, Wav2SmallForAudioClassification
    >>> model = Wav2SmallForAudioClassification(Wav2SmallConfig())
    >>> sum(p.numel() for p in model.parameters()) <= 72_000
    True

    ```
    """

    model_type = "hf_ser_wav2small"

    sampling_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 40
    f_min: Union[float, int] = 20.0
    f_max: Optional[Union[float, int]] = None
    normalize_waveform: bool = True
    conv_channels: Union[list[int], tuple[int, ...]] = (16, 32, 48, 64)
    time_pooling: Union[list[int], tuple[int, ...]] = (2, 2, 1, 1)
    hidden_size: int = 64
    task: str = "regression"
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs: Any) -> None:
        labels_given = self._labels_given(kwargs)
        super().__post_init__(**kwargs)
        self.conv_channels = [int(c) for c in self.conv_channels]
        self.time_pooling = [int(p) for p in self.time_pooling]
        if self.f_max is None:
            self.f_max = self.sampling_rate / 2
        if len(self.conv_channels) != len(self.time_pooling) or not self.conv_channels:
            raise ValueError(
                f"conv_channels ({self.conv_channels}) and time_pooling ({self.time_pooling}) must be "
                "non-empty and of the same length (one entry per convolution block)."
            )
        if any(p not in (1, 2) for p in self.time_pooling):
            raise ValueError(f"time_pooling entries must be 1 or 2, got {self.time_pooling}.")
        if self.n_mels >> len(self.conv_channels) < 1:
            raise ValueError(
                f"n_mels={self.n_mels} is too small for {len(self.conv_channels)} blocks that each halve "
                f"frequency; use n_mels >= {2 ** len(self.conv_channels)}."
            )
        if not 0 <= self.f_min < self.f_max <= self.sampling_rate / 2:
            raise ValueError(
                f"Need 0 <= f_min < f_max <= sampling_rate / 2, got f_min={self.f_min}, f_max={self.f_max}, "
                f"sampling_rate={self.sampling_rate}."
            )
        if not 1 <= self.win_length <= self.n_fft:
            raise ValueError(f"win_length must be in [1, n_fft={self.n_fft}], got {self.win_length}.")
        for name in ("n_fft", "hop_length", "hidden_size", "sampling_rate"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        self._validate_head_options(labels_given)

    @property
    def min_samples(self) -> int:
        """Shortest clip (in samples) that still leaves one frame after all time pooling."""
        factor = 1
        for pool in self.time_pooling:
            factor *= pool
        return max(1, self.hop_length * (factor - 1))
