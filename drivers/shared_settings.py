"""Settings that several models spell the same way, declared once; a model's class names
each it has (``offset_compensation = OFFSET_COMPENSATION``)."""

from __future__ import annotations

from .settings import Choice, ReadOnly, Switch

#: offset-compensated ohms, ``:SENS:RES:OCOM`` on the 2400, the 2450 and the B2900
OFFSET_COMPENSATION = Switch(
    ":SENS:RES:OCOM {value}",
    ":SENS:RES:OCOM?",
    doc="Offset-compensated ohms: each resistance from two readings, source on and off.",
)

#: the Keithleys' output-off state, ``:OUTPut:SMODe`` (the B2900 says ``:OUTPut:OFF:MODE``,
#: with other words)
KEITHLEY_OFF_STATE = Choice(
    ":OUTP:SMOD {value}",
    ":OUTP:SMOD?",
    words={"normal": "NORM", "high_impedance": "HIMP", "zero": "ZERO", "guard": "GUAR"},
    doc="What the output does when turned off (:OUTPut:SMODe).",
)

#: every model's mains frequency (detected at power-on, or set on its front panel)
LINE_FREQUENCY = ReadOnly(
    ":SYST:LFR?", from_scpi=float, unit="Hz", doc="Mains frequency, Hz: one PLC is 1/this."
)
