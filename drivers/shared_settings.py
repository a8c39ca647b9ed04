"""Settings that several models spell the same way, declared once (mixins of settings only,
like :class:`~labrun.drivers.ranges.RangeSettings`)."""

from __future__ import annotations

from .settings import Choice, Switch


class OffsetCompensation:
    """Offset-compensated ohms, ``:SENS:RES:OCOM`` on the 2400, the 2450 and the B2900."""

    offset_compensation = Switch(
        ":SENS:RES:OCOM {value}",
        ":SENS:RES:OCOM?",
        doc="Offset-compensated ohms: each resistance from two readings, source on and off.",
    )


class KeithleyOffState:
    """The Keithleys' output-off state, ``:OUTPut:SMODe`` (the B2900 says ``:OUTPut:OFF:MODE``,
    with other words)."""

    output_off_state = Choice(
        ":OUTP:SMOD {value}",
        ":OUTP:SMOD?",
        words={"normal": "NORM", "high_impedance": "HIMP", "zero": "ZERO", "guard": "GUAR"},
        doc="What the output does when turned off (:OUTPut:SMODe).",
    )
