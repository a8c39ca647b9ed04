"""The instrument part of a config: model, address, backend, settings, and its twin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from labrun.drivers import (
    MODELS,
    TERMINATIONS,
    BaudRate,
    LimitError,
    Termination,
    check_address,
    is_serial,
)
from labrun.drivers.errors import shown
from labrun.drivers.settings import Setting
from labrun.experiments.config.fields import (
    VISA_BACKENDS,
    Amps,
    ConfigFieldError,
    DelayOrAuto,
    Hertz,
    Kelvin,
    Ohms,
    RangeLevel,
    Seconds,
    Strict,
    Volts,
)


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


class AveragingConfig(Strict):
    """The averaging filter: repeating (a fresh set per reading) or moving, over ``count`` readings."""

    type: Literal["repeat", "moving"] = "repeat"
    count: int = Field(10, ge=1)


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
    #: the twin's time model (sim only): answers at once, or in the instrument's own time
    timing: Literal["off", "realistic"] = "off"
    #: "auto" or a range in the sourced unit / the measured unit (V or A, by the mode)
    source_range: RangeLevel | None = None
    measure_range: RangeLevel | None = None
    #: the averaging filter: {type: repeat|moving, count: N}, or "off"
    averaging: AveragingConfig | Literal["off"] | None = None
    autozero: bool | None = None
    #: settling time before each reading: "auto" (the model's table) or a time
    source_delay: DelayOrAuto | None = None
    #: what the output does when off: normal, high_impedance, zero, guard (as the model has them)
    output_off_state: str | None = None
    #: each reading also carries the instrument's resistance (a data-file column)
    measure_resistance: bool = False
    offset_compensation: bool | None = None
    #: integration time in seconds, where the model has it (the B2900)
    aperture: Seconds | None = None

    @model_validator(mode="after")
    def within_the_models_settings(self) -> InstrumentConfig:
        """Each setting refused here, with what the model allows, before anything is opened:
        by the entry of the model's table it is applied through (the ranges, whose unit
        depends on the experiment's mode, in ``Config``)."""
        driver = MODELS[self.model]
        table = driver.setting_table()
        for key, name, value in self.driver_settings():
            setting = table.get(name)
            if setting is None:
                what = name.replace("_", " ")
                raise ConfigFieldError(f"instrument.{key}", f"the {self.model} has no {what}")
            if key in ("source_range", "measure_range"):
                continue
            try:
                setting.allowed_for(driver, value)
            except LimitError as error:
                said = str(error) if self.model in str(error) else f"{self.model}: {error}"
                raise ConfigFieldError(f"instrument.{key}", said) from None
        return self

    def driver_settings(self, mode: str = "voltage") -> list[tuple[str, str, Any]]:
        """(config key, name in the model's table of settings, value) in the order they are
        applied, for an experiment in ``mode``: one list for checking and for applying."""
        sourced, measured = ("voltage", "current") if mode == "voltage" else ("current", "voltage")
        out: list[tuple[str, str, Any]] = []
        if self.nplc is not None:
            out.append(("nplc", "nplc", self.nplc))
        if self.sense is not None:
            out.append(("sense", "remote_sense", self.sense == "4-wire"))
        for key, kind, what in (("source_range", "source", sourced), ("measure_range", "measure", measured)):
            value = getattr(self, key)
            if value == "auto":
                out.append((key, f"{what}_{kind}_autorange", True))
            elif value is not None:
                out.append((key, f"{what}_{kind}_range", value[0]))
        if isinstance(self.averaging, AveragingConfig):
            out += [
                ("averaging", "averaging", True),
                ("averaging.type", "averaging_type", self.averaging.type),
                ("averaging.count", "averaging_count", self.averaging.count),
            ]
        elif self.averaging == "off":
            out.append(("averaging", "averaging", False))
        if self.autozero is not None:
            out.append(("autozero", "autozero", self.autozero))
        if self.source_delay == "auto":
            out.append(("source_delay", "source_delay_auto", True))
        elif self.source_delay is not None:
            if "source_delay_auto" in MODELS[self.model].setting_table():
                out.append(("source_delay", "source_delay_auto", False))
            out.append(("source_delay", "source_delay", self.source_delay))
        for key in ("output_off_state", "offset_compensation", "aperture"):
            if (value := getattr(self, key)) is not None:
                out.append((key, key, value))
        if self.measure_resistance:
            out.append(("measure_resistance", "measure_resistance", True))
        return out

    def settings_for(self, mode: str, table: Mapping[str, Setting]) -> list[tuple[Setting, Any]]:
        """(setting, value) to apply, in order, for an experiment in ``mode``: each the entry
        of ``table``, the driver's own (a channel's speaks to its channel)."""
        return [(table[name], value) for _, name, value in self.driver_settings(mode)]

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
        if self.timing != "off" and not self.sim:
            raise ConfigFieldError("instrument.timing", "timing is the twin's time model: for sim: true only")
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
            "timing": self.timing,
        }
