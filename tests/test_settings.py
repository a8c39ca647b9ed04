"""Instrument settings are properties: written, read back, refused before writing."""

from __future__ import annotations

import pathlib

import pytest
import yaml

from labrun.drivers import MODELS, LimitError, SourceMeter
from labrun.drivers.settings import Number, Switch
from labrun.drivers.tsp import TspSwitch
from labrun.experiments.cli.main import main
from labrun.experiments.config import load_config
from labrun.experiments.config.launch import open_instrument

from .support import BENCH, twin


def test_every_model_declares_its_speed_and_sense() -> None:
    for model, driver in MODELS.items():
        assert isinstance(driver.nplc, Number), model  # type: ignore[attr-defined]
        assert isinstance(driver.remote_sense, Switch | TspSwitch), model  # type: ignore[attr-defined]


def test_nplc_and_remote_sense_are_written_and_read_back(smu: SourceMeter) -> None:
    state = twin(smu).state
    smu.nplc = 5  # type: ignore[attr-defined]
    assert smu.nplc == 5.0  # type: ignore[attr-defined]
    # one integration time for every function (the 2600B's twin keeps it once)
    assert state[(1, "current_nplc")] == 5.0 and state.get((1, "voltage_nplc"), 5.0) == 5.0
    smu.remote_sense = True  # type: ignore[attr-defined]
    assert smu.remote_sense is True  # type: ignore[attr-defined]
    assert state[(1, "remote_sense")] is True
    smu.remote_sense = False  # type: ignore[attr-defined]
    assert state[(1, "remote_sense")] is False


def test_a_value_outside_the_models_table_is_refused_before_anything_is_written(smu: SourceMeter) -> None:
    log = twin(smu).log
    before = len(log)
    high = type(smu).nplc.high  # type: ignore[attr-defined]
    with pytest.raises(LimitError, match=rf"nplc {high * 10:g} PLC is outside the allowed .* PLC"):
        smu.nplc = high * 10  # type: ignore[attr-defined]
    with pytest.raises(LimitError, match="expected a number in PLC, got True"):
        smu.nplc = True  # type: ignore[attr-defined]
    with pytest.raises(LimitError, match="expected True or False, got 'yes'"):
        smu.remote_sense = "yes"  # type: ignore[attr-defined]
    assert len(log) == before


def config_with(tmp_path: pathlib.Path, **instrument: object) -> pathlib.Path:
    config = {
        "instrument": {"model": "keithley2400", "address": BENCH["keithley2400"], "sim": True, **instrument},
        "experiment": {"type": "iv_sweep", "start": 0, "stop": 1, "num_points": 3, "compliance": 0.01},
        "save": {"directory": str(tmp_path), "plot": False},
    }
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_a_config_sets_nplc_and_sense(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_with(tmp_path, nplc=10, sense="4-wire")
    config = load_config(path)
    with open_instrument(config.instrument) as smu:
        assert twin(smu).state[(1, "current_nplc")] == 10.0
        assert twin(smu).state[(1, "remote_sense")] is True
    assert main(["check", str(path)]) == 0
    assert "NPLC 10, 4-wire sense" in capsys.readouterr().out


def test_a_config_with_an_nplc_beyond_the_model_is_refused(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(config_with(tmp_path, nplc=100)), "--no-progress"]) == 2
    assert "instrument.nplc = 100: keithley2400: nplc 100 PLC is outside the allowed 0.01 .. 10 PLC" in (
        capsys.readouterr().err
    )
    assert main(["run", str(config_with(tmp_path, sense="3-wire")), "--no-progress"]) == 2
    assert "instrument.sense = '3-wire'" in capsys.readouterr().err


