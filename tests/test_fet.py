"""Transistor curves on two channels or two instruments: the simulated MOSFET, the grid
sweep, its safe ends (drain off before gate), the station configs, the analysis."""

from __future__ import annotations

import math
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import pytest
import yaml

from labrun.analysis.fet import on_off_ratio, subthreshold_swing, threshold_voltage
from labrun.drivers import DeviceBusy, KeysightB2902, SourceMeter, open_sourcemeter
from labrun.experiments import Point, load_data, start
from labrun.experiments.cli.main import main
from labrun.experiments.cli.sim import bench_entries
from labrun.experiments.config import ConfigError, load_station
from labrun.experiments.model import Axis, GridSweep, Terminal, fet_output, fet_transfer, levels_between
from labrun.experiments.storage import Saving
from labrun.experiments.views.live import LivePlot
from labrun.sim_devices import bench_in_memory
from labrun.sim_devices.backend import twin_of
from labrun.sim_devices.circuits import Mosfet

from .support import ServedTwins, run_threads

B2902 = "GPIB0::22::INSTR"
K2400 = "GPIB0::24::INSTR"
CONFIGS = pathlib.Path(__file__).parent.parent / "experiments" / "configs"


def wiring(gate: tuple[str, int], drain: tuple[str, int], **device: Any) -> dict[str, Any]:
    return {
        "type": "mosfet",
        **device,
        "gate": {"address": gate[0], "channel": gate[1]},
        "drain": {"address": drain[0], "channel": drain[1]},
    }


@pytest.fixture
def fet() -> Iterator[tuple[KeysightB2902, SourceMeter]]:
    """A B2902 twin with an n-type MOSFET between its channels: (gate, drain)."""
    bench = bench_in_memory([{"address": B2902, "model": "keysight_b2902"}], [wiring((B2902, 1), (B2902, 2))])
    b2902 = open_sourcemeter("keysight_b2902", B2902, sim=bench)
    assert isinstance(b2902, KeysightB2902)
    yield b2902, b2902.channel(2)
    b2902.close()


# ------------------------------------------------------------------- the device


def test_the_mosfet_follows_the_square_law_above_threshold_and_its_swing_below() -> None:
    device = Mosfet(threshold=1.0, gain=2e-3, channel_length_modulation=0.05, subthreshold_swing=0.08)
    saturated = device.drain_current(vgs=3.0, vds=4.0)
    assert saturated == pytest.approx(2e-3 * 2.0**2 * (1 + 0.05 * 4.0), rel=1e-3)
    linear = device.drain_current(vgs=3.0, vds=0.1)
    assert linear == pytest.approx(2e-3 * (2 * 2.0 * 0.1 - 0.1**2) * (1 + 0.05 * 0.1), rel=1e-3)
    decades = math.log10(device.drain_current(0.5, 1.0) / device.drain_current(0.1, 1.0))
    assert 0.4 / decades == pytest.approx(0.08, rel=1e-3)  # one decade per 80 mV below threshold
    assert device.drain_current(3.0, -0.1) == pytest.approx(-device.drain_current(3.1, 0.1), rel=1e-9)
    p_type = Mosfet(polarity="p", threshold=-1.0, gain=2e-3, channel_length_modulation=0.05)
    assert p_type.drain_current(-3.0, -4.0) == pytest.approx(-saturated, rel=1e-9)
    assert device.currents({"gate": 2.0, "drain": 1.0, "source": 0.0})["source"] == pytest.approx(
        -(device.drain_current(2.0, 1.0) + 2e-12)
    )
    with pytest.raises(ValueError, match="thermal limit"):
        Mosfet(subthreshold_swing=0.03)


def test_the_drain_current_depends_on_the_gate_voltage_set_on_the_other_channel(
    fet: tuple[KeysightB2902, SourceMeter],
) -> None:
    gate, drain = fet
    for smu in (gate, drain):
        smu.set_current_limit(0.01)
        smu.output_on()
    drain.set_voltage(2.0)
    currents = []
    for volts in (0.0, 1.5, 3.0):
        gate.set_voltage(volts)
        currents.append(drain.measure().current)
    assert currents[0] < 1e-9 < 1e-4 < currents[1] < currents[2]
    assert currents[2] == pytest.approx(1e-3 * 2.0**2 * (1 + 0.02 * 2.0), rel=1e-2)
    gate.output_off()  # an output turned off leaves its terminal at 0 V: the channel closes
    assert drain.measure().current < 1e-9


