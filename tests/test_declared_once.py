"""An experiment's parameters are declared once; the config, its description, the CLI's
keys and the panel's form are read off that declaration."""

from __future__ import annotations

import argparse
import pathlib

import pytest
import yaml

from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, TimeTrace
from labrun.experiments.cli.main import parser
from labrun.experiments.config.schema import EXPERIMENTS, IVSweepConfig, TimeTraceConfig
from labrun.experiments.model.iv_sweep import IVSweepParameters
from labrun.experiments.model.parameters import ParameterError, Parameters
from labrun.experiments.model.time_trace import TimeTraceParameters
from labrun.experiments.panel.forms import parameters

from .support import BENCH

DECLARED: list[tuple[str, type[Parameters], type[Parameters]]] = [
    ("iv_sweep", IVSweepParameters, IVSweepConfig),
    ("time_trace", TimeTraceParameters, TimeTraceConfig),
]


@pytest.mark.parametrize(("kind", "declared", "config"), DECLARED)
def test_the_config_section_is_the_parameters_tagged(
    kind: str, declared: type[Parameters], config: type[Parameters]
) -> None:
    assert EXPERIMENTS[kind] is config and issubclass(config, declared)
    assert list(config.model_fields) == [*declared.model_fields, "type"]


def test_the_description_in_the_data_file_is_every_parameter() -> None:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        sweep = IVSweep(smu, start="0 V", stop="1 V", num_points=3, compliance="10 mA")
        trace = TimeTrace(smu, level=1.0, num_points=2, compliance=0.01)
    assert list(sweep.describe()) == list(IVSweepParameters.model_fields)
    assert list(trace.describe()) == list(TimeTraceParameters.model_fields)
    assert sweep.describe()["stop"] == 1.0 and sweep.describe()["compliance"] == 0.01  # SI


@pytest.mark.parametrize("command", ["run", "check"])
def test_the_cli_help_lists_every_key(command: str) -> None:
    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = commands.choices[command].format_help()
    for kind, declared, _ in DECLARED:
        line = next(line for line in text.splitlines() if line.strip().startswith(f"{kind}:"))
        for field in declared.fields():
            assert field.name in line


def test_the_panels_form_lists_every_parameter_with_its_unit(tmp_path: pathlib.Path) -> None:
    config = {
        "instrument": {"model": "keithley2400", "address": BENCH["keithley2400"], "sim": True},
        "experiment": {"type": "iv_sweep", "start": 0, "stop": 1, "num_points": 3, "compliance": "1 mA"},
    }
    (tmp_path / "iv.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    form = {p["key"]: p for p in parameters(tmp_path, "iv")}
    assert set(form) == {"experiment.type"} | {f"experiment.{f.name}" for f in IVSweepParameters.fields()}
    assert form["experiment.delay"]["unit"] == "s" and form["experiment.delay"]["value"] == "0.0 s"


def test_the_python_api_refuses_as_the_config_does() -> None:
    with open_sourcemeter("keithley2400", BENCH["keithley2400"], sim=True) as smu:
        with pytest.raises(ParameterError, match="colour = 'red': unknown parameter"):
            IVSweep(smu, start=0, stop=1, num_points=3, compliance=0.01, colour="red")
        with pytest.raises(ParameterError, match="num_points = True: Input should be a valid integer"):
            IVSweep(smu, start=0, stop=1, num_points=True, compliance=0.01)