def test_a_config_sets_every_measurement_setting_by_key(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_with(
        tmp_path,
        source_range="20 V",
        measure_range="10 mA",
        averaging={"type": "moving", "count": 20},
        autozero=False,
        source_delay="5 ms",
        output_off_state="high_impedance",
    )
    config = load_config(path)
    with open_instrument(config.instrument, config.experiment.mode) as smu:
        state = twin(smu).state
        assert state[(1, "voltage_range")] == 20.0 and state[(1, "current_sense_range")] == 0.01
        assert (state[(1, "averaging")], state[(1, "averaging_type")], state[(1, "averaging_count")]) == (
            True,
            "MOV",
            20.0,
        )
        assert state[(1, "autozero")] is False and state[(1, "output_off_state")] == "HIMP"
        assert state[(1, "source_delay")] == pytest.approx(0.005) and state[(1, "source_delay_auto")] is False
    auto = load_config(config_with(tmp_path, source_range="auto", measure_range="AUTO", source_delay="auto"))
    with open_instrument(auto.instrument) as smu:
        state = twin(smu).state
        assert (
            state[(1, "voltage_range_auto")]
            and state[(1, "current_sense_auto")]
            and state[(1, "source_delay_auto")]
        )
    assert main(["run", str(path), "--no-progress"]) == 0


@pytest.mark.parametrize(
    ("model", "key", "value", "message"),
    [
        (
            "keysight_b2901",
            "averaging",
            {"type": "repeat", "count": 5},
            "the keysight_b2901 has no averaging",
        ),
        ("keysight_b2901", "source_delay", "auto", "has no source delay auto"),
        (
            "keithley2400",
            "averaging",
            {"count": 500},
            "averaging_count 500 readings is outside the allowed 1 .. 100",
        ),
        ("keithley2400", "output_off_state", "floating", "'floating'; allowed: 'normal', 'high_impedance'"),
        (
            "keithley2400",
            "measure_range",
            "10 V",
            "in voltage mode the measure range is a current, in A, not V",
        ),
        (
            "keithley2400",
            "source_range",
            "500 V",
            "voltage_source_range 500 V is outside the allowed 0.2 .. 210 V",
        ),
        ("keithley2400", "source_delay", "10 V", "expected a time in s"),
    ],
)
def test_each_setting_is_refused_with_what_the_model_allows(
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    model: str,
    key: str,
    value: object,
    message: str,
) -> None:
    from labrun.sim_devices import backend

    path = config_with(tmp_path, **{key: value, "model": model, "address": BENCH[model]})
    built = backend.twins_built
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"instrument.{key}" in err and message in err, err
    assert backend.twins_built == built  # refused before any instrument was touched


RANGES = [
    ("voltage_source_range", "voltage_range", "voltage_source_autorange", "voltage_range_auto"),
    ("current_source_range", "current_range", "current_source_autorange", "current_range_auto"),
    ("voltage_measure_range", "voltage_sense_range", "voltage_measure_autorange", "voltage_sense_auto"),
    ("current_measure_range", "current_sense_range", "current_measure_autorange", "current_sense_auto"),
]


@pytest.mark.parametrize(("name", "key", "auto", "auto_key"), RANGES)
def test_ranges_from_the_models_table(
    smu: SourceMeter, name: str, key: str, auto: str, auto_key: str
) -> None:
    table = getattr(type(smu).ranges, name.removesuffix("_range"))
    low, high = table
    state = twin(smu).state
    setattr(smu, name, high)
    assert getattr(smu, name) == pytest.approx(high) and state[(1, key)] == pytest.approx(high)
    setattr(smu, name, low)
    assert state[(1, key)] == pytest.approx(low)
    setattr(smu, auto, False)
    assert state[(1, auto_key)] is False and getattr(smu, auto) is False
    before = len(twin(smu).log)
    with pytest.raises(LimitError, match=rf"{name} .* is outside the allowed {low:g} \.\. {high:g}"):
        setattr(smu, name, high * 2)
    assert len(twin(smu).log) == before  # refused before anything was written


def test_a_range_reads_back_the_range_the_instrument_picked() -> None:
    """A real instrument answers the range that holds the value (1 V -> the 2 V range)."""
    from labrun.drivers.settings import Range

    setting = Range(":X {value}", ":X?", table="voltage_source", unit="V", doc="")
    assert setting.holds(2.0, 1.0) and setting.holds(1.0, 1.0)
    assert not setting.holds(0.2, 1.0)


def test_averaging_autozero_and_line_frequency_where_the_model_has_them(smu: SourceMeter) -> None:
    state = twin(smu).state
    assert smu.line_frequency == 50.0  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="line_frequency is read from the instrument"):
        smu.line_frequency = 60.0  # type: ignore[attr-defined]
    if not hasattr(type(smu), "averaging"):  # the B2900 has no averaging filter nor autozero switch
        assert smu.model.startswith("keysight") and not hasattr(type(smu), "autozero")
        return
    smu.averaging_type = "moving"  # type: ignore[attr-defined]
    smu.averaging_count = 20  # type: ignore[attr-defined]
    smu.averaging = True  # type: ignore[attr-defined]
    assert (smu.averaging, smu.averaging_type, smu.averaging_count) == (True, "moving", 20.0)  # type: ignore[attr-defined]
    assert (state[(1, "averaging")], state[(1, "averaging_type")], state[(1, "averaging_count")]) == (
        True,
        "MOV",
        20.0,
    )
    smu.autozero = False  # type: ignore[attr-defined]
    assert state[(1, "autozero")] is False
    before = len(twin(smu).log)
    with pytest.raises(LimitError, match="averaging_type: 'median'; allowed: 'repeat', 'moving'"):
        smu.averaging_type = "median"  # type: ignore[attr-defined]
    with pytest.raises(LimitError, match=r"averaging_count 500 readings is outside the allowed 1 \.\. 100"):
        smu.averaging_count = 500  # type: ignore[attr-defined]
    assert len(twin(smu).log) == before


