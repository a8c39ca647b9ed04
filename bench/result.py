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