def test_a_circuit_across_two_instruments_and_in_current_mode() -> None:
    bench = bench_in_memory(
        [{"address": K2400, "model": "keithley2400"}, {"address": B2902, "model": "keysight_b2902"}],
        [wiring((K2400, 1), (B2902, 2), polarity="p", threshold=-1.0)],
    )
    with (
        open_sourcemeter("keithley2400", K2400, sim=bench) as gate,
        open_sourcemeter("keysight_b2902", B2902, sim=bench) as b2902,
    ):
        drain = b2902.channel(2)
        gate.set_current_limit(0.001)
        gate.set_voltage(-3.0)
        gate.output_on()
        drain.set_voltage_limit(10.0)
        drain.set_current(-1e-3)  # sourcing current: the twin finds the drain voltage that passes it
        drain.output_on()
        reading = drain.measure()
        assert reading.current == pytest.approx(-1e-3, rel=1e-3)
        assert -1.0 < reading.voltage < 0  # linear region of the p-type at V_GS = -3 V
        expected = Mosfet(polarity="p", threshold=-1.0).drain_current(-3.0, reading.voltage)
        assert expected == pytest.approx(-1e-3, rel=1e-2)


# ------------------------------------------------------- figures of merit


@pytest.mark.parametrize("polarity", ["n", "p"])
def test_the_analysis_recovers_the_simulated_transistors_parameters(polarity: str) -> None:
    """Tolerances: threshold within 10 mV (linear extrapolation, both regions), swing within
    4 %, on/off above 1e6, with the twin's noise (1e-4 relative, a 1 pA floor). Seen over
    15 runs of each: threshold 1.2-1.4 mV low, swing 88.6 to 91.3 mV/decade for 90."""
    sign = 1 if polarity == "n" else -1
    device = {"polarity": polarity, "threshold": sign * 0.8, "gain": 5e-4, "subthreshold_swing": 0.09}
    bench = bench_in_memory(
        [{"address": B2902, "model": "keysight_b2902"}], [wiring((B2902, 1), (B2902, 2), **device)]
    )
    with open_sourcemeter("keysight_b2902", B2902, sim=bench) as b2902:
        drain_levels = [sign * 0.05, sign * 4.0]
        grid = fet_transfer(
            b2902,
            b2902.channel(2),
            gate_levels=levels_between(sign * -0.5, sign * 3.0, 71),
            drain_levels=drain_levels,
            gate_compliance=1e-3,
            drain_compliance=0.1,
        )
        data = grid.run()
    for k, vd in enumerate(drain_levels):
        curve = data["drain_index"] == k
        vg, current = data["gate_voltage"][curve], data["drain_current"][curve]
        region: Literal["linear", "saturation"] = "linear" if abs(vd) < 1 else "saturation"
        assert threshold_voltage(vg, current, drain_voltage=vd, region=region) == pytest.approx(
            sign * 0.8, abs=0.03
        )
        assert subthreshold_swing(vg, current) == pytest.approx(90, rel=0.04)
        assert on_off_ratio(current) > 1e6


def test_the_analysis_says_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="at least 3 points"):
        threshold_voltage([0, 1], [0, 1], drain_voltage=0.1)
    with pytest.raises(ValueError, match="no straight subthreshold region"):
        subthreshold_swing(np.linspace(0, 1, 10), np.full(10, 1e-12))
    with pytest.raises(ValueError, match="two nonzero"):
        on_off_ratio([0.0, 1e-3])


# ------------------------------------------------------------------ the grid


def test_an_output_grid_has_a_column_per_quantity_per_terminal_and_integer_indices(
    fet: tuple[KeysightB2902, SourceMeter], tmp_path: pathlib.Path
) -> None:
    gate, drain = fet
    grid = fet_output(
        gate,
        drain,
        gate_levels=[1.5, 2.0, 3.0],
        drain_levels=levels_between(0, 4, 9),
        gate_compliance=1e-3,
        drain_compliance=0.1,
        save=Saving(str(tmp_path)),
    )
    assert list(grid.columns) == [
        "gate_index", "gate_source", "drain_index", "drain_source",
        "gate_voltage", "gate_current", "drain_voltage", "drain_current", "timestamp", "in_compliance",
    ]  # fmt: skip
    assert grid.family == ("gate_source",) and grid.plot_axes == ("drain_voltage", "drain_current")
    grid.run()
    assert grid.data_file is not None
    data = load_data(grid.data_file.path)
    assert len(data["drain_current"]) == 27
    assert data["gate_index"].tolist() == [0] * 9 + [1] * 9 + [2] * 9
    assert data["drain_index"].tolist() == list(range(9)) * 3
    assert "gate_index,gate_source" in grid.data_file.path.read_text().splitlines()[-29]
    saturated = data["drain_current"][data["drain_index"] == 8]
    assert saturated.tolist() == sorted(saturated.tolist())  # more gate, more current
    assert np.all(np.abs(data["gate_current"]) < 1e-9)  # only the leakage flows into the gate
    metadata = grid.data_file.path.read_text()
    assert "channel 2" in metadata and "B2902A" in metadata  # every instrument, with its identity


