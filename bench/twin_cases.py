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


# ------------------------------------------------------ per-point overhead


CASES: dict[str, Callable[[bool], Result | list[Result]]] = {"twin": twin_read}
