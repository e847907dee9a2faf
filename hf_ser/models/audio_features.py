"""Fast numpy-only audio features: MFCC + chroma (LSTM-SA) and log-mel (Wav2Small student).

This module imports numpy only (no torch, no transformers), so the torch-free runtime
(:mod:`hf_ser.runtime`) and the transformers feature extractor
(:class:`~.feature_extraction_mfcc_chroma.MfccChromaFeatureExtractor`) compute features with one
implementation. The numbers follow librosa's defaults (``librosa.feature.mfcc`` /
``librosa.feature.chroma_stft(tuning=0)``), as checked in ``tests/test_feature_extraction.py``.

Why it is fast:

- the window, the mel and chroma filter banks and the DCT basis are built once per setting
  (:func:`functools.lru_cache`); mel and chroma filters are stacked into one ``(bins, mels + chroma)``
  projection, so one matrix product serves both;
- frames are strided views of the padded signal (no copy); they are windowed, transformed with one
  ``rfft`` call and projected in blocks of :data:`BLOCK_FRAMES` frames that stay in the CPU cache, so
  memory stays bounded by the block, not the clip (a 10-minute clip never materialises its
  ``(frames, 513)`` spectrogram);
- the frames of all clips of a batch share the blocks (vectorised over the batch as well as frames);
- the FFT runs in float64 (numpy's float32 FFT is several times slower), the projection in float32
  (the power spectrum needs no more than float32's 24 bits; error far below the librosa tolerance).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

BLOCK_FRAMES = 256
"""Frames per FFT block: 256 x 1024 float64 samples (2 MB) plus their spectrum stay in the cache."""

LOG_FLOOR = 1e-10
"""Power floor before ``10 * log10`` (librosa's ``amin``)."""


# ---------------------------------------------------------------------------------------------------
# Fixed matrices, built once per setting
# ---------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def hann_window(length: int) -> np.ndarray:
    """Periodic Hann window of ``length`` samples (librosa / ``torch.hann_window``), float64, read-only."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)
    window.flags.writeable = False
    return window


def hertz_to_mel(freq: np.ndarray, mel_scale: str) -> np.ndarray:
    """Hz -> mel on the ``"htk"`` or ``"slaney"`` scale (as ``transformers.audio_utils.hertz_to_mel``)."""
    freq = np.asarray(freq, dtype=np.float64)
    if mel_scale == "htk":
        return 2595.0 * np.log10(1.0 + freq / 700.0)
    linear = 3.0 * freq / 200.0
    logarithmic = 15.0 + np.log(np.maximum(freq, 1e-10) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(freq >= 1000.0, logarithmic, linear)


def mel_to_hertz(mels: np.ndarray, mel_scale: str) -> np.ndarray:
    """Mel -> Hz, the inverse of :func:`hertz_to_mel`."""
    mels = np.asarray(mels, dtype=np.float64)
    if mel_scale == "htk":
        return 700.0 * (np.power(10, mels / 2595.0) - 1.0)
    linear = 200.0 * mels / 3.0
    logarithmic = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels - 15.0))
    return np.where(mels >= 15.0, logarithmic, linear)


@functools.lru_cache(maxsize=8)
def mel_filters(
    num_bins: int, n_mels: int, f_min: float, f_max: float, sampling_rate: int, mel_scale: str = "slaney"
) -> np.ndarray:
    """``(num_bins, n_mels)`` triangular mel filters with Slaney area normalisation, float64, read-only.

    Equal to ``transformers.audio_utils.mel_filter_bank(..., norm="slaney", mel_scale=mel_scale)`` and
    to librosa's ``filters.mel`` for ``mel_scale="slaney"``.
    """
    if mel_scale not in ("slaney", "htk"):
        raise ValueError(f"Unknown mel_scale {mel_scale!r}; choose slaney or htk.")
    mel_points = np.linspace(hertz_to_mel(f_min, mel_scale), hertz_to_mel(f_max, mel_scale), n_mels + 2)
    edges = mel_to_hertz(mel_points, mel_scale)
    fft_freqs = np.linspace(0, sampling_rate // 2, num_bins)
    slopes = edges[None, :] - fft_freqs[:, None]
    widths = np.diff(edges)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(down, up)) * (2.0 / (edges[2:] - edges[:-2]))[None, :]
    filters.flags.writeable = False
    return filters


@functools.lru_cache(maxsize=8)
def chroma_filters(n_fft: int, num_chroma: int, sampling_rate: int) -> np.ndarray:
    """``(n_fft // 2 + 1, num_chroma)`` chroma filters (librosa ``filters.chroma``, tuning 0, from C).

    Gaussian bumps around each pitch class in octave space, each FFT bin's column L2-normalised and
    weighted by a Gaussian over octaves centred on octave 5 (half-width 2), rows rolled to start at C.
    """
    frequencies = np.linspace(0, sampling_rate, n_fft, endpoint=False)[1:]
    octaves = np.log2(frequencies / (440.0 / 16))
    freq_bins = num_chroma * octaves
    freq_bins = np.concatenate(([freq_bins[0] - 1.5 * num_chroma], freq_bins))
    bin_widths = np.concatenate((np.maximum(np.diff(freq_bins), 1.0), [1.0]))
    half = np.round(num_chroma / 2)
    distance = np.subtract.outer(freq_bins, np.arange(num_chroma, dtype=np.float64)).T
    distance = np.remainder(distance + half + 10 * num_chroma, num_chroma) - half
    filters = np.exp(-0.5 * (2 * distance / bin_widths[None, :]) ** 2)
    filters = filters / np.sqrt(np.sum(filters**2, axis=0, keepdims=True))
    filters = filters * np.exp(-0.5 * ((freq_bins / num_chroma - 5.0) / 2.0) ** 2)[None, :]
    filters = np.roll(filters, -3 * (num_chroma // 12), axis=0)
    result = np.ascontiguousarray(filters[:, : n_fft // 2 + 1].T)
    result.flags.writeable = False
    return result


@functools.lru_cache(maxsize=8)
def dct_ii_matrix(num_coefficients: int, num_inputs: int) -> np.ndarray:
    """Orthonormal DCT-II basis, ``(num_inputs, num_coefficients)`` (scipy ``norm="ortho"``), read-only."""
    n = np.arange(num_inputs)[:, None]
    k = np.arange(num_coefficients)[None, :]
    basis = np.cos(np.pi * k * (2 * n + 1) / (2 * num_inputs)) * np.sqrt(2.0 / num_inputs)
    basis[:, 0] /= np.sqrt(2.0)
    basis.flags.writeable = False
    return basis


# ---------------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MfccChromaSettings:
    """What :func:`mfcc_chroma` computes; hashable, so it keys the cached projection.

    Args:
        sampling_rate: audio rate in Hz.
        n_fft: FFT size and Hann window length.
        hop_length: hop between (centred) frames.
        n_mels: mel filters the MFCCs are computed from.
        num_mfcc: cepstral coefficients per frame.
        num_chroma: chroma bins per frame.
        top_db: log-mel values are clipped to this many dB below the clip's maximum (``None``: no clip).
    """

    sampling_rate: int = 16000
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 128
    num_mfcc: int = 34
    num_chroma: int = 12
    top_db: Optional[float] = 80.0

    @property
    def feature_size(self) -> int:
        """Features per frame: MFCCs then chroma."""
        return self.num_mfcc + self.num_chroma


@functools.lru_cache(maxsize=8)
def mfcc_chroma_projection(settings: MfccChromaSettings) -> np.ndarray:
    """``(bins, n_mels + num_chroma)`` float32: mel filters then chroma filters, one matrix product."""
    num_bins = settings.n_fft // 2 + 1
    mel = mel_filters(num_bins, settings.n_mels, 0.0, settings.sampling_rate / 2, settings.sampling_rate)
    chroma = chroma_filters(settings.n_fft, settings.num_chroma, settings.sampling_rate)
    projection = np.ascontiguousarray(np.concatenate([mel, chroma], axis=1), dtype=np.float32)
    projection.flags.writeable = False
    return projection


# ---------------------------------------------------------------------------------------------------
# STFT in blocks
# ---------------------------------------------------------------------------------------------------
def num_frames(num_samples: int, hop_length: int) -> int:
    """Frames of a centred STFT over ``num_samples`` samples: ``1 + num_samples // hop_length``."""
    return 1 + num_samples // hop_length


def _frame_blocks(counts: Sequence[int], block_frames: int) -> Iterator[list[tuple[int, int, int]]]:
    """Group the frames of several clips into blocks: lists of ``(clip, start, stop)`` frame ranges."""
    block: list[tuple[int, int, int]] = []
    filled = 0
    for clip, count in enumerate(counts):
        start = 0
        while start < count:
            stop = min(count, start + block_frames - filled)
            block.append((clip, start, stop))
            filled += stop - start
            start = stop
            if filled == block_frames:
                yield block
                block, filled = [], 0
    if block:
        yield block


class _StftBuffers:
    """Reusable buffers of one :func:`project_power` call (fresh arrays per block cost page faults)."""

    def __init__(self, block_frames: int, n_fft: int, hop_length: int) -> None:
        num_bins = n_fft // 2 + 1
        self.n_fft, self.hop_length = n_fft, hop_length
        self.segment = np.empty((block_frames - 1) * hop_length + n_fft, dtype=np.float64)
        self.frames = np.empty((block_frames, n_fft), dtype=np.float64)
        self.spectrum = np.empty((block_frames, num_bins), dtype=np.complex128)
        self.power = np.empty((block_frames, num_bins), dtype=np.float32)
        self.scratch = np.empty((block_frames, num_bins), dtype=np.float32)

    def frames_of(self, waveform: np.ndarray, start: int, stop: int) -> np.ndarray:
        """``(stop - start, n_fft)`` view of frames ``start:stop`` of the centred, zero-padded clip.

        Only the samples these frames cover are copied (into :attr:`segment`), so no padded copy of
        the whole clip is ever made.
        """
        begin = start * self.hop_length - self.n_fft // 2
        end = (stop - 1) * self.hop_length - self.n_fft // 2 + self.n_fft
        segment = self.segment[: end - begin]
        low, high = max(begin, 0), min(end, waveform.shape[0])
        if low > begin or high < end:
            segment.fill(0.0)
        if high > low:
            segment[low - begin : high - begin] = waveform[low:high]
        return np.lib.stride_tricks.sliding_window_view(segment, self.n_fft)[:: self.hop_length]

    def power_of(self, rows: int) -> np.ndarray:
        """``|rfft|^2`` (float32) of the first ``rows`` windowed frames in :attr:`frames`."""
        spectrum = np.fft.rfft(self.frames[:rows], n=self.n_fft, axis=-1, out=self.spectrum[:rows])
        power, scratch = self.power[:rows], self.scratch[:rows]
        np.square(spectrum.real, out=power)
        np.square(spectrum.imag, out=scratch)
        power += scratch
        return power


def project_power(
    waveforms: Sequence[np.ndarray],
    n_fft: int,
    hop_length: int,
    projection: np.ndarray,
    window: Optional[np.ndarray] = None,
    block_frames: int = BLOCK_FRAMES,
) -> list[np.ndarray]:
    """``|STFT|^2 @ projection`` for each clip: a list of ``(frames, projection.shape[1])`` float32.

    Centred frames (``1 + samples // hop_length``, zero padding), periodic Hann ``window`` by default.
    The frames of all clips are windowed into one reusable buffer, block by block, and each block goes
    through one ``rfft``; its rows are projected straight into each clip's output.
    """
    if not waveforms:
        return []
    window = hann_window(n_fft) if window is None else window
    counts = [num_frames(np.shape(w)[0], hop_length) for w in waveforms]
    outputs = [np.empty((count, projection.shape[1]), dtype=np.float32) for count in counts]
    buffers = _StftBuffers(min(block_frames, sum(counts)), n_fft, hop_length)
    for block in _frame_blocks(counts, buffers.frames.shape[0]):
        row = 0
        for clip, start, stop in block:
            frames = buffers.frames_of(waveforms[clip], start, stop)
            np.multiply(frames, window, out=buffers.frames[row : row + stop - start])
            row += stop - start
        power = buffers.power_of(row)
        row = 0
        for clip, start, stop in block:
            np.matmul(power[row : row + stop - start], projection, out=outputs[clip][start:stop])
            row += stop - start
    return outputs


# ---------------------------------------------------------------------------------------------------
# MFCC + chroma
# ---------------------------------------------------------------------------------------------------
def _mfcc_and_chroma(projected: np.ndarray, settings: MfccChromaSettings) -> np.ndarray:
    """One clip's ``(frames, mels + chroma)`` energies -> ``(frames, num_mfcc + num_chroma)`` float32.

    Works in place on ``projected`` (float32 throughout: a 10-minute clip needs no float64 copies).
    """
    log_mel = projected[:, : settings.n_mels]
    np.maximum(log_mel, np.float32(LOG_FLOOR), out=log_mel)
    np.log10(log_mel, out=log_mel)
    log_mel *= np.float32(10.0)
    if settings.top_db is not None:
        np.maximum(log_mel, log_mel.max() - np.float32(settings.top_db), out=log_mel)
    features = np.empty((projected.shape[0], settings.feature_size), dtype=np.float32)
    dct = dct_ii_matrix(settings.num_mfcc, settings.n_mels).astype(np.float32)
    np.matmul(log_mel, dct, out=features[:, : settings.num_mfcc])
    chroma = projected[:, settings.n_mels :]
    frame_max = chroma.max(axis=1, keepdims=True)
    tiny = np.finfo(np.float32).tiny
    np.divide(chroma, np.maximum(frame_max, tiny), out=features[:, settings.num_mfcc :])
    features[:, settings.num_mfcc :] *= frame_max > tiny
    return features


def mfcc_chroma_batch(waveforms: Sequence[np.ndarray], settings: MfccChromaSettings) -> list[np.ndarray]:
    """Un-normalised ``(frames, num_mfcc + num_chroma)`` float32 features of each clip of a batch.

    Columns: ``num_mfcc`` MFCCs (librosa ``feature.mfcc``: power mel spectrogram in dB clipped at
    ``top_db`` below the clip's maximum, orthonormal DCT-II) then ``num_chroma`` chroma values
    (librosa ``feature.chroma_stft(tuning=0)``: each frame divided by its maximum).
    """
    projection = mfcc_chroma_projection(settings)
    projected = project_power(waveforms, settings.n_fft, settings.hop_length, projection)
    return [_mfcc_and_chroma(clip, settings) for clip in projected]


def mfcc_chroma(waveform: np.ndarray, settings: MfccChromaSettings = MfccChromaSettings()) -> np.ndarray:
    """Un-normalised MFCC + chroma features of one clip (see :func:`mfcc_chroma_batch`)."""
    return mfcc_chroma_batch([waveform], settings)[0]


NORMALIZATIONS = ("utterance", "global", "none")


def normalize_features(
    features: np.ndarray,
    normalization: str,
    mean: Optional[Sequence[float]] = None,
    std: Optional[Sequence[float]] = None,
    eps: float = 1e-5,
) -> np.ndarray:
    """Normalise one clip's ``(frames, features)`` matrix; returns float32.

    ``"utterance"``: each feature standardised over the clip's own frames; ``"global"``: with the fixed
    ``mean`` / ``std``; ``"none"``: unchanged. Standard deviations are floored at ``eps``.
    """
    if normalization == "utterance":
        mean, std = features.mean(axis=0, dtype=np.float64), features.std(axis=0, dtype=np.float64)
    elif normalization == "global":
        if mean is None or std is None:
            raise ValueError("normalization='global' needs mean and std.")
    elif normalization == "none":
        return features.astype(np.float32, copy=False)
    else:
        choices = ", ".join(NORMALIZATIONS)
        raise ValueError(f"Unknown normalization {normalization!r}; choose one of {choices}.")
    shift = np.asarray(mean, dtype=np.float32)
    scale = np.float32(1.0) / np.maximum(np.asarray(std, dtype=np.float32), np.float32(eps))
    return (features - shift) * scale


# ---------------------------------------------------------------------------------------------------
# Log-mel of the Wav2Small student
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogMelSettings:
    """The student's front end (``Wav2SmallConfig``'s ``n_fft``, ``win_length``, ``hop_length``, mels)."""

    sampling_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 40
    f_min: float = 20.0
    f_max: float = 8000.0


@functools.lru_cache(maxsize=8)
def log_mel_projection(settings: LogMelSettings) -> np.ndarray:
    """``(bins, n_mels)`` float32 HTK-scale mel filters with Slaney area normalisation."""
    filters = mel_filters(
        settings.n_fft // 2 + 1,
        settings.n_mels,
        float(settings.f_min),
        float(settings.f_max),
        settings.sampling_rate,
        mel_scale="htk",
    )
    projection = np.ascontiguousarray(filters, dtype=np.float32)
    projection.flags.writeable = False
    return projection


def log_mel_batch(waveforms: Sequence[np.ndarray], settings: LogMelSettings) -> list[np.ndarray]:
    """``log(mel power + 1e-6)`` ``(frames, n_mels)`` float32 of each clip (centred STFT, Hann window).

    The same computation as the student's :class:`~.modeling_student.LogMelFrontEnd` before its
    per-band standardisation (frames ``1 + samples // hop_length``).
    """
    window = hann_window(settings.win_length)
    if settings.win_length < settings.n_fft:  # centred inside the FFT frame, as torch.stft does
        left = (settings.n_fft - settings.win_length) // 2
        window = np.pad(window, (left, settings.n_fft - settings.win_length - left))
    projected = project_power(
        waveforms, settings.n_fft, settings.hop_length, log_mel_projection(settings), window=window
    )
    return [np.log(clip + np.float32(1e-6)) for clip in projected]


__all__ = [
    "BLOCK_FRAMES",
    "NORMALIZATIONS",
    "LogMelSettings",
    "MfccChromaSettings",
    "chroma_filters",
    "dct_ii_matrix",
    "hann_window",
    "log_mel_batch",
    "mel_filters",
    "mfcc_chroma",
    "mfcc_chroma_batch",
    "mfcc_chroma_projection",
    "num_frames",
    "project_power",
    "normalize_features",
]
