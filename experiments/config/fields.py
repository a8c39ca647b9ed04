"""The building blocks of a config: quantities with units, strict models, errors that point at a key.

Quantities are SI numbers (``0.1``) or strings with units (``"100 ms"``, ``"500 mV"``,
``"1 kOhm"``, ``"10 mA"``), checked for dimension with pint.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from labrun.drivers import (
    LabrunError,
)
from labrun.drivers.errors import shown
from labrun.experiments.model.parameters import Amps, Seconds, Volts, quantity
from labrun.experiments.model.units import parse_quantity, to_si

__all__ = [  # the quantities an experiment's parameters use too, and the config's own
    "Amps",
    "ConfigError",
    "ConfigFieldError",
    "DelayOrAuto",
    "Hertz",
    "Kelvin",
    "Level",
    "Ohms",
    "RangeLevel",
    "Seconds",
    "Strict",
    "Volts",
]
#: VISA libraries by name (pyvisa's own backends and labrun's simulator)
VISA_BACKENDS = ("@ivi", "@py", "@sim", "@labrun")
#: problems listed per file; past that, how many more there are
MAX_MESSAGES = 20


class ConfigError(LabrunError):
    """A config that cannot run; the message says where and what is allowed."""


# ------------------------------------------------------------------- quantities


def either(*choices: str) -> BeforeValidator:
    """A voltage or a current (a sweep's levels depend on its mode): kept as (value, unit)."""

    def parse(value: Any) -> tuple[float, str | None]:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ValueError(f"expected a finite voltage or current, got {shown(value)}")
            return float(value), None  # SI number: its unit follows the mode
        if isinstance(value, str):
            try:
                parse_quantity(value)
            except ValueError as error:
                raise ValueError(
                    f"expected a voltage or a current, could not read {shown(value)}: {error}"
                ) from None
        for unit in choices:
            try:
                return to_si(value, unit), unit
            except ValueError:
                continue
        raise ValueError(f"expected a voltage or a current like '1 V' or '10 mA', got {shown(value)}")

    return BeforeValidator(parse)


def or_auto(inner: BeforeValidator) -> BeforeValidator:
    """``auto`` (the instrument chooses), or what ``inner`` reads."""

    def parse(value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return inner.func(value)  # type: ignore[call-arg]

    return BeforeValidator(parse)


Ohms = Annotated[float, quantity("ohm")]
Kelvin = Annotated[float, quantity("K")]
Hertz = Annotated[float, quantity("Hz")]
#: a range: "auto", or a voltage or current (which one depends on the experiment's mode)
RangeLevel = Annotated[tuple[float, str | None] | str, or_auto(either("V", "A"))]
#: a source delay: "auto" (the model's table) or a time
DelayOrAuto = Annotated[float | str, or_auto(quantity("s"))]
Level = Annotated[tuple[float, str | None], either("V", "A")]

# ---------------------------------------------------------------------- schema


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # true is not 1, 5 is not "5"


class ConfigFieldError(ValueError):
    """Raised inside validators to point at a key (its full dotted path) other than the one checked."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)