#: model -> (property, value, the bytes it sends: the setting, confirmed, then its read-back)
PINNED: dict[str, list[tuple[str, object, list[bytes]]]] = {
    "keithley2400": [
        ("nplc", 5, [b":SENS:CURR:NPLC 5;:SENS:VOLT:NPLC 5;:SYST:ERR:COUN?", b":SENS:CURR:NPLC?"]),
        ("remote_sense", True, [b":SYST:RSEN ON;:SYST:ERR:COUN?", b":SYST:RSEN?"]),
        ("current_measure_range", 1e-3, [b":SENS:CURR:RANG 0.001;:SYST:ERR:COUN?", b":SENS:CURR:RANG?"]),
        ("averaging_type", "moving", [b":SENS:AVER:TCON MOV;:SYST:ERR:COUN?", b":SENS:AVER:TCON?"]),
        ("source_delay", 0.02, [b":SOUR:DEL 0.02;:SYST:ERR:COUN?", b":SOUR:DEL?"]),
        ("source_delay_auto", False, [b":SOUR:DEL:AUTO OFF;:SYST:ERR:COUN?", b":SOUR:DEL:AUTO?"]),
        ("output_off_state", "high_impedance", [b":OUTP:SMOD HIMP;:SYST:ERR:COUN?", b":OUTP:SMOD?"]),
        ("offset_compensation", True, [b":SENS:RES:OCOM ON;:SYST:ERR:COUN?", b":SENS:RES:OCOM?"]),
    ],
    "keithley2450": [
        ("nplc", 0.1, [b":SENS:CURR:NPLC 0.1;:SENS:VOLT:NPLC 0.1;:SYST:ERR:COUN?", b":SENS:CURR:NPLC?"]),
        (
            "remote_sense",
            True,
            [b":SENS:CURR:RSEN ON;:SENS:VOLT:RSEN ON;:SYST:ERR:COUN?", b":SENS:CURR:RSEN?"],
        ),
        ("voltage_source_range", 20, [b":SOUR:VOLT:RANG 20;:SYST:ERR:COUN?", b":SOUR:VOLT:RANG?"]),
        (
            "autozero",
            False,
            [b":SENS:CURR:AZER OFF;:SENS:VOLT:AZER OFF;:SYST:ERR:COUN?", b":SENS:CURR:AZER?"],
        ),
        ("source_delay", 0.5, [b":SOUR:VOLT:DEL 0.5;:SOUR:CURR:DEL 0.5;:SYST:ERR:COUN?", b":SOUR:VOLT:DEL?"]),
        ("output_off_state", "zero", [b":OUTP:SMOD ZERO;:SYST:ERR:COUN?", b":OUTP:SMOD?"]),
        ("offset_compensation", True, [b":SENS:RES:OCOM ON;:SYST:ERR:COUN?", b":SENS:RES:OCOM?"]),
    ],
    "keysight_b2901": [
        ("nplc", 10, [b":SENS:CURR:NPLC 10;:SENS:VOLT:NPLC 10;:SYST:ERR:COUN?", b":SENS:CURR:NPLC?"]),
        ("remote_sense", True, [b":SENS:REM ON;:SYST:ERR:COUN?", b":SENS:REM?"]),
        ("current_source_range", 0.1, [b":SOUR:CURR:RANG 0.1;:SYST:ERR:COUN?", b":SOUR:CURR:RANG?"]),
        ("source_delay", 0.001, [b":TRIG:TRAN:DEL 0.001;:SYST:ERR:COUN?", b":TRIG:TRAN:DEL?"]),
        ("output_off_state", "high_impedance", [b":OUTP:OFF:MODE HIZ;:SYST:ERR:COUN?", b":OUTP:OFF:MODE?"]),
        (
            "aperture",
            0.02,
            [b":SENS:CURR:APER 0.02;:SENS:VOLT:APER 0.02;:SYST:ERR:COUN?", b":SENS:CURR:APER?"],
        ),
    ],
}


