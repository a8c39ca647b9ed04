"""YAML experiment configs: safe loading, typed validation, units, one clear error.

A config is checked completely — syntax, keys, types, units, the instrument's range,
the output directory — before any instrument is opened. Every problem becomes one
:class:`ConfigError` naming the file, the key path, the bad value and what is allowed.

Quantities are SI numbers (``0.1``) or strings with units (``"100 ms"``,
``"500 mV"``, ``"1 kOhm"``, ``"10 mA"``), checked for dimension with pint.
"""

from __future__ import annotations

import math
import os
import pathlib
import tempfile
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from labrun.drivers import (
    MODELS,
    TERMINATIONS,
    BaudRate,
    LabrunError,
    LimitError,
    Termination,
    check_address,
    is_serial,
)
from labrun.drivers.errors import shown
from labrun.experiments.config.yaml_reader import MAX_BYTES, YamlRefused, read_yaml
from labrun.experiments.iv_sweep import check_sweep_limits, units_of
from labrun.experiments.units import parse_quantity, to_si

MAX_POINTS = 1_000_000
#: VISA libraries by name (pyvisa's own backends and labrun's simulator)
VISA_BACKENDS = ("@ivi", "@py", "@sim", "@labrun")
#: problems listed per file; past that, how many more there are
MAX_MESSAGES = 20


class ConfigError(LabrunError):
    """A config that cannot run; the message says where and what is allowed."""


# ------------------------------------------------------------------- quantities


def quantity(unit: str) -> BeforeValidator:
    return BeforeValidator(lambda v: to_si(v, unit))


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


Volts = Annotated[float, quantity("V")]
Amps = Annotated[float, quantity("A")]
Seconds = Annotated[float, quantity("s")]
Ohms = Annotated[float, quantity("ohm")]
Kelvin = Annotated[float, quantity("K")]
Hertz = Annotated[float, quantity("Hz")]
Level = Annotated[tuple[float, str | None], either("V", "A")]

# ---------------------------------------------------------------------- schema


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # true is not 1, 5 is not "5"


class LoadConfig(Strict):
    """What the simulated instrument has behind its output."""

    type: Literal["resistor", "diode", "open"] = "resistor"
    resistance: Ohms = Field(1000.0, gt=0)
    saturation_current: Amps = Field(1e-12, gt=0)
    ideality: float = Field(1.0, gt=0)
    temperature: Kelvin = Field(300.0, gt=0)

    def bench_entry(self) -> dict[str, Any]:
        if self.type == "resistor":
            return {"type": "resistor", "resistance": self.resistance}
        if self.type == "diode":
            return {
                "type": "diode",
                "saturation_current": self.saturation_current,
                "ideality": self.ideality,
                "temperature": self.temperature,
            }
        return {"type": "open"}


class FaultConfig(Strict):
    """A misbehaving simulated instrument, for testing what happens when things break."""

    kind: Literal["timeout", "garbage", "truncate", "error", "disconnect", "slow"]
    after: int = Field(0, ge=0)
    delay: Seconds = Field(0.5, ge=0, le=60)
    code: int = -300


class HumConfig(Strict):
    """Mains pickup on the simulated current reading: something for a spectrum to find."""

    amplitude: Amps = Field(gt=0)
    frequency: Hertz = Field(50.0, gt=0)


class LimitsConfig(Strict):
    """Your own limits (the sample's), tighter than the instrument's."""

    max_voltage: Volts | None = Field(None, gt=0)
    max_current: Amps | None = Field(None, gt=0)


def known_model(value: Any) -> Any:
    """A model of the drivers' registry (``MODELS``): the one list of what labrun drives."""
    if value not in MODELS:
        raise ValueError(f"not a model labrun drives; allowed: {', '.join(sorted(MODELS))}")
    return value


