"""The whole config: instrument, experiment (IV sweep or time trace) and saving, checked together."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from labrun.drivers import (
    MODELS,
    LimitError,
)
from labrun.experiments.config.fields import ConfigFieldError, Seconds, Strict
from labrun.experiments.config.instrument import InstrumentConfig
from labrun.experiments.model.iv_sweep import IVSweepParameters
from labrun.experiments.model.sourcing import check_hardware_sweep, check_sweep_limits
from labrun.experiments.model.time_trace import TimeTraceParameters
from labrun.experiments.storage import DataFile


class IVSweepConfig(IVSweepParameters):
    """``experiment:`` of an IV sweep: its parameters (declared once, in the experiment's
    module), tagged with ``type``."""

    type: Literal["iv_sweep"]


class TimeTraceConfig(TimeTraceParameters):
    """``experiment:`` of a time trace."""

    type: Literal["time_trace"]


class SaveConfig(Strict):
    directory: str = "data"
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", max_length=100)
    plot: bool = True
    #: at most one write of the data file per interval (a faster burst in batches); 0: every row at once
    write_interval: Seconds = Field(DataFile.WRITE_INTERVAL, ge=0, le=1)


#: experiment type -> its config section: the experiment's parameters, tagged
EXPERIMENTS: dict[str, type[IVSweepConfig] | type[TimeTraceConfig]] = {
    "iv_sweep": IVSweepConfig,
    "time_trace": TimeTraceConfig,
}


def experiment_keys() -> str:
    """The ``experiment.*`` keys a config (and ``--set``) takes, per experiment type, read
    off each experiment's parameters: name [unit]."""
    lines = []
    for kind, model in EXPERIMENTS.items():
        keys = ", ".join(f"{f.name}" + (f" [{f.unit}]" if f.unit else "") for f in model.fields())
        lines.append(f"  {kind}: {keys}")
    return "\n".join(lines)


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
                compliance=sweep.compliance,
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
