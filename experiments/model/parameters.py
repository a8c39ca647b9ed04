"""An experiment's parameters, declared once: type, unit, limits and help in one model.

Why: the IV sweep's parameters were declared four times (its ``__init__``, its
description, its config schema, keyword lists), and the copies drifted. Now each
experiment has one :class:`Parameters` model: the Python API validates through it, the
config schema is it plus ``type``, the data file's description is its dump, and the CLI's
``--set`` keys and the panel's form are read off :meth:`Parameters.fields`.

Quantities are SI floats inside, strings with units at the edge (``"100 ms"``,
``"10 mA"``); a sweep's levels are volts or amperes by its ``mode`` (declared first, so
the levels are read knowing it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Self, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo, model_validator
from pydantic.fields import FieldInfo

from labrun.drivers.errors import shown

from .units import parse_quantity, to_si

#: the most points one run may have (memory: 1,000,000 points of 6 columns is 48 MB)
MAX_POINTS = 1_000_000

Mode = Literal["voltage", "current"]
#: a level's unit follows the mode: what is sourced, and what is limited (the compliance)
SOURCED, LIMITED = "sourced", "limited"


def units_of(mode: str) -> tuple[str, str]:
    """(unit of the level, unit of the compliance): what is sourced, and what is limited."""
    return ("V", "A") if mode == "voltage" else ("A", "V")


@dataclass(frozen=True)
class Unit:
    """A parameter's unit, kept in its annotation: ``"s"``, ``"V"``, or ``SOURCED`` /
    ``LIMITED`` (volts or amperes, by the experiment's mode)."""

    unit: str


def quantity(unit: str) -> BeforeValidator:
    """A number in ``unit`` or a string with a unit, read into an SI float."""
    return BeforeValidator(lambda value: to_si(value, unit))


def _by_mode(which: str) -> BeforeValidator:
    def parse(value: Any, info: ValidationInfo) -> float:
        mode = info.data.get("mode", "voltage")
        level_unit, limit_unit = units_of(mode)
        wanted = level_unit if which == SOURCED else limit_unit
        try:
            return to_si(value, wanted)
        except ValueError:
            other = limit_unit if wanted == level_unit else level_unit
            try:
                to_si(value, other)
            except ValueError:
                pass
            else:
                raise ValueError(
                    f"in {mode} mode, {info.field_name} must be in {wanted}, not {other}"
                ) from None
            if isinstance(value, str):
                parse_quantity(value)  # says "no arithmetic" for "1 mV/V"
            raise

    return BeforeValidator(parse)


Seconds = Annotated[float, quantity("s"), Unit("s")]
Volts = Annotated[float, quantity("V"), Unit("V")]
Amps = Annotated[float, quantity("A"), Unit("A")]
#: a level of the sourced quantity (V in voltage mode, A in current mode)
SourceLevel = Annotated[float, _by_mode(SOURCED), Unit(SOURCED)]
#: the compliance: a limit on the other quantity (A in voltage mode, V in current mode)
Limit = Annotated[float, _by_mode(LIMITED), Unit(LIMITED)]


class ParameterFieldError(ValueError):
    """Raised by a model's own checks to point at the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class ParameterError(ValueError):
    """Parameters an experiment refuses, one line per problem: name, value, what is allowed."""


@dataclass(frozen=True)
class ParameterInfo:
    """One parameter as a form or a help text shows it."""

    name: str
    unit: str  # "s", "V", ... "" for none; "V or A" where the mode decides
    default: Any  # None: required
    required: bool
    description: str
    choices: tuple[Any, ...] = ()


def unit_of(field: FieldInfo) -> str:
    """The unit a field is declared with, as a person reads it ("V or A" where the mode
    decides; "" for none)."""
    unit = next((m.unit for m in field.metadata if isinstance(m, Unit)), "")
    return {SOURCED: "V or A", LIMITED: "A or V"}.get(unit, unit)


class Parameters(BaseModel):
    """Base of every experiment's parameters: strict (``true`` is not ``1``), no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _plain_numbers(cls, values: Any) -> Any:
        """numpy scalars as the Python numbers they stand for (``np.int64(5)`` points)."""
        if isinstance(values, dict):
            return {
                k: v.item() if hasattr(v, "item") and hasattr(v, "dtype") else v for k, v in values.items()
            }
        return values

    @classmethod
    def of(cls, values: dict[str, Any]) -> Self:
        """Validated parameters, or :class:`ParameterError` naming each problem."""
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ParameterError(problems(error, values)) from None

    @classmethod
    def given(cls, parameters: Self | None, values: dict[str, Any]) -> Self:
        """An experiment's parameters as its caller gave them: a model made already, or
        keywords validated now (:meth:`of`); both at once is refused."""
        if parameters is None:
            return cls.of(values)
        if values:
            raise ParameterError(f"give {cls.__name__} or keywords, not both (got {sorted(values)})")
        return parameters

    @classmethod
    def fields(cls) -> list[ParameterInfo]:
        """Each parameter with its unit, default, help and choices: what a form or a help
        text shows (``type``, a config's tag, is not a parameter)."""
        out = []
        for name, field in cls.model_fields.items():
            if name == "type":
                continue
            unit = unit_of(field)
            annotation = field.annotation
            choices = get_args(annotation) if get_origin(annotation) is Literal else ()
            required = field.is_required()
            out.append(
                ParameterInfo(
                    name,
                    unit,
                    None if required else field.default,
                    required,
                    field.description or "",
                    choices,
                )
            )
        return out

    def unit_of(self, name: str) -> str:
        """The unit of parameter ``name`` as these values have it (the mode decides levels)."""
        field = type(self).model_fields[name]
        unit = next((m.unit for m in field.metadata if isinstance(m, Unit)), "")
        if unit in (SOURCED, LIMITED):
            level, limit = units_of(str(getattr(self, "mode", "voltage")))
            return level if unit == SOURCED else limit
        return unit

    def values(self) -> dict[str, Any]:
        """The parameters as SI values by name (what a data file and a record keep)."""
        return self.model_dump(exclude={"type"}) if "type" in type(self).model_fields else self.model_dump()


def problems(error: ValidationError, values: dict[str, Any]) -> str:
    """One line per problem: ``name = value: what is wrong``."""
    lines = []
    for problem in error.errors(include_url=False):
        location = [str(p) for p in problem["loc"] if not str(p).startswith("function-")]
        context = problem.get("ctx", {}).get("error")
        if isinstance(context, ParameterFieldError):
            location = [context.field]
        name = ".".join(location) or "parameters"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown parameter"
        value = values.get(location[0]) if location else None
        shown_value = f" = {shown(value)}" if location and location[0] in values else ""
        lines.append(f"{name}{shown_value}: {message}")
    return "; ".join(lines)
