"""The twins' cost per query against pyvisa-sim's static answer of the same length.

Measured side by side in one process (see ``cases``): a ratio of two numbers taken
together means something on a noisy machine.
"""

from __future__ import annotations

import functools
import pathlib
import tempfile
from collections.abc import Callable
from typing import Any

from labrun.sim_devices.backend import HERE

from .cases import _per_call, _raw
from .result import Result, median_round

FIVE = "+1.000000E+00,+1.000000E-03,+9.910000E+37,+1.234567E+01,+2.150400E+04"


def _static_bench(directory: str, read: str | None = None) -> str:
    """The 2400's pyvisa-sim file with static answers as long as the twin's, for each query
    (``read``: another answer to ``:READ?``, e.g. five elements)."""
    import yaml

    data = yaml.safe_load((HERE / "keithley2400.yaml").read_text())
    data.pop("scpi", None)
    dialogues = data["devices"]["keithley2400"]["dialogues"]
    if read is not None:
        dialogues[:] = [d for d in dialogues if d["q"] != ":READ?"] + [{"q": ":READ?", "r": read}]
    dialogues += [{"q": ":SOUR:VOLT?", "r": "+1.000000E+00"}, {"q": ":MEAS?", "r": FIVE}]
    path = pathlib.Path(directory) / f"static{'' if read is None else '_read'}.yaml"
    path.write_text(yaml.safe_dump(data))
    return f"{path}@sim"


def _ask(resource: Any, query: str, i: int) -> str:
    return str(resource.query(query))


def twin_read(quick: bool) -> list[Result]:
    """The twin's answer vs pyvisa-sim's static answer of the same length (same pyvisa path):
    one value, a two-element and a five-element :READ?, a five-element :MEAS?."""
    n = 500 if quick else 5000
    with tempfile.TemporaryDirectory() as directory:
        static = _raw(library=_static_bench(directory))
        static_five = _raw(library=_static_bench(directory, read=FIVE))
        twin = _raw()
        twin.write(":SENS:CURR:PROT 0.01;:SOUR:VOLT 1;:OUTP ON")
        rows = []
        five = ":FORM:ELEM VOLT,CURR,RES,TIME,STAT"
        for name, answering, static_query, setup, query in (
            ("one value (:SOUR:VOLT?)", static, ":SOUR:VOLT?", "", ":SOUR:VOLT?"),
            ("two-element :READ?", static, ":READ?", ":FORM:ELEM VOLT,CURR", ":READ?"),
            ("five-element :READ?", static_five, ":READ?", five, ":READ?"),
            ("five-element reading (:MEAS?)", static, ":MEAS?", five, ":MEAS?"),
        ):
            if setup:
                twin.write(setup)
            ask_static = functools.partial(_ask, answering, static_query)
            ask_twin = functools.partial(_ask, twin, query)
            pairs = [(_per_call(ask_static, n), _per_call(ask_twin, n)) for _ in range(5)]
            base, ours, spread = median_round(pairs)
            rows.append(
                Result(
                    f"twin answer per query: {name}",
                    ours * 1e6,
                    base * 1e6,
                    "µs",
                    "pyvisa-sim static answer, same length",
                    "≤ 1.5×",
                    ours / base <= 1.5,
                    spread,
                )
            )
    return rows


# ------------------------------------------------------ the TSP twin against the SCPI twins

#: each SCPI twin's address, its setup (a 1 V level, the output on, two-element readings)
SCPI_TWINS = {
    "keithley2400": ("GPIB0::24::INSTR", ":FORM:ELEM VOLT,CURR;:SENS:CURR:PROT 0.01;:SOUR:VOLT 1;:OUTP ON"),
    "keithley2450": ("GPIB0::18::INSTR", ":SOUR:VOLT:ILIM 0.01;:SOUR:VOLT 1;:OUTP ON"),
    "keysight_b2901": ("GPIB0::23::INSTR", ":SENS:CURR:PROT 0.01;:SOUR:VOLT 1;:OUTP ON"),
}
#: what each twin is asked, by kind: (query?, the 2400's, the 2450's, the B2901's, the 2636B's)
COMMANDS = {
    "one value": (True, ":SOUR:VOLT?", ":SOUR:VOLT?", ":SOUR:VOLT?", "print(smua.source.levelv)"),
    "a reading (V and I)": (
        True,
        ":READ?",
        ':READ? "defbuffer1", SOUR, READ',
        ":MEAS? (@1)",
        "print(smua.measure.iv())",
    ),
    "a setting": (False, ":SOUR:VOLT 1", ":SOUR:VOLT 1", ":SOUR:VOLT 1", "smua.source.levelv = 1"),
    # a sweep's point: a new level each time (a new chunk for the TSP twin to compile)
    "a point (new level, reading)": (
        True,
        ":SOUR:VOLT {level:.6E};:READ?",
        ':SOUR:VOLT {level:.6E};:READ? "defbuffer1", SOUR, READ',
        ":SOUR:VOLT {level:.6E};:MEAS? (@1)",
        "smua.source.levelv = {level:.7g} print(smua.measure.iv())",
    ),
}


def _command(resource: Any, query: bool, message: str) -> Callable[[int], object]:
    if "{level" in message:  # i-th point of 10^6
        return lambda i: resource.query(message.format(level=i * 1e-6))
    if query:
        return functools.partial(_ask, resource, message)
    return lambda i: resource.write(message)


def tsp_twin(quick: bool) -> list[Result]:
    """The 2636B twin (each message a Lua chunk) against the SCPI twins (each a parse of the
    command tree), per command, through the same pyvisa path: a round times the three SCPI
    twins and the TSP twin side by side; the baseline is the SCPI twins' mean."""
    n = 300 if quick else 3000
    scpi = []
    for address, setup in SCPI_TWINS.values():
        resource = _raw(address)
        resource.write(setup)
        scpi.append(resource)
    tsp = _raw("GPIB0::26::INSTR")
    tsp.write("smua.source.limiti = 0.01 smua.source.levelv = 1 smua.source.output = 1")
    rows = []
    for kind, (query, *messages) in COMMANDS.items():
        asks = [_command(r, query, m) for r, m in zip(scpi, messages, strict=False)]
        ours = _command(tsp, query, messages[-1])
        pairs = []
        for _ in range(5):
            base = sum(_per_call(ask, n) for ask in asks) / len(asks)
            pairs.append((base, _per_call(ours, n)))
        base, mine, spread = median_round(pairs)
        rows.append(
            Result(
                f"2636B (TSP) twin per command: {kind}",
                mine * 1e6,
                base * 1e6,
                "µs",
                "the SCPI twins' (2400, 2450, B2901) mean, same command",
                "≤ 1.5×",
                mine / base <= 1.5,
                spread,
            )
        )
    return rows


CASES: dict[str, Callable[[bool], Result | list[Result]]] = {"twin": twin_read, "tsp": tsp_twin}