class InstrumentConfig(Strict):
    model: Annotated[str, BeforeValidator(known_model)]
    address: Annotated[str, BeforeValidator(lambda v: check_address(v) if isinstance(v, str) else v)]
    sim: bool = False
    backend: str = ""
    #: a backend that is a path to a shared library is loaded into this process: opt in
    allow_library_path: bool = False
    timeout: Seconds = Field(5.0, ge=1e-3, le=600)
    load: LoadConfig = LoadConfig()
    noise: float = Field(1e-4, ge=0, le=0.5)
    limits: LimitsConfig = LimitsConfig()
    fault: FaultConfig | None = None
    hum: HumConfig | None = None
    #: message end, as set on the instrument (a 2400 on RS-232 is often set to CR)
    termination: Termination = "LF"
    baud_rate: BaudRate | None = None
    #: drive an instrument whose *IDN? names another model (it must speak the same SCPI)
    force_model: bool = False
    #: measurement speed in power-line cycles (the model's range); None: as the instrument is
    nplc: float | None = None
    #: 4-wire (remote) sense or 2-wire; None: as the instrument is
    sense: Literal["2-wire", "4-wire"] | None = None

    @model_validator(mode="after")
    def within_the_models_settings(self) -> InstrumentConfig:
        if self.nplc is not None:
            try:
                MODELS[self.model].nplc.allowed(self.nplc)  # type: ignore[attr-defined]
            except LimitError as error:
                raise ConfigFieldError("instrument.nplc", f"{self.model}: {error}") from None
        return self

    @model_validator(mode="after")
    def known_backend(self) -> InstrumentConfig:
        backend = self.backend
        named = backend in VISA_BACKENDS or (
            backend.endswith(("@labrun", "@sim")) and backend.rpartition("@")[0].endswith((".yaml", ".yml"))
        )
        if backend and not named and not self.allow_library_path:
            raise ConfigFieldError(
                "instrument.backend",
                f"{shown(backend)}: one of {', '.join(VISA_BACKENDS)} or a bench file "
                "('bench.yaml@labrun'); a path to a VISA library is loaded into labrun: "
                "allow it with instrument.allow_library_path: true",
            )
        if backend and any(ch in backend for ch in "\n\r\0"):
            raise ConfigFieldError(
                "instrument.backend", f"{shown(backend)}: a line break or NUL in a backend name"
            )
        return self

    @model_validator(mode="after")
    def only_simulated(self) -> InstrumentConfig:
        for key in ("fault", "hum"):
            if getattr(self, key) is not None and not self.sim:
                raise ConfigFieldError(
                    f"instrument.{key}", f"{key} can only be given to a simulated instrument"
                )
        if self.baud_rate is not None and not is_serial(self.address):
            raise ConfigFieldError(
                "instrument.baud_rate", f"a baud rate is for serial (ASRL...) addresses, not {self.address}"
            )
        return self

    @property
    def end_of_message(self) -> str:
        return TERMINATIONS[self.termination]

    def bench_entry(self) -> dict[str, Any]:
        """This instrument's twin as one entry of a simulated bench (``@labrun`` or served)."""
        return {
            "address": self.address,
            "model": self.model,
            "termination": self.end_of_message,
            "load": self.load.bench_entry(),
            "noise": self.noise,
            **({"fault": self.fault.model_dump()} if self.fault else {}),
            **({"hum": self.hum.model_dump()} if self.hum else {}),
        }


def check_units(
    mode: str, levels: dict[str, tuple[float, str | None]], compliance: tuple[float, str | None]
) -> None:
    """Levels in the sourced unit, the compliance in the other (plain numbers follow the mode)."""
    level_unit, limit_unit = units_of(mode)
    for key, (_, unit), wanted in (
        *((k, v, level_unit) for k, v in levels.items()),
        ("compliance", compliance, limit_unit),
    ):
        if unit not in (None, wanted):
            raise ConfigFieldError(
                f"experiment.{key}", f"in {mode} mode, {key} must be in {wanted}, not {unit}"
            )


