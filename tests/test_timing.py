"""The twins' time model: off by default (tests stay fast), the instrument's own time when on.

Lower bounds only: a twin may be late (the machine is busy), never early.
"""

from __future__ import annotations

import time

import pytest

from labrun.drivers import open_sourcemeter
from labrun.sim_devices import Timing, realistic_bench, twin_of
from labrun.sim_devices.timing import AUTOZERO_CONVERSIONS, LINK_LATENCY, READING_OVERHEAD


def test_timing_is_off_by_default() -> None:
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
        assert twin_of(smu.instrument.resource).timing is None
        smu.nplc = 10  # type: ignore[attr-defined]  # 200 ms a reading on the instrument: at once here
        smu.output_on()
        smu.measure()
        assert twin_of(smu.instrument.resource).busy_until == 0.0


def test_the_model_adds_integration_averaging_autozero_and_the_link() -> None:
    timing = Timing.for_address("GPIB0::24::INSTR")
    assert timing.link_latency == LINK_LATENCY["GPIB"]
    assert timing.reading(1, 50) == pytest.approx(0.02 + READING_OVERHEAD)
    assert timing.reading(1, 60, averaging=10) == pytest.approx(10 / 60 + READING_OVERHEAD)
    assert timing.reading(0.01, 50, autozero=True) == pytest.approx(
        AUTOZERO_CONVERSIONS * 0.0002 + READING_OVERHEAD
    )
    assert Timing.for_address("TCPIP0::1.2.3.4::5025::SOCKET").link_latency == LINK_LATENCY["TCPIP"]
    assert Timing.for_address("GPIB0::1::INSTR", link_latency=0.0).link_latency == 0.0


@pytest.mark.parametrize(
    ("model", "address"),
    [
        ("keithley2400", "GPIB0::24::INSTR"),
        ("keithley2450", "GPIB0::18::INSTR"),
        ("keysight_b2901", "GPIB0::23::INSTR"),
        ("keithley2636b", "GPIB0::26::INSTR"),
    ],
)
def test_a_reading_takes_its_integration_time_and_the_source_delay(model: str, address: str) -> None:
    with open_sourcemeter(model, address, sim=realistic_bench()) as smu:
        twin = twin_of(smu.instrument.resource)
        assert twin.timing is not None
        smu.current_limit = 0.01
        smu.set_voltage(1.0)
        smu.output_on()
        for nplc in (0.01, 1.0):
            smu.nplc = nplc  # type: ignore[attr-defined]
            floor = twin.reading_time() + twin.source_delay() + 2 * twin.timing.link_latency
            assert floor >= nplc / 50
            began = time.monotonic()
            reading = smu.measure()
            took = time.monotonic() - began
            assert took >= floor * 0.999, (nplc, took, floor)
            assert reading.current == pytest.approx(1e-3, rel=0.01)


def test_the_2400_source_delay_and_averaging_count() -> None:
    with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=realistic_bench()) as smu:
        twin = twin_of(smu.instrument.resource)
        smu.nplc = 0.01  # type: ignore[attr-defined]
        smu.autozero = False  # type: ignore[attr-defined]
        smu.averaging = True  # type: ignore[attr-defined]
        smu.averaging_count = 5  # type: ignore[attr-defined]
        smu.instrument.write(":SOUR:DEL 0.05")
        smu.output_on()
        assert twin.reading_time() == pytest.approx(5 * 0.01 / 50 + READING_OVERHEAD)
        began = time.monotonic()
        smu.measure()
        assert time.monotonic() - began >= 0.05 + twin.reading_time()


def test_a_config_turns_timing_on_for_a_twin_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import yaml

    from labrun.experiments.config import ConfigError, load_config

    config = {
        "instrument": {
            "model": "keithley2400",
            "address": "GPIB0::24::INSTR",
            "sim": True,
            "timing": "realistic",
        },
        "experiment": {"type": "iv_sweep", "start": 0, "stop": 1, "num_points": 3, "compliance": 0.01},
    }
    config["instrument"]["timing"] = "realistic"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert load_config(path).instrument.bench_entry()["timing"] == "realistic"
    config["instrument"]["sim"] = False
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=r"instrument.timing.*for sim: true only"):
        load_config(path)