def test_an_instrument_side_inner_sweep_gives_the_same_curves(fet: tuple[KeysightB2902, SourceMeter]) -> None:
    gate, drain = fet
    common: dict[str, Any] = {
        "gate_levels": [2.0, 3.0],
        "drain_levels": levels_between(0, 4, 21),
        "gate_compliance": 1e-3,
        "drain_compliance": 0.1,
    }
    stepped = fet_output(gate, drain, **common).run()
    hardware = fet_output(gate, drain, **common, sweep="hardware", poll_interval=0.005).run()
    np.testing.assert_allclose(hardware["drain_current"], stepped["drain_current"], rtol=1e-2, atol=1e-9)
    assert hardware["drain_index"].tolist() == stepped["drain_index"].tolist()
    with pytest.raises(ValueError, match="only the swept channel"):
        fet_transfer(gate, drain, sweep="hardware", **common)


def _offs(log: list[bytes] | list[str]) -> list[str]:
    """The output-off commands of a twin's log, in order (B2902: channel 1 and 2)."""
    text = [m.decode() if isinstance(m, bytes) else m for m in log]
    return [m.split(";")[0] for m in text if m.startswith((":OUTP OFF", ":OUTP2 OFF"))]


def _output_grid(gate: SourceMeter, drain: SourceMeter, points: int = 200, **options: Any) -> GridSweep:
    return fet_output(
        gate,
        drain,
        gate_levels=[2.0, 3.0],
        drain_levels=levels_between(0, 4, points),
        gate_compliance=1e-3,
        drain_compliance=0.1,
        **options,
    )


def test_a_stopped_grid_ramps_the_drain_down_and_off_before_the_gate(
    fet: tuple[KeysightB2902, SourceMeter],
) -> None:
    gate, drain = fet
    twin = twin_of(gate.instrument.resource)
    grid = _output_grid(gate, drain, delay=0.002)
    some = threading.Event()
    grid.subscribe(lambda point: some.set() if point["drain_index"] >= 5 else None)
    run = start(grid)
    assert some.wait(10)
    twin.log.clear()
    run.stop()
    run.result(timeout=10)
    assert run.progress.state == "stopped" and 5 < len(run.data["drain_current"]) < 400
    assert _offs(twin.log) == [":OUTP2 OFF", ":OUTP OFF"]  # drain first, gate last
    drain_ramp = [m for m in twin.log if m.startswith(b":SOUR2:VOLT")]
    assert len(drain_ramp) == 10 and drain_ramp[-1].startswith(b":SOUR2:VOLT 0.0")  # ramped, not cut
    assert not twin.state[(1, "output")] and not twin.state[(2, "output")]


class _FailsAt(GridSweep):
    def after_point(self, point: Point) -> None:
        if point["drain_index"] == 7:
            raise RuntimeError("analysis crashed")


def test_a_failing_grid_turns_both_outputs_off_gate_last_and_keeps_its_data(
    fet: tuple[KeysightB2902, SourceMeter], tmp_path: pathlib.Path
) -> None:
    gate, drain = fet
    twin = twin_of(gate.instrument.resource)
    grid = _FailsAt(
        [Terminal("gate", gate, 1e-3), Terminal("drain", drain, 0.1)],
        [Axis("gate", (2.0,)), Axis("drain", levels_between(0, 4, 50))],
        save=Saving(str(tmp_path)),
    )
    with pytest.raises(RuntimeError, match="analysis crashed"):
        grid.run()
    assert _offs(twin.log)[-2:] == [":OUTP2 OFF", ":OUTP OFF"]
    assert not twin.state[(1, "output")] and not twin.state[(2, "output")]
    assert grid.data_file is not None and len(load_data(grid.data_file.path)["drain_current"]) == 8