#: TSP: the assignment, the error count asked in a message of its own (a Lua error in the
#: assignment would run nothing of a chunk that held both), then the value read back
PINNED["keithley2636b"] = [
    (name, value, [command.encode(), b"print(errorqueue.count)", query.encode()])
    for name, value, command, query in (
        ("nplc", 5, "smua.measure.nplc = 5", "print(smua.measure.nplc)"),
        ("remote_sense", True, "smua.sense = 1", "print(smua.sense)"),
        ("current_measure_range", 1e-3, "smua.measure.rangei = 0.001", "print(smua.measure.rangei)"),
        ("averaging_type", "moving", "smua.measure.filter.type = 0", "print(smua.measure.filter.type)"),
        ("autozero", False, "smua.measure.autozero = 0", "print(smua.measure.autozero)"),
        ("source_delay", 0.02, "smua.source.delay = 0.02", "print(smua.source.delay)"),
        ("source_delay_auto", True, "smua.source.delay = -1", "print(smua.source.delay)"),
        ("output_off_state", "high_impedance", "smua.source.offmode = 2", "print(smua.source.offmode)"),
    )
]
PINNED["keysight_b2902"] = PINNED["keysight_b2901"]  # its channel 1: test_channels pins channel 2


def test_each_property_sends_exactly_its_scpi(smu: SourceMeter) -> None:
    """Pinned bytes, as PyMeasure's expected_protocol tests pin theirs."""
    log = twin(smu).log
    for name, value, sent in PINNED[smu.model]:
        before = len(log)
        setattr(smu, name, value)
        assert log[before:] == sent, name


def test_source_state_is_properties_that_write_and_refuse(smu: SourceMeter) -> None:
    """``smu.current_limit = 0.02`` writes the compliance (it once changed a cached copy only)."""
    state, log = twin(smu).state, twin(smu).log
    smu.mode = "voltage"
    smu.current_limit = 0.02
    assert smu.current_limit == 0.02 and state[(1, "current_limit")] == pytest.approx(0.02)
    smu.level = 1.5
    assert smu.level == 1.5 and state[(1, "voltage")] == pytest.approx(1.5)
    smu.output_enabled = True
    assert smu.is_output_on() and state[(1, "output")] is True
    smu.output_enabled = False
    assert not smu.is_output_on()
    smu.mode = "current"
    smu.voltage_limit = 5.0
    smu.level = 1e-3
    assert (smu.mode, smu.level, smu.voltage_limit) == ("current", 1e-3, 5.0)
    assert (state[(1, "current")], state[(1, "voltage_limit")]) == (pytest.approx(1e-3), pytest.approx(5.0))
    smu.sync()  # what the driver holds is what the instrument says
    assert (smu.mode, smu.level, smu.voltage_limit) == ("current", pytest.approx(1e-3), pytest.approx(5.0))
    before = len(log)
    with pytest.raises(LimitError, match="outside the allowed"):
        smu.level = 10.0  # 10 A: beyond every model's range
    with pytest.raises(ValueError, match="mode must be 'voltage' or 'current', got 'resistance'"):
        smu.mode = "resistance"  # type: ignore[assignment]
    assert len(log) == before  # refused before anything was written