class IVSweepConfig(Strict):
    type: Literal["iv_sweep"]
    mode: Literal["voltage", "current"] = "voltage"
    start: Level
    stop: Level
    num_points: int = Field(gt=0, le=MAX_POINTS)
    delay: Seconds = Field(0.0, ge=0, le=86_400)
    compliance: Level
    return_sweep: bool = False

    @model_validator(mode="after")
    def consistent(self) -> IVSweepConfig:
        check_units(self.mode, {"start": self.start, "stop": self.stop}, self.compliance)
        if self.num_points > 1 and self.start[0] == self.stop[0]:
            raise ConfigFieldError(
                "experiment.stop", f"stop equals start ({self.start[0]:g}) with {self.num_points} points"
            )
        return self

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`IVSweep`, in SI."""
        return {
            "start": self.start[0],
            "stop": self.stop[0],
            "num_points": self.num_points,
            "delay": self.delay,
            "compliance": self.compliance[0],
            "return_sweep": self.return_sweep,
            "mode": self.mode,
        }

    @property
    def extreme(self) -> float:
        return max(abs(self.start[0]), abs(self.stop[0]))

    @property
    def readings(self) -> int:
        return self.num_points + (self.num_points - 1 if self.return_sweep else 0)


class TimeTraceConfig(Strict):
    type: Literal["time_trace"]
    mode: Literal["voltage", "current"] = "voltage"
    level: Level
    num_points: int = Field(gt=1, le=MAX_POINTS)
    interval: Seconds = Field(0.0, ge=0, le=86_400)
    compliance: Level

    @model_validator(mode="after")
    def consistent(self) -> TimeTraceConfig:
        check_units(self.mode, {"level": self.level}, self.compliance)
        return self

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`TimeTrace`, in SI."""
        return {
            "level": self.level[0],
            "num_points": self.num_points,
            "interval": self.interval,
            "compliance": self.compliance[0],
            "mode": self.mode,
        }

    @property
    def extreme(self) -> float:
        return abs(self.level[0])

    @property
    def readings(self) -> int:
        return self.num_points


class SaveConfig(Strict):
    directory: str = "data"
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", max_length=100)
    plot: bool = True


EXPERIMENTS: dict[str, type[BaseModel]] = {"iv_sweep": IVSweepConfig, "time_trace": TimeTraceConfig}


class Config(Strict):
    instrument: InstrumentConfig
    experiment: Annotated[IVSweepConfig | TimeTraceConfig, Field(discriminator="type")]
    save: SaveConfig = SaveConfig()

    @model_validator(mode="after")
    def within_the_instrument(self) -> Config:
        sweep, limits = self.experiment, self.instrument.limits
        try:
            check_sweep_limits(
                self.instrument.model,
                MODELS[self.instrument.model].limits,
                mode=sweep.mode,
                extreme=sweep.extreme,
                compliance=sweep.compliance[0],
                max_voltage=limits.max_voltage,
                max_current=limits.max_current,
            )
        except LimitError as error:
            level_key = "stop" if isinstance(sweep, IVSweepConfig) else "level"
            key = "compliance" if "compliance" in str(error) else level_key
            raise ConfigFieldError(f"experiment.{key}", str(error)) from None
        return self


class ConfigFieldError(ValueError):
    """Raised inside validators to point at a key (its full dotted path) other than the one checked."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


# --------------------------------------------------------------------- loading


def load_config(path: str | os.PathLike[str], *, out: str | None = None, sim: bool | None = None) -> Config:
    """Read, validate and check ``path``; ``out``/``sim`` override the file's values."""
    path = pathlib.Path(path)
    try:
        if (size := path.stat().st_size) > MAX_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes: a config is at most {MAX_BYTES // 1024} KB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the config: {error}") from None
    try:
        raw = read_yaml(text)
    except YamlRefused as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}{line}: not valid YAML (safe subset, no tags): {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: expected a mapping with keys instrument, experiment, save; got {shown(raw)}"
        )
    if out is not None:
        raw.setdefault("save", {})
        if isinstance(raw["save"], dict):
            raw["save"]["directory"] = out
    if sim is not None and isinstance(raw.get("instrument"), dict):
        raw["instrument"]["sim"] = sim
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(explain(path, raw, error)) from None
    check_directory(path, config.save.directory)
    return config


