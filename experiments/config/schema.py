"""The whole config: instrument, experiment (IV sweep or time trace) and saving, checked together."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from labrun.drivers import (
    MODELS,
    LimitError,
)
from labrun.experiments.config.fields import MAX_POINTS, ConfigFieldError, Level, Seconds, Strict
from labrun.experiments.config.instrument import InstrumentConfig
from labrun.experiments.iv_sweep import check_hardware_sweep, check_sweep_limits, units_of
from labrun.experiments.storage import DataFile


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
    #: linear or logarithmic steps from start to stop
    spacing: Literal["linear", "log"] = "linear"
    #: stepped: the host sets each level (careful, slow curves); hardware: the instrument
    #: steps through the levels into its buffer (fast curves), polled every poll_interval
    sweep: Literal["stepped", "hardware"] = "stepped"
    poll_interval: Seconds = Field(0.05, gt=0, le=60)

    @model_validator(mode="after")
    def consistent(self) -> IVSweepConfig:
        check_units(self.mode, {"start": self.start, "stop": self.stop}, self.compliance)
        if self.num_points > 1 and self.start[0] == self.stop[0]:
            raise ConfigFieldError(
                "experiment.stop", f"stop equals start ({self.start[0]:g}) with {self.num_points} points"
            )
        if self.spacing == "log" and not self.start[0] * self.stop[0] > 0:
            raise ConfigFieldError(
                "experiment.spacing",
                f"a log sweep needs start and stop of one sign, not zero: "
                f"{self.start[0]:g} .. {self.stop[0]:g}",
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
            "spacing": self.spacing,
            "sweep": self.sweep,
            "poll_interval": self.poll_interval,
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
    #: at most one write of the data file per interval (a faster burst in batches); 0: every row at once
    write_interval: Seconds = Field(DataFile.WRITE_INTERVAL, ge=0, le=1)


EXPERIMENTS: dict[str, type[BaseModel]] = {"iv_sweep": IVSweepConfig, "time_trace": TimeTraceConfig}


class Config(Strict):
    instrument: InstrumentConfig
    experiment: Annotated[IVSweepConfig | TimeTraceConfig, Field(discriminator="type")]
    save: SaveConfig = SaveConfig()

    def check_ranges(self) -> None:
        """A source range in the sourced unit, a measure range in the measured one, each
        within the model's table (the mode decides which is which)."""
        mode, inst = self.experiment.mode, self.instrument
        driver = MODELS[inst.model]
        sourced, measured = ("voltage", "current") if mode == "voltage" else ("current", "voltage")
        for key, kind, what in (("source_range", "source", sourced), ("measure_range", "measure", measured)):
            value = getattr(inst, key)
            if value is None or value == "auto":
                continue
            number, unit = value
            wanted = "V" if what == "voltage" else "A"
            if unit not in (None, wanted):
                raise ConfigFieldError(
                    f"instrument.{key}",
                    f"in {mode} mode the {kind} range is a {what}, in {wanted}, not {unit}",
                )
            try:
                driver.setting(f"{what}_{kind}_range").allowed_for(driver, number)
            except LimitError as error:
                raise ConfigFieldError(f"instrument.{key}", f"{inst.model}: {error}") from None

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
        self.check_ranges()
        if isinstance(sweep, IVSweepConfig) and sweep.sweep == "hardware":
            try:
                check_hardware_sweep(MODELS[self.instrument.model], sweep.readings)
            except ValueError as error:  # LimitError is one
                raise ConfigFieldError("experiment.sweep", str(error)) from None
        return self