def test_a_misspelt_setting_is_refused_not_silently_kept(smu: SourceMeter) -> None:
    log = twin(smu).log
    before = len(log)
    with pytest.raises(
        AttributeError, match=r"has no setting 'current_limt': nothing was sent; settings: .*current_limit"
    ):
        smu.current_limt = 0.02  # type: ignore[attr-defined]
    assert len(log) == before
    assert "nplc" in smu.settings() and "level" in smu.settings() and "name" not in smu.settings()
    smu.keep_output = True  # plain driver options stay plain attributes


def test_readings_carry_the_instruments_resistance_where_the_model_gives_it(
    smu: SourceMeter, tmp_path: pathlib.Path
) -> None:
    from labrun.experiments import IVSweep, Saving, load_data

    smu.current_limit = 0.01
    if not (type(smu).scpi.resistance_on or type(smu).resistance_of_reading):  # the 2450: a function
        with pytest.raises(LimitError, match="readings carry no resistance"):
            smu.measure_resistance = True
        return
    smu.measure_resistance = True
    smu.set_voltage(1.0)
    smu.output_on()
    assert smu.measure().resistance == pytest.approx(1000.0, rel=1e-3)  # the bench's 1 kOhm
    for kind in ("stepped", "hardware"):
        sweep = IVSweep(
            smu, start=0.5, stop=1.0, num_points=3, compliance=0.01, sweep=kind, save=Saving(str(tmp_path))
        )
        sweep.run()
        assert sweep.data_file is not None
        kept = load_data(sweep.data_file.path)
        assert kept.metadata["units"]["resistance"] == "ohm"
        assert kept["resistance"] == pytest.approx([1000.0] * 3, rel=1e-3), kind
    smu.measure_resistance = False
    smu.output_on()
    assert smu.measure().resistance is None


def test_the_b2900s_aperture_and_nplc_are_one_integration_time() -> None:
    from labrun.drivers import open_sourcemeter

    with open_sourcemeter("keysight_b2901", BENCH["keysight_b2901"], sim=True) as smu:
        smu.aperture = 0.04  # type: ignore[attr-defined]
        assert smu.nplc == pytest.approx(2.0)  # type: ignore[attr-defined]  # 40 ms at 50 Hz
        smu.nplc = 0.5  # type: ignore[attr-defined]
        assert smu.aperture == pytest.approx(0.01)  # type: ignore[attr-defined]
        with pytest.raises(LimitError, match="aperture 5 s is outside the allowed"):
            smu.aperture = 5.0  # type: ignore[attr-defined]


def test_a_config_measures_resistance_where_the_model_can(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from labrun.experiments import load_data

    path = config_with(tmp_path, measure_resistance=True, offset_compensation=True)
    assert main(["run", str(path), "--no-progress"]) == 0
    ohms = load_data(next(tmp_path.glob("*.csv")))["resistance"]
    assert ohms[1:] == pytest.approx([1000.0] * 2, rel=1e-3)  # 0.5 V and 1 V (at 0 V: noise over noise)
    refused = config_with(
        tmp_path, measure_resistance=True, model="keithley2450", address=BENCH["keithley2450"]
    )
    assert main(["run", str(refused), "--no-progress"]) == 2
    assert "instrument.measure_resistance" in capsys.readouterr().err


def test_the_command_line_sets_the_same_keys(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``labrun run CONFIG --set KEY=VALUE``: any key, read as YAML, checked with the file."""
    from labrun.experiments import load_data

    path = config_with(tmp_path)
    sets = [
        "--set",
        "instrument.nplc=0.1",
        "--set",
        "instrument.measure_range=10 mA",
        "--set",
        "experiment.sweep=hardware",
    ]
    assert main(["check", str(path), *sets]) == 0
    assert "NPLC 0.1" in capsys.readouterr().out
    assert (
        main(
            [
                "run",
                str(path),
                "--no-progress",
                *sets,
                "--set",
                "instrument.averaging={type: moving, count: 4}",
            ]
        )
        == 0
    )
    assert load_data(next(tmp_path.glob("*.csv"))).metadata["parameters"]["sweep"] == "hardware"
    assert main(["check", str(path), "--set", "instrument.nplc=100"]) == 2
    assert "instrument.nplc = 100: keithley2400: nplc 100 PLC is outside" in capsys.readouterr().err
    assert main(["check", str(path), "--set", "nplc"]) == 2
    assert "expected KEY.PATH=VALUE" in capsys.readouterr().err
