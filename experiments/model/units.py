"""Quantities as people write them: ``"100 ms"``, ``"500 mV"``, ``"1 kOhm"``, ``"27 degC"``.

One reader for every edge where a person types a value — YAML configs, the Python API
of the experiments, ``labrun measure`` — so each accepts the same strings. Inside, the
code works in SI floats. pint knows the units; it never sees arithmetic.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from labrun.drivers.errors import shown

Quantity = float | int | str


@functools.cache
def units() -> Any:
    """pint's registry (built once, on first use: it takes ~0.3 s)."""
    import pint

    registry: Any = pint.UnitRegistry()
    registry.define("@alias ohm = Ohm")  # "1 kOhm" as people write it
    return registry


DIMENSIONS = {
    "V": ("[electric_potential]", "a voltage"),
    "A": ("[current]", "a current"),
    "s": ("[time]", "a time"),
    "ohm": ("[resistance]", "a resistance"),
    "K": ("[temperature]", "a temperature"),
    "Hz": ("[frequency]", "a frequency"),
}


#: a quantity as written: a number, then at most one unit word (no arithmetic, no '%')
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµΩ°]{1,12})?\s*$")


def parse_quantity(text: str) -> tuple[float, str | None]:
    """``"100 ms"`` -> (100.0, "ms"); refuses anything but a number and one unit word.

    Why not hand the string to pint: pint evaluates arithmetic (``"9**9**9 V"`` keeps a CPU
    busy indefinitely) and reads ``"1 mV/V"`` or ``"50 %"`` as plain numbers.
    """
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError("write a number and a unit, like '10 mA' (no arithmetic, no '%')")
    return float(match.group(1)), match.group(2)


def to_si(value: Any, unit: str) -> float:
    """``"100 ms"`` -> 0.1 for ``unit="s"``; plain numbers are taken as SI already."""
    dimension, noun = DIMENSIONS[unit]
    like = f"a number in {unit} or a string like '10 m{unit}'"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected {noun} ({like}), got {shown(value)}")
    if isinstance(value, str):
        try:
            magnitude, word = parse_quantity(value)
        except ValueError as error:
            raise ValueError(f"expected {noun} ({like}), could not read {shown(value)}: {error}") from None
        if word is None:
            number = magnitude
        else:
            registry = units()
            try:
                written = registry.Unit(word)
            except Exception:
                raise ValueError(
                    f"expected {noun} like '10 m{unit}': unknown unit {word!r} in {shown(value)}"
                ) from None
            quantity = registry.Quantity(magnitude, written)
            if not quantity.check(dimension):
                found = next(
                    (n for d, n in DIMENSIONS.values() if quantity.check(d)),
                    "a plain number" if quantity.dimensionless else str(quantity.dimensionality),
                )
                raise ValueError(f"expected {noun} in {unit}, got {shown(value)}, which is {found}")
            number = float(quantity.to(unit).magnitude)
    else:
        number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"expected a finite {noun}, got {shown(value)}")
    return number