def test_runs_claiming_two_channels_in_opposite_orders_never_deadlock(
    fet: tuple[KeysightB2902, SourceMeter],
) -> None:
    gate, drain = fet

    def grid(first: SourceMeter, second: SourceMeter) -> GridSweep:
        return GridSweep(
            [Terminal("a", first, 1e-3), Terminal("b", second, 1e-3)],
            [Axis("a", (0.1,)), Axis("b", (0.1, 0.2))],
        )

    forward, backward = grid(gate, drain), grid(drain, gate)

    def run_forward() -> None:
        forward.run()

    def run_backward() -> None:
        backward.run()

    for _ in range(100):
        run_threads(run_forward, run_backward, timeout=20)
    holding = threading.Event()
    forward.subscribe(lambda point: holding.set())
    gate.device_lock.acquire("a test holding channel 1", blocking=False)
    try:
        with pytest.raises(DeviceBusy, match="in use by a test holding channel 1"):
            backward.run(blocking=False)
        assert not drain.device_lock.busy  # all or nothing: channel 2 was given back
    finally:
        gate.device_lock.release()


# ------------------------------------------------------------------ the configs


def test_the_example_configs_run_as_they_are(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, points in (("fet_output", 204), ("fet_transfer", 142)):
        config = CONFIGS / f"{name}.yaml"
        assert main(["check", str(config)]) == 0
        plan = capsys.readouterr().out
        assert "off: drain, then gate" in plan and "duration: at least" in plan
        assert main(["run", str(config), "--out", str(tmp_path / name), "--no-progress"]) == 0
        (data_file,) = (tmp_path / name).glob("*.csv")
        assert len(load_data(data_file)["drain_current"]) == points
        assert (tmp_path / name / data_file.with_suffix(".png").name).stat().st_size > 10_000


def test_the_output_example_runs_on_two_separate_source_meters(tmp_path: pathlib.Path) -> None:
    overrides = [
        "station.drain.model=keithley2400",
        f"station.drain.address={K2400}",
        "station.drain.channel=1",
        "station.drain.nplc=1",
    ]
    args = ["run", str(CONFIGS / "fet_output.yaml"), "--out", str(tmp_path), "--no-progress"]
    assert main([*args, *(f"--set={o}" for o in overrides)]) == 0
    (data_file,) = tmp_path.glob("*.csv")
    data = load_data(data_file)
    top = data["drain_current"][(data["gate_index"] == 3) & (data["drain_index"] == 50)]
    assert top[0] == pytest.approx(1e-3 * 2.0**2 * (1 + 0.02 * 5), rel=1e-2)  # gate 3 V, drain 5 V
    assert "keithley2400" in data.metadata["instruments"][1]["model"]


BAD_STATIONS = [
    ("experiment.gate.instrument=nobody", "experiment.gate.instrument = 'nobody'", "no instrument 'nobody'"),
    ("station.drain.channel=3", "station.drain.channel = 3", "the keysight_b2902 has channels 1 .. 2"),
    ("station.drain.timeout=2 s", "station.drain.timeout", "must agree"),
    ("station.drain.nplc=1000", "station.drain.nplc", "outside the allowed"),
    ("experiment.drain.stop=500 V", "experiment.drain.levels", "outside the allowed"),
    ("experiment.gate.compliance=1 V", "experiment.gate", "compliance is a current"),
    ("circuit.drain=gate", "circuit", "two terminals"),
    ("station.gate.sim=false & station.drain.sim=false", "circuit", "these are real: gate, drain"),
    ("experiment.drain.levels=[1 V]", "experiment.drain", "not both"),
]


@pytest.mark.parametrize(("override", "key", "message"), BAD_STATIONS)
def test_a_bad_station_is_refused_naming_file_key_and_what_is_allowed(
    override: str, key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_station(CONFIGS / "fet_output.yaml", overrides=override.split(" & "))
    text = str(refused.value)
    assert text.startswith(f"{CONFIGS / 'fet_output.yaml'}: {key}") and message in text


def test_an_instrument_side_transfer_curve_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match=r"experiment.sweep .*use sweep: stepped"):
        load_station(CONFIGS / "fet_transfer.yaml", overrides=["experiment.sweep=hardware"])


def test_ctrl_c_during_an_output_grid_on_a_served_b2902_turns_the_drain_off_then_the_gate(
    tmp_path: pathlib.Path,
) -> None:
    bench = tmp_path / "bench.yaml"
    bench.write_text(
        yaml.safe_dump(
            {
                "instruments": [{"address": B2902, "model": "keysight_b2902"}],
                "circuits": [wiring((B2902, 1), (B2902, 2))],
            }
        )
    )
    with ServedTwins(str(bench)) as served:
        address = served.address("keysight_b2902")
        station = {name: {"model": "keysight_b2902", "address": address, "channel": ch, "backend": "@py"}
                   for name, ch in (("gate", 1), ("drain", 2))}  # fmt: skip
        config = tmp_path / "fet.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "station": station,
                    "experiment": {
                        "type": "fet_output",
                        "gate": {"start": "2 V", "stop": "3 V", "num_points": 2, "compliance": "1 mA"},
                        "drain": {"start": "0 V", "stop": "4 V", "num_points": 400, "compliance": "100 mA"},
                        "delay": "10 ms",
                    },
                    "save": {"directory": str(tmp_path / "data"), "plot": False},
                }
            )
        )
        run = subprocess.Popen(
            [sys.executable, "-m", "labrun.experiments.cli", "run", str(config), "--no-progress"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while served.status("keysight_b2902")["readings"] < 10:  # on, and measuring
                assert time.monotonic() < deadline and run.poll() is None, "the grid never measured"
                time.sleep(0.02)
            run.send_signal(signal.SIGINT)
            _, stderr = run.communicate(timeout=30)
        finally:
            run.kill()
        assert run.returncode == 130, stderr
        assert "output off, data flushed" in stderr
        channels = served.status("keysight_b2902")["channels"]
        assert [c["output"] for c in channels] == [False, False]
        assert _offs(served.log("keysight_b2902", last=40))[-2:] == [":OUTP2 OFF", ":OUTP OFF"]
    (data_file,) = (tmp_path / "data").glob("*.csv")
    assert 0 < len(load_data(data_file)["drain_current"]) < 800


def test_the_live_plot_draws_a_curve_per_outer_step_with_a_legend(
    fet: tuple[KeysightB2902, SourceMeter],
) -> None:
    gate, drain = fet
    output = start(_output_grid(gate, drain, points=20))
    output.result(timeout=10)
    live = LivePlot(output)
    assert live.refresh() and live.shown == 40
    legend = live.axes.get_legend()
    assert len(live.axes.lines) == 2 and legend is not None
    assert [text.get_text() for text in legend.get_texts()] == ["gate 2 V", "gate 3 V"]
    transfer = start(
        fet_transfer(
            gate, drain, gate_levels=levels_between(0, 2, 11), drain_levels=[0.1, 1.0],
            gate_compliance=1e-3, drain_compliance=0.1,
        )
    )  # fmt: skip
    transfer.result(timeout=10)
    live = LivePlot(transfer)
    assert live.refresh() and len(live.panels) == 2
    assert live.panels[1].get_yscale() == "log" and len(live.panels[1].lines) == 2


def test_sim_serve_takes_a_station_configs_twins_and_their_circuit() -> None:
    entries, circuits = bench_entries(str(CONFIGS / "fet_output.yaml"))
    assert [entry["model"] for entry in entries] == ["keysight_b2902"]  # two channels, one twin
    (circuit,) = circuits
    assert circuit.wiring == {"gate": (B2902, 1), "drain": (B2902, 2), "source": None}
    assert circuit.device.threshold == 1.0


def test_a_grid_of_any_shape_names_its_columns_and_plots_what_it_has(
    fet: tuple[KeysightB2902, SourceMeter],
) -> None:
    gate, drain = fet
    grid = GridSweep(
        [Terminal("g", gate, 1e-3, measured=False), Terminal("d", drain, 0.1, bias=1.0)],
        [Axis("g", (1.5, 2.0, 2.5))],  # one axis: the gate swept at a fixed drain bias
    )
    assert grid.plot_axes == ("g_source", "d_current") and grid.family == ()
    assert "g_voltage" not in grid.columns and grid.total_steps() == 3
    data = grid.run()
    assert data["d_voltage"] == pytest.approx([1.0] * 3, rel=1e-3)  # held at its bias
    assert np.all(np.diff(data["d_current"]) > 0)
    with pytest.raises(ValueError, match="plot: no column 'g_voltage'"):
        GridSweep(
            [Terminal("g", gate, 1e-3, measured=False)], [Axis("g", (1.0,))], plot=("g_voltage", "g_current")
        )
    with pytest.raises(ValueError, match="distinct terminals"):
        GridSweep([Terminal("g", gate, 1e-3)], [Axis("x", (1.0,))])
    with pytest.raises(ValueError, match="one source-meter channel"):
        GridSweep([Terminal("a", gate, 1e-3), Terminal("b", gate, 1e-3)], [Axis("a", (1.0,))])
