"""Seeded, deterministic audio perturbations for robustness evaluation.

Paper 001 (Wagner et al.) tests whether an SER model's predictions survive small, realistic changes
of the input. This module holds those changes as pure numpy/scipy functions on float32 mono arrays:

- additive white noise at a fixed SNR (20/10/5/0 dB),
- gain (+-6 dB),
- low-pass filtering and the telephone band (300-3400 Hz band-pass),
- reverberation with a synthetic, exponentially decaying noise impulse response,
- a mu-law / 8 kHz round trip (narrow-band telephony codec),
- a time shift (delay or advance, zero padded, length kept).

Every function returns an array of the same length as its input, so predictions on perturbed and
clean audio can be compared clip by clip. Random perturbations take an explicit ``seed``; the same
seed always gives the same output. :data:`PERTURBATIONS` names a standard set and
:func:`get_perturbations` selects from it by name or family (``"noise"`` gives all four SNRs).

Example:
    >>> import numpy as np
    >>> from hf_ser.evaluation.perturbations import add_noise, get_perturbations, measure_snr
    >>> clean = np.sin(2 * np.pi * 220 * np.arange(16000) / 16000).astype(np.float32)
    >>> noisy = add_noise(clean, snr_db=10.0, seed=0)
    >>> round(measure_snr(clean, noisy), 6)
    10.0
    >>> [p.name for p in get_perturbations(["noise"])]
    ['noise_snr20', 'noise_snr10', 'noise_snr5', 'noise_snr0']
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
from scipy import signal

__all__ = [
    "PERTURBATIONS",
    "PERTURBATION_FAMILIES",
    "Perturbation",
    "add_noise",
    "apply_gain",
    "band_pass",
    "clip_seed",
    "get_perturbations",
    "low_pass",
    "measure_snr",
    "mu_law_8k",
    "reverberate",
    "synthetic_impulse_response",
    "telephone_band",
    "time_shift",
]


def _as_float_array(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 1:
        raise ValueError(f"Perturbations take mono 1-D audio; got an array of shape {array.shape}.")
    return array.astype(np.float32, copy=False)


def _check_rate(sampling_rate: int) -> None:
    if sampling_rate <= 0:
        raise ValueError(f"sampling_rate must be positive, got {sampling_rate}.")


def measure_snr(clean: np.ndarray, perturbed: np.ndarray) -> float:
    """SNR in dB of ``perturbed`` w.r.t. ``clean``: ``10 log10(P(clean) / P(perturbed - clean))``."""
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(perturbed, dtype=np.float64) - clean
    noise_power = float(np.mean(noise**2))
    if noise_power == 0.0:
        return float("inf")
    return float(10.0 * np.log10(np.mean(clean**2) / noise_power))


def add_noise(array: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """Add white Gaussian noise scaled so that the SNR of the result is exactly ``snr_db``.

    The noise is rescaled with its *realised* power (not the expected one), so :func:`measure_snr`
    of the output returns ``snr_db`` up to float32 rounding. A silent clip is returned unchanged.
    """
    array = _as_float_array(array)
    signal_power = float(np.mean(array.astype(np.float64) ** 2))
    if signal_power == 0.0:
        return array.copy()
    noise = np.random.default_rng(seed).standard_normal(array.shape[0])
    noise *= np.sqrt(signal_power / (10.0 ** (snr_db / 10.0)) / np.mean(noise**2))
    return (array + noise).astype(np.float32)


def apply_gain(array: np.ndarray, gain_db: float, clip: bool = False) -> np.ndarray:
    """Scale the signal by ``gain_db`` decibels (amplitude factor ``10 ** (gain_db / 20)``).

    With ``clip=True`` the result is clipped to [-1, 1] like a saturating recorder would; by default
    float audio is left unclipped so the perturbation is a pure level change.
    """
    out = _as_float_array(array) * np.float32(10.0 ** (gain_db / 20.0))
    return np.clip(out, -1.0, 1.0) if clip else out


def low_pass(array: np.ndarray, sampling_rate: int, cutoff_hz: float = 4000.0, order: int = 8) -> np.ndarray:
    """Zero-phase Butterworth low-pass filter (``order`` per pass, applied forward and backward)."""
    _check_rate(sampling_rate)
    nyquist = sampling_rate / 2.0
    if not 0.0 < cutoff_hz < nyquist:
        raise ValueError(
            f"cutoff_hz must lie in (0, {nyquist}) for sampling_rate={sampling_rate}, got {cutoff_hz}."
        )
    sos = signal.butter(order, cutoff_hz, btype="lowpass", fs=sampling_rate, output="sos")
    return signal.sosfiltfilt(sos, _as_float_array(array)).astype(np.float32)


def band_pass(
    array: np.ndarray, sampling_rate: int, low_hz: float, high_hz: float, order: int = 6
) -> np.ndarray:
    """Zero-phase Butterworth band-pass filter keeping ``[low_hz, high_hz]``."""
    _check_rate(sampling_rate)
    nyquist = sampling_rate / 2.0
    if not 0.0 < low_hz < high_hz < nyquist:
        raise ValueError(
            f"Band edges must satisfy 0 < low_hz < high_hz < {nyquist}; "
            f"got low_hz={low_hz}, high_hz={high_hz}."
        )
    sos = signal.butter(order, [low_hz, high_hz], btype="bandpass", fs=sampling_rate, output="sos")
    return signal.sosfiltfilt(sos, _as_float_array(array)).astype(np.float32)


def telephone_band(array: np.ndarray, sampling_rate: int) -> np.ndarray:
    """Band-limit to the analogue telephone channel, 300-3400 Hz."""
    return band_pass(array, sampling_rate, 300.0, 3400.0)


def synthetic_impulse_response(sampling_rate: int, rt60: float = 0.5, seed: int = 0) -> np.ndarray:
    """Room impulse response: a unit direct path followed by exponentially decaying Gaussian noise.

    The envelope ``exp(-6.908 t / rt60)`` falls by 60 dB after ``rt60`` seconds (the usual definition
    of reverberation time); the tail is cut at ``rt60`` and scaled to carry as much energy as the
    direct path. Deterministic for a given ``seed``.
    """
    _check_rate(sampling_rate)
    if rt60 <= 0:
        raise ValueError(f"rt60 must be positive seconds, got {rt60}.")
    length = max(2, int(round(rt60 * sampling_rate)))
    t = np.arange(length) / sampling_rate
    tail = np.random.default_rng(seed).standard_normal(length) * np.exp(-6.908 * t / rt60)
    tail[0] = 0.0
    tail /= np.sqrt(np.sum(tail**2))
    response = tail
    response[0] = 1.0
    return response.astype(np.float64)


def reverberate(array: np.ndarray, sampling_rate: int, rt60: float = 0.5, seed: int = 0) -> np.ndarray:
    """Convolve with :func:`synthetic_impulse_response`, keep the input length and its RMS level."""
    array = _as_float_array(array)
    wet = signal.fftconvolve(array.astype(np.float64), synthetic_impulse_response(sampling_rate, rt60, seed))
    wet = wet[: array.shape[0]]
    rms_in, rms_out = np.sqrt(np.mean(array.astype(np.float64) ** 2)), np.sqrt(np.mean(wet**2))
    if rms_out > 0:
        wet *= rms_in / rms_out
    return wet.astype(np.float32)


def mu_law_8k(array: np.ndarray, sampling_rate: int, mu: int = 255) -> np.ndarray:
    """Round trip through narrow-band telephony: resample to 8 kHz, 8-bit mu-law, back to ``sampling_rate``.

    The signal is clipped to [-1, 1] before companding (as a codec would) and the output has the
    input length.
    """
    _check_rate(sampling_rate)
    array = _as_float_array(array).astype(np.float64)
    gcd = np.gcd(int(sampling_rate), 8000)
    narrow = (
        signal.resample_poly(array, 8000 // gcd, int(sampling_rate) // gcd)
        if sampling_rate != 8000
        else array
    )
    narrow = np.clip(narrow, -1.0, 1.0)
    companded = np.sign(narrow) * np.log1p(mu * np.abs(narrow)) / np.log1p(mu)
    codes = np.round((companded + 1.0) / 2.0 * mu)  # 0..mu, 8 bits for mu=255
    decoded = codes / mu * 2.0 - 1.0
    expanded = np.sign(decoded) * ((1.0 + mu) ** np.abs(decoded) - 1.0) / mu
    wide = (
        signal.resample_poly(expanded, int(sampling_rate) // gcd, 8000 // gcd)
        if sampling_rate != 8000
        else expanded
    )
    out = np.zeros(array.shape[0], dtype=np.float64)
    n = min(out.shape[0], wide.shape[0])
    out[:n] = wide[:n]
    return out.astype(np.float32)


def time_shift(array: np.ndarray, sampling_rate: int, shift_s: float = 0.25) -> np.ndarray:
    """Delay (``shift_s > 0``) or advance (``< 0``) the signal, zero padding and keeping the length."""
    _check_rate(sampling_rate)
    array = _as_float_array(array)
    shift = int(round(shift_s * sampling_rate))
    out = np.zeros_like(array)
    if shift >= 0:
        out[shift:] = array[: max(array.shape[0] - shift, 0)]
    else:
        out[: max(array.shape[0] + shift, 0)] = array[-shift:]
    return out


def clip_seed(seed: int, name: str, index: int) -> int:
    """Per-clip seed derived from a run seed, the perturbation name and the clip index.

    Makes results independent of batch order and of which other perturbations run.
    """
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode()) * 7919 + int(index)) % (2**32)


@dataclass(frozen=True)
class Perturbation:
    """One named perturbation of the standard set.

    Args:
        name (`str`): unique name, e.g. ``"noise_snr10"``.
        family (`str`): what ``--perturb`` selects it by, e.g. ``"noise"``.
        function (`Callable`): ``function(array, sampling_rate, seed) -> array``.
        level (`float`, *optional*): the swept value for curves (SNR in dB, gain in dB, ...).
        params (`dict`): the parameters, for reports.
    """

    name: str
    family: str
    function: Callable[[np.ndarray, int, int], np.ndarray]
    level: Optional[float] = None
    params: dict = field(default_factory=dict)

    def __call__(self, array: np.ndarray, sampling_rate: int, seed: int = 0, index: int = 0) -> np.ndarray:
        """Apply to one clip; ``seed`` and ``index`` give the clip its own deterministic seed."""
        out = self.function(np.asarray(array), sampling_rate, clip_seed(seed, self.name, index))
        if out.shape != np.shape(array):
            raise RuntimeError(
                f"Perturbation {self.name!r} changed the clip length: {np.shape(array)} -> {out.shape}."
            )
        return out


def _noise(snr: float) -> Perturbation:
    return Perturbation(
        f"noise_snr{snr:g}",
        "noise",
        lambda x, sr, seed: add_noise(x, snr, seed),
        level=snr,
        params={"snr_db": snr},
    )


def _gain(db: float) -> Perturbation:
    return Perturbation(
        f"gain{db:+g}db", "gain", lambda x, sr, seed: apply_gain(x, db), level=db, params={"gain_db": db}
    )


PERTURBATIONS: dict[str, Perturbation] = {
    p.name: p
    for p in [
        *(_noise(snr) for snr in (20.0, 10.0, 5.0, 0.0)),
        *(_gain(db) for db in (6.0, -6.0)),
        Perturbation(
            "lowpass_4k", "lowpass", lambda x, sr, seed: low_pass(x, sr, 4000.0), 4000.0, {"cutoff_hz": 4000}
        ),
        Perturbation(
            "telephone",
            "telephone",
            lambda x, sr, seed: telephone_band(x, sr),
            None,
            {"band_hz": [300, 3400]},
        ),
        Perturbation(
            "reverb_0.5s", "reverb", lambda x, sr, seed: reverberate(x, sr, 0.5, seed), 0.5, {"rt60_s": 0.5}
        ),
        Perturbation(
            "mulaw_8k", "mulaw", lambda x, sr, seed: mu_law_8k(x, sr), None, {"mu": 255, "rate": 8000}
        ),
        Perturbation(
            "shift_0.25s", "shift", lambda x, sr, seed: time_shift(x, sr, 0.25), 0.25, {"shift_s": 0.25}
        ),
    ]
}
"""The standard perturbation set, by name."""

PERTURBATION_FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(p.family for p in PERTURBATIONS.values()))
"""Family names accepted by :func:`get_perturbations` (and ``hf-ser report --perturb``)."""


def get_perturbations(names: Optional[Sequence[str]] = None) -> list[Perturbation]:
    """Select perturbations by name or family; ``None`` or ``["all"]`` gives the whole standard set.

    Raises:
        ValueError: for a name that is neither a perturbation nor a family (the message lists both).
    """
    if names is None or list(names) == ["all"]:
        return list(PERTURBATIONS.values())
    selected: dict[str, Perturbation] = {}
    for name in names:
        name = name.strip()
        if name in PERTURBATIONS:
            selected[name] = PERTURBATIONS[name]
        elif name in PERTURBATION_FAMILIES:
            selected.update({p.name: p for p in PERTURBATIONS.values() if p.family == name})
        else:
            raise ValueError(
                f"Unknown perturbation {name!r}. Families: {', '.join(PERTURBATION_FAMILIES)}; "
                f"names: {', '.join(PERTURBATIONS)}; or 'all'."
            )
    return list(selected.values())
