"""A transistor's figures of merit from its measured curves: threshold voltage,
subthreshold swing, on/off ratio.

Plain numpy on one curve (cheap: no process needed). Each works for n- and p-type
devices (currents and voltages negative for a p-type): magnitudes are used where the
sign only says which way the current flows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Array = npt.ArrayLike


def _curve(
    gate_voltage: Array, drain_current: Array
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    vg = np.asarray(gate_voltage, dtype=float)
    current = np.abs(np.asarray(drain_current, dtype=float))
    if vg.shape != current.shape or vg.ndim != 1 or len(vg) < 3:
        raise ValueError(
            "a transfer curve: gate voltages and drain currents of one length, at least 3 points"
        )
    keep = np.isfinite(vg) & np.isfinite(current)
    return vg[keep], current[keep]


def threshold_voltage(
    gate_voltage: Array,
    drain_current: Array,
    *,
    drain_voltage: float,
    region: Literal["linear", "saturation"] = "linear",
) -> float:
    """The threshold voltage, V, by linear extrapolation where the curve is steepest.

    ``linear`` (small ``drain_voltage``): the tangent to I_D(V_G) where the
    transconductance peaks meets zero current at V_th + V_D/2, so V_D/2 is taken off.
    ``saturation`` (``|V_D| > |V_G - V_th|``): the tangent to sqrt(I_D) meets zero at V_th.
    """
    vg, current = _curve(gate_voltage, drain_current)
    if region not in ("linear", "saturation"):
        raise ValueError(f"region must be 'linear' or 'saturation', got {region!r}")
    y = current if region == "linear" else np.sqrt(current)
    slope = np.abs(np.gradient(y, vg))
    steepest = int(np.argmax(slope))
    # the straight stretch around the steepest point (slope within 10 % of its peak), fitted
    # as one line: one noisy point does not decide the tangent
    low = high = steepest
    while low > 0 and slope[low - 1] >= 0.9 * slope[steepest]:
        low -= 1
    while high < len(vg) - 1 and slope[high + 1] >= 0.9 * slope[steepest]:
        high += 1
    if high - low >= 2:
        gradient, offset = np.polyfit(vg[low : high + 1], y[low : high + 1], 1)
        intercept = -offset / gradient
    else:
        intercept = vg[steepest] - y[steepest] / np.gradient(y, vg)[steepest]
    return float(intercept - drain_voltage / 2 if region == "linear" else intercept)


def subthreshold_swing(
    gate_voltage: Array, drain_current: Array, *, floor: float | None = None, window: int = 5
) -> float:
    """The subthreshold swing, mV per decade: the gate voltage that changes the current
    tenfold where the current rises fastest.

    Straight-line fits of log10 |I_D| over ``window`` neighbouring points, each above
    ``floor`` (default: 100 times the median of the five smallest currents, so the
    instrument's noise floor is left out) and straight (r² ≥ 0.995); the steepest wins.
    """
    vg, current = _curve(gate_voltage, drain_current)
    if floor is None:
        floor = 100 * float(np.median(np.sort(current)[:5]))
    best = 0.0
    for start in range(len(vg) - window + 1):
        x, i = vg[start : start + window], current[start : start + window]
        if np.any(i <= max(floor, 0.0)) or np.ptp(x) == 0:
            continue
        y = np.log10(i)
        slope, offset = np.polyfit(x, y, 1)
        residual = y - (slope * x + offset)
        spread = np.sum((y - y.mean()) ** 2)
        if spread > 0 and 1 - np.sum(residual**2) / spread >= 0.995:
            best = max(best, abs(float(slope)))
    if best == 0:
        raise ValueError(
            "no straight subthreshold region above the noise floor: sweep deeper below threshold"
        )
    return 1e3 / best


def on_off_ratio(drain_current: Array) -> float:
    """The largest |I_D| over the smallest (zeros left out): how well the gate switches."""
    current = np.abs(np.asarray(drain_current, dtype=float))
    current = current[np.isfinite(current) & (current > 0)]
    if len(current) < 2:
        raise ValueError("an on/off ratio needs at least two nonzero currents")
    return float(current.max() / current.min())
