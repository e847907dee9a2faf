"""MFCC + chroma feature extractor for the LSTM-SA / ResLSTM-SA models (Krasnoproshin & Vashkevich).

Each clip becomes a ``(frames, 46)`` matrix: 34 MFCCs followed by 12 chroma bins per frame, computed
with numpy only (no librosa at run time) so the extractor can be copied next to a checkpoint. The
computation follows librosa's defaults, so ``librosa.feature.mfcc`` / ``librosa.feature.chroma_stft``
(with ``tuning=0``) give the same numbers (checked in ``tests/test_feature_extraction.py``):

- STFT: periodic Hann window of ``n_fft`` samples (default 1024 = 64 ms at 16 kHz), hop ``hop_length``
  (default 256 = 16 ms), centred frames with zero padding: a clip of ``n`` samples has
  ``1 + n // hop_length`` frames. Power spectrogram ``|X|^2``.
- MFCC: ``n_mels`` (128) Slaney-normalised mel filters from 0 Hz to Nyquist, ``10 log10(max(S, 1e-10))``
  clipped to 80 dB below the clip's maximum, orthonormal DCT-II, first ``num_mfcc`` (34) coefficients.
- Chroma: librosa's chroma filter bank (tuning 0, starting at C) applied to the power spectrogram,
  then each frame divided by its maximum (frames with no energy stay 0).

Normalisation (``normalization``):

- ``"utterance"`` (default): every feature is standardised with the mean and standard deviation over
  the clip's own frames (cepstral mean-variance normalisation). Needs no statistics, removes channel
  and level offsets; a clip gives the same features alone or inside a batch.
- ``"global"``: standardise with a fixed ``mean``/``std`` (46 values each) fitted once on training
  audio with :meth:`MfccChromaFeatureExtractor.fit_global_normalization`; keeps level differences
  between clips. The statistics are saved in ``preprocessor_config.json``.
- ``"none"``: raw features.

Padding frames are filled with ``padding_value`` (0.0) and marked 0 in the returned ``attention_mask``.

The numpy computation lives in :mod:`.audio_features` (numpy only, shared with the torch-free runtime
:mod:`hf_ser.runtime`): blocked, cached filter banks, all clips of a batch in one pass.

Speed: the blocks' matrix products are small, so numpy's multi-threaded BLAS only adds thread hand-off
costs, which explode when the cores are busy (measured 14x slower under load). The computation therefore
runs with BLAS limited to one thread via ``threadpoolctl`` when it is installed (it comes with
scikit-learn); without it the extractor works unchanged, only slower under load.
"""

from __future__ import annotations

import contextlib
from typing import ContextManager, Iterable, List, Optional, Sequence, Union

import numpy as np
from transformers import BatchFeature, SequenceFeatureExtractor

from .audio_features import NORMALIZATIONS, MfccChromaSettings, mfcc_chroma_batch, normalize_features

_THREADPOOL_CONTROLLER: list = []  # [ThreadpoolController] once built, [None] when threadpoolctl is absent


def _single_threaded_blas() -> ContextManager:
    """Context limiting numpy's BLAS to one thread (a no-op without ``threadpoolctl``).

    The controller is built once (inspecting the loaded libraries costs ~0.5 ms per call otherwise).
    """
    if not _THREADPOOL_CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # optional: this module may be copied next to a checkpoint
            _THREADPOOL_CONTROLLER.append(None)
        else:
            _THREADPOOL_CONTROLLER.append(ThreadpoolController())
    controller = _THREADPOOL_CONTROLLER[0]
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


