"""Instruments that misbehave on demand, through the same pyvisa path as normal use.

Why in the simulator: reliability tests must take the path real use takes (pyvisa,
the driver, the runner, the CLI), so the fault is injected where a real instrument
would fail — in what it answers, or does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["timeout", "garbage", "truncate", "error", "disconnect", "slow"]
KINDS: tuple[str, ...] = ("timeout", "garbage", "truncate", "error", "disconnect", "slow")


@dataclass(frozen=True)
class Fault:
    """What goes wrong, after how many answered queries.

    - ``timeout``: from then on, queries get no answer (the read times out);
    - ``garbage``: answers are replaced by junk; ``truncate``: cut in half, no terminator;
    - ``error``: one instrument error (``code``) lands in the error queue, answers go on;
    - ``disconnect``: every later write fails, as when a cable is pulled;
    - ``slow``: every answer from then on takes ``delay`` seconds.
    """

    kind: FaultKind
    after: int = 0
    delay: float = 0.5
    code: int = -300  # SCPI "Device-specific error"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.after < 0 or self.delay < 0:
            raise ValueError(f"fault 'after' and 'delay' must be >= 0, got {self}")


def fault_from_dict(spec: Mapping[str, Any] | None) -> Fault | None:
    """From bench YAML: ``{kind: timeout, after: 5}``."""
    if not spec:
        return None
    try:
        return Fault(**dict(spec))
    except TypeError as error:
        raise ValueError(f"bad fault {dict(spec)}: {error}") from None