def explain(path: pathlib.Path, raw: Any, error: ValidationError) -> str:
    """One line per problem: file, key path, bad value, what is allowed."""
    lines = []
    problems = error.errors(include_url=False)
    for problem in problems[:MAX_MESSAGES]:
        location = [str(p) for p in problem["loc"] if not str(p).startswith(("function-", "tuple["))]
        if location[:1] == ["experiment"] and location[1:2] and location[1] in EXPERIMENTS:
            del location[1]  # the union's tag: the user wrote experiment.type, not a key
        message = problem["msg"].removeprefix("Value error, ")
        context = problem.get("ctx", {}).get("error")
        if isinstance(context, ConfigFieldError):
            location = context.key.split(".")
        if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
            location = [*location, "type"]
            missing = problem["type"] == "union_tag_not_found"
            message = (
                "missing: this key is required; " if missing else ""
            ) + f"one of {', '.join(EXPERIMENTS)}"
        key = ".".join(location) or "(top level)"
        value = _lookup(raw, location)
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(location[:-1], raw)
            message = f"unknown key; allowed here: {', '.join(allowed)}" if allowed else "unknown key"
        elif problem["type"] == "missing":
            message = "missing: this key is required"
        value_text = "" if value is _MISSING else f" = {shown(value)}"
        lines.append(f"{path}: {key}{value_text}: {message[:300]}")
    if len(problems) > MAX_MESSAGES:
        lines.append(f"{path}: ... and {len(problems) - MAX_MESSAGES} more problems")
    return "\n".join(lines)


_MISSING = object()


def _lookup(raw: Any, location: list[str]) -> Any:
    node = raw
    for part in location:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _allowed_keys(location: list[str], raw: Any) -> list[str]:
    model: type[BaseModel] = Config
    if location[:1] == ["experiment"]:
        kind = _lookup(raw, ["experiment", "type"])
        model = EXPERIMENTS.get(kind, IVSweepConfig) if isinstance(kind, str) else IVSweepConfig
        location = location[1:]
    for part in location:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def check_directory(path: pathlib.Path, directory: str) -> None:
    """The output directory must exist or be creatable in an existing, writable parent."""
    target = pathlib.Path(directory)
    parent = target if target.exists() else target.parent
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{path}: save.directory = {directory!r}: exists and is not a directory")
    if not parent.exists():
        raise ConfigError(
            f"{path}: save.directory = {directory!r}: its parent {str(parent)!r} does not exist "
            "(labrun creates the last folder only)"
        )
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{path}: save.directory = {directory!r}: not writable")
    if target.exists():  # what access() cannot tell (/proc, a read-only mount): try it
        try:
            with tempfile.TemporaryFile(dir=target):
                pass
        except OSError as error:
            raise ConfigError(
                f"{path}: save.directory = {directory!r}: cannot write a file there ({error.strerror})"
            ) from None


def plan(config: Config) -> list[str]:
    """What ``labrun check`` prints: the experiment, its limits and a duration estimate."""
    exp, inst = config.experiment, config.instrument
    unit, limit_unit = units_of(exp.mode)
    limits = MODELS[inst.model].limits
    where = "simulated " if inst.sim else ""
    if isinstance(exp, IVSweepConfig):
        what = (
            f"sweep: {exp.mode} from {exp.start[0]:g} {unit} to {exp.stop[0]:g} {unit}, "
            f"{exp.num_points} points{' and back' if exp.return_sweep else ''} ({exp.readings} readings)"
        )
        wait = exp.delay
    else:
        what = f"time trace: {exp.num_points} readings at {exp.level[0]:g} {unit}, every {exp.interval:g} s"
        wait = exp.interval
    return [
        f"instrument: {where}{inst.model} at {inst.address}, termination {inst.termination}"
        + (f", {inst.baud_rate} baud" if inst.baud_rate else "")
        + (f" (a twin made from this config: {inst.load.type} load)" if inst.sim else "")
        + (f", NPLC {inst.nplc:g}" if inst.nplc is not None else "")
        + (f", {inst.sense} sense" if inst.sense else ""),
        what,
        f"compliance: {exp.compliance[0]:g} {limit_unit}; "
        f"model range: ±{limits.max_voltage:g} V, ±{limits.max_current:g} A",
        f"duration: at least {_duration(exp.readings * wait)}",
        f"data: {config.save.directory}/{config.save.name or exp.type}_<time>.csv"
        f"{' and a PNG plot' if config.save.plot else ''}",
    ]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"
