"""One benchmark row: labrun's number, the baseline's, and the target."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Result:
    name: str
    measured: float
    baseline: float
    unit: str
    baseline_is: str
    target: str
    ok: bool
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline if self.baseline else float("nan")


def median_round(pairs: list[tuple[float, float]]) -> tuple[float, float, str]:
    """``(baseline, labrun, spread)`` of rounds timed in pairs: the round whose ratio is the
    median of the rounds' (with an odd number of rounds, one of them, so the figures shown
    are one round's), and every round's ratio, lowest to highest."""
    ordered = sorted(pairs, key=lambda pair: pair[1] / pair[0])
    base, ours = ordered[len(ordered) // 2]
    ratios = ", ".join(f"{o / b:.3g}" for b, o in ordered)
    return base, ours, f"median of {len(pairs)} rounds ({ratios})"
