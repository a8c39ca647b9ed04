"""Power spectra of measured traces: pure numpy, picklable inputs and outputs.

Normalisation: the one-sided power spectrum ``P`` sums to the mean square of the
(windowed, power-corrected) signal, so for the rectangular window Parseval holds
exactly: ``P.sum() == mean(x**2)``. A sine of amplitude A shows as A²/2 in its bin.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

WINDOWS = ("rect", "hann", "hamming", "blackman")


@dataclass(frozen=True)
class Spectrum:
    """Power (signal unit² per bin) against frequency, averaged over ``traces``.

    The frequency axis is computed on access from ``samples`` and ``sample_rate``,
    so a spectrum sent back from a worker carries only its power values.
    """

    power: Array
    traces: int
    window: str
    sample_rate: float
    samples: int  # per trace

    @property
    def frequency(self) -> Array:
        """Hz, one per bin."""
        return np.fft.rfftfreq(self.samples, 1.0 / self.sample_rate).astype(np.float64)

    def peak(self, skip_dc: bool = True) -> float:
        """Frequency of the strongest bin."""
        start = 1 if skip_dc and len(self.power) > 1 else 0
        return (start + int(np.argmax(self.power[start:]))) * self.sample_rate / self.samples


BLOCK_BYTES = 512 * 1024  # complex spectra per block


WINDOW_CACHE_BYTES = 64 * 2**20
_windows: OrderedDict[tuple[str, int], Array] = OrderedDict()  # least recently used first
_windows_lock = threading.Lock()


def window(name: str, n: int) -> Array:
    """The window of ``n`` samples, computed once per length and kept (read-only).

    Why cached: a Hann window of 2^20 samples takes as long to compute (cosines)
    as the FFT it weights; traces of one length need it only once. Bounded in bytes
    (each window is as large as a trace), least recently used dropped first.
    """
    with _windows_lock:
        if (w := _windows.get((name, n))) is not None:
            _windows.move_to_end((name, n))
            return w
    w = _computed_window(name, n)
    with _windows_lock:
        _windows[(name, n)] = w
        while len(_windows) > 1 and sum(a.nbytes for a in _windows.values()) > WINDOW_CACHE_BYTES:
            _windows.popitem(last=False)
    return w


def _computed_window(name: str, n: int) -> Array:
    if name == "rect":
        w = np.ones(n)
    elif name == "hann":
        w = np.hanning(n)
    elif name == "hamming":
        w = np.hamming(n)
    elif name == "blackman":
        w = np.blackman(n)
    else:
        raise ValueError(f"unknown window {name!r}; allowed: {', '.join(WINDOWS)}")
    w.flags.writeable = False
    return w


CLOCKS = ("time", "timestamp")  # columns that give sample times, the preferred first


def clock_of(columns: Iterable[str], where: str) -> str:
    """The column to take sample times from; ``where`` names the data for the error."""
    found = [c for c in CLOCKS if c in columns]
    if not found:
        raise ValueError(f"{where}: no 'time' or 'timestamp' column to take the sample rate from")
    return found[0]


def sample_rate_of(times: npt.ArrayLike) -> float:
    """Hz, as 1 / the median spacing of the sample times (robust to a late sample or two).

    Refuses a clock that does not advance: a made-up rate would label every frequency wrong.
    """
    spacing = float(np.median(np.diff(np.asarray(times, dtype=np.float64))))
    if not spacing > 0:
        raise ValueError(f"the sample times do not increase (median spacing {spacing:g} s)")
    return 1.0 / spacing


def on_uniform_clock(times: npt.ArrayLike, values: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], float]:
    """``values`` sampled at ``times``, interpolated onto as many evenly spaced instants
    over the same span; those values and their rate (Hz).

    Why: an FFT takes its samples as evenly spaced. A host-timed trace is not (a busy
    machine, a slow answer): a few late samples stretch the trace, and a 50 Hz hum read as
    if evenly spaced comes out at 55 Hz. Linear interpolation puts each sample where it was
    taken; on an even clock it changes nothing.
    """
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    even = np.linspace(t[0], t[-1], len(t))
    return np.interp(even, t, v), (len(t) - 1) / (t[-1] - t[0])


SCRATCH_BYTES = 16 * 2**20  # per temporary, two per thread: enough for 2^20-sample traces
_scratch = threading.local()


def _scratch_for(name: str, shape: tuple[int, ...], dtype: type[np.generic]) -> npt.NDArray[Any]:
    """Room for one block's temporaries, kept for the next call in this thread.

    Why: a fresh 8 MB temporary per 2^20-sample FFT is faulted in and zeroed by the
    kernel page by page (~2000 faults), and two processes doing so at once contend for
    the memory bandwidth the FFT itself is bound by. Per thread, so threads never share
    one; a temporary larger than ``SCRATCH_BYTES`` is allocated per call and not kept.
    """
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if nbytes > SCRATCH_BYTES:
        return np.empty(shape, dtype)
    kept: npt.NDArray[np.uint8] | None = getattr(_scratch, name, None)
    if kept is None or kept.nbytes < nbytes:
        kept = np.empty(nbytes, np.uint8)
        setattr(_scratch, name, kept)
    return kept[:nbytes].view(dtype).reshape(shape)


def power_spectrum(
    traces: npt.ArrayLike, sample_rate: float, window_name: str = "hann", *, out: Array | None = None
) -> Spectrum:
    """One-sided power spectrum of one trace (1-D) or the average of several (2-D, one per row).

    ``out``: float64 room for the bins, where the power is summed and left (a worker's
    shared segment: no temporary of its size, no copy into it afterwards)."""
    data = np.asarray(traces, dtype=np.float64)
    if data.ndim == 1:
        data = data[np.newaxis, :]
    if data.ndim != 2 or data.shape[0] < 1 or data.shape[1] < 2:
        raise ValueError(
            f"expected one trace or >= 1 rows of traces with >= 2 samples, got shape {np.shape(traces)}"
        )
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate}")
    rows, n = data.shape
    bins = n // 2 + 1
    w = window(window_name, n)
    # a few rows at a time, summed in place: the temporaries stay in cache-sized
    # blocks instead of whole-array copies (25 % faster here for many short traces)
    block = max(1, BLOCK_BYTES // (16 * n))
    if out is not None and (out.shape != (bins,) or out.dtype != np.float64):
        raise ValueError(f"out: expected float64 of shape ({bins},), got {out.dtype} {out.shape}")
    total = np.zeros(bins) if out is None else out
    total[...] = 0.0
    for first in range(0, rows, block):
        part = data[first : first + block]
        windowed = np.multiply(part, w, out=_scratch_for("windowed", part.shape, np.float64))
        spectra = np.fft.rfft(windowed, axis=1, out=_scratch_for("spectra", (len(part), bins), np.complex128))
        squares = spectra.view(np.float64)  # re, im, re, im, ...: |X|² = re² + im²
        np.square(squares, out=squares)
        total += squares[:, 0::2].sum(axis=0)
        total += squares[:, 1::2].sum(axis=0)
    total /= rows * n * np.sum(w**2)
    # one-sided: double every bin that has a negative-frequency twin
    if n % 2 == 0:
        total[1:-1] *= 2
    else:
        total[1:] *= 2
    return Spectrum(total, rows, window_name, float(sample_rate), n)