class MfccChromaFeatureExtractor(SequenceFeatureExtractor):
    r"""Turns 16 kHz mono audio into frame-level MFCC + chroma features for LSTM-SA models.

    Args:
        sampling_rate (`int`, *optional*, defaults to 16000):
            Sampling rate the audio must have (resample before calling).
        num_mfcc (`int`, *optional*, defaults to 34):
            Number of cepstral coefficients per frame.
        num_chroma (`int`, *optional*, defaults to 12):
            Number of chroma (pitch-class) bins per frame.
        n_fft (`int`, *optional*, defaults to 1024):
            FFT size and Hann window length in samples (64 ms at 16 kHz).
        hop_length (`int`, *optional*, defaults to 256):
            Hop between frames in samples (16 ms at 16 kHz).
        n_mels (`int`, *optional*, defaults to 128):
            Number of mel filters the MFCCs are computed from (must be >= `num_mfcc`).
        top_db (`float`, *optional*, defaults to 80.0):
            Log-mel values are clipped to this many dB below the clip's maximum.
        normalization (`str`, *optional*, defaults to `"utterance"`):
            One of `"utterance"`, `"global"`, `"none"` (see the module docstring).
        mean (`list[float]`, *optional*):
            Per-feature means for `normalization="global"`.
        std (`list[float]`, *optional*):
            Per-feature standard deviations for `normalization="global"`.
        padding_value (`float`, *optional*, defaults to 0.0):
            Value of padded frames.
        return_attention_mask (`bool`, *optional*, defaults to `True`):
            Whether `__call__` returns the frame mask by default.

    Example:

    ```python
    >>> import numpy as np
    >>> from hf_ser.models.feature_extraction_mfcc_chroma import MfccChromaFeatureExtractor
    >>> extractor = MfccChromaFeatureExtractor()
    >>> clips = [np.random.randn(16000).astype(np.float32), np.random.randn(8000).astype(np.float32)]
    >>> batch = extractor(clips, sampling_rate=16000, padding=True, return_tensors="pt")
    >>> batch["input_values"].shape, batch["attention_mask"].sum(-1).tolist()
    (torch.Size([2, 63, 46]), [63, 32])

    ```
    """

    model_input_names = ["input_values", "attention_mask"]

    def __init__(
        self,
        sampling_rate: int = 16000,
        num_mfcc: int = 34,
        num_chroma: int = 12,
        n_fft: int = 1024,
        hop_length: int = 256,
        n_mels: int = 128,
        top_db: Optional[float] = 80.0,
        normalization: str = "utterance",
        mean: Optional[Sequence[float]] = None,
        std: Optional[Sequence[float]] = None,
        padding_value: float = 0.0,
        return_attention_mask: bool = True,
        **kwargs,
    ) -> None:
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"Unknown normalization {normalization!r}; choose one of {', '.join(NORMALIZATIONS)}."
            )
        if n_mels < num_mfcc:
            raise ValueError(f"n_mels ({n_mels}) must be >= num_mfcc ({num_mfcc}).")
        if hop_length <= 0 or n_fft <= 0:
            raise ValueError(f"n_fft ({n_fft}) and hop_length ({hop_length}) must be positive.")
        kwargs.pop("feature_size", None)  # derived: num_mfcc + num_chroma (present in saved configs)
        super().__init__(
            feature_size=num_mfcc + num_chroma,
            sampling_rate=sampling_rate,
            padding_value=padding_value,
            return_attention_mask=return_attention_mask,
            **kwargs,
        )
        self.num_mfcc = num_mfcc
        self.num_chroma = num_chroma
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.top_db = top_db
        self.normalization = normalization
        self.mean = None if mean is None else [float(v) for v in mean]
        self.std = None if std is None else [float(v) for v in std]
        if normalization == "global":
            self._check_global_stats()

    # ------------------------------------------------------------------ features
    @property
    def settings(self) -> MfccChromaSettings:
        """The STFT / filter settings, as the key of :mod:`.audio_features`' cached filter banks."""
        return MfccChromaSettings(
            sampling_rate=int(self.sampling_rate),
            n_fft=int(self.n_fft),
            hop_length=int(self.hop_length),
            n_mels=int(self.n_mels),
            num_mfcc=int(self.num_mfcc),
            num_chroma=int(self.num_chroma),
            top_db=None if self.top_db is None else float(self.top_db),
        )

    def num_frames(self, num_samples: int) -> int:
        """Number of frames a clip of ``num_samples`` samples yields (centred STFT)."""
        return 1 + num_samples // self.hop_length

    def _raw_features(self, waveforms: list[np.ndarray]) -> list[np.ndarray]:
        """``(frames, num_mfcc + num_chroma)`` un-normalised float32 features of each validated clip."""
        with _single_threaded_blas():
            return self._compute_raw_features(waveforms)

    def _compute_raw_features(self, waveforms: list[np.ndarray]) -> list[np.ndarray]:
        return mfcc_chroma_batch(waveforms, self.settings)

    def _normalize(self, features: np.ndarray) -> np.ndarray:
        if self.normalization == "global":
            self._check_global_stats()
        return normalize_features(features, self.normalization, self.mean, self.std)

    def _check_global_stats(self) -> None:
        for name in ("mean", "std"):
            values = getattr(self, name)
            if values is None or len(values) != self.feature_size:
                raise ValueError(
                    f"normalization='global' needs {name} with {self.feature_size} values, got "
                    f"{None if values is None else len(values)}; call fit_global_normalization(audio) first."
                )

    def _validate(self, waveform: Union[np.ndarray, Sequence[float]]) -> np.ndarray:
        array = np.asarray(waveform, dtype=np.float32)
        if array.ndim != 1:
            raise ValueError(f"Expected mono audio of shape (samples,), got shape {array.shape}.")
        if array.size == 0:
            raise ValueError("Audio clip is empty (0 samples).")
        if not np.all(np.isfinite(array)):
            raise ValueError("Audio clip contains NaN or Inf values.")
        return array

    def extract(self, waveform: Union[np.ndarray, Sequence[float]]) -> np.ndarray:
        """Normalised ``(frames, feature_size)`` float32 features of one clip (no padding)."""
        return self.extract_batch([waveform])[0]

    def extract_batch(self, waveforms: Sequence[Union[np.ndarray, Sequence[float]]]) -> list[np.ndarray]:
        """Normalised float32 features of each clip; all clips go through one blocked STFT pass."""
        raw = self._raw_features([self._validate(waveform) for waveform in waveforms])
        return [self._normalize(features) for features in raw]

    def fit_global_normalization(self, clips: Iterable[np.ndarray]) -> MfccChromaFeatureExtractor:
        """Compute per-feature mean/std over all frames of ``clips`` and switch to global normalisation.

        ``clips`` are 1-D arrays at ``self.sampling_rate`` (e.g. the training split). Returns ``self``.
        """
        total = np.zeros(self.feature_size)
        total_sq = np.zeros(self.feature_size)
        count = 0
        for clip in clips:
            features = self._raw_features([self._validate(clip)])[0].astype(np.float64)
            total += features.sum(axis=0)
            total_sq += (features * features).sum(axis=0)
            count += features.shape[0]
        if count == 0:
            raise ValueError("fit_global_normalization needs at least one clip.")
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
        self.mean, self.std = mean.tolist(), std.tolist()
        self.normalization = "global"
        return self

    # ------------------------------------------------------------------ batch API
    def __call__(
        self,
        raw_speech: Union[np.ndarray, List[float], List[np.ndarray], List[List[float]]],
        sampling_rate: Optional[int] = None,
        padding: Union[bool, str] = True,
        max_length: Optional[int] = None,
        truncation: bool = False,
        pad_to_multiple_of: Optional[int] = None,
        return_attention_mask: Optional[bool] = None,
        return_tensors: Optional[str] = None,
        **kwargs,
    ) -> BatchFeature:
        """Featurise one clip or a batch of clips.

        Args:
            raw_speech: a 1-D array / list of floats, or a list of them.
            sampling_rate: sampling rate of `raw_speech`; must equal `self.sampling_rate`.
            padding: `True`/`"longest"`, `"max_length"` or `False` (as in transformers).
            max_length: maximum clip length in **samples** (like `Wav2Vec2FeatureExtractor`); with
                `truncation=True` longer clips are cut, with `padding="max_length"` frames are padded to
                the frame count of `max_length` samples.
            return_attention_mask: defaults to `self.return_attention_mask` (True).
            return_tensors: `"pt"`, `"np"` or `None`.

        Returns:
            `BatchFeature` with `input_values` `(batch, frames, 46)` float32 and `attention_mask`
            `(batch, frames)` int32 (1 = real frame).
        """
        if sampling_rate is not None and sampling_rate != self.sampling_rate:
            raise ValueError(
                f"Audio sampled at {sampling_rate} Hz but the feature extractor expects "
                f"{self.sampling_rate} Hz; resample first (e.g. hf_ser.data.prepare_audio)."
            )
        is_batched = isinstance(raw_speech, (list, tuple)) and (
            len(raw_speech) > 0 and isinstance(raw_speech[0], (np.ndarray, list, tuple))
        )
        if isinstance(raw_speech, np.ndarray) and raw_speech.ndim == 2:
            raw_speech, is_batched = list(raw_speech), True
        clips = list(raw_speech) if is_batched else [raw_speech]
        if truncation and max_length is not None:
            clips = [np.asarray(clip)[:max_length] for clip in clips]
        features = self.extract_batch(clips)
        frame_max_length = None if max_length is None else self.num_frames(max_length)
        padded = self.pad(
            BatchFeature({"input_values": features}),
            padding=padding,
            max_length=frame_max_length,
            truncation=False,
            pad_to_multiple_of=pad_to_multiple_of,
            return_attention_mask=self.return_attention_mask
            if return_attention_mask is None
            else return_attention_mask,
        )
        values = padded["input_values"]
        if isinstance(values, np.ndarray):
            padded["input_values"] = values.astype(np.float32)
        else:
            padded["input_values"] = [np.asarray(v, dtype=np.float32) for v in values]
        if return_tensors is not None:
            padded = padded.convert_to_tensors(return_tensors)
        return padded
