"""Strangers' drivers run unchanged on the twins: PyMeasure 0.16, QCoDeS 0.58 and the
keithley2600 package 2.1 themselves.

Each of eight clients runs its whole session (``peer_sessions.py``, ``peer_sessions_tsp.py``)
against a twin in this
process (``@labrun``) and against the same model served over TCP (``ServedBench``,
reached through pyvisa-py's ``@py`` at ``TCPIP0::127.0.0.1::PORT::SOCKET``). A session
runs once per module (QCoDeS is slow to import and to connect); the tests then ask
what it read (the physics of the 1 kOhm load), what the twin was left with (no error,
output off), and whether it sent exactly the pinned trace (``peer_traces.py``,
``peer_traces_tsp.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from labrun.sim_devices import SourceMeterTwin, bench_in_memory, default_bench, twin_of
from labrun.sim_devices.server import ServedBench

from . import peer_sessions, peer_sessions_tsp, peer_traces, peer_traces_tsp
from .peer_sessions import COMPLIANCE, LEVELS
from .peer_sessions_tsp import SWEEP

OHMS = 1000.0  # the default bench's load


@dataclass(frozen=True)
class Client:
    """One foreign driver on one model: its session, the trace it sends, what it must read."""

    session: Callable[..., dict[str, Any]]
    model: str
    trace: list[str]
    check: Callable[[dict[str, Any]], None]
    options: tuple[tuple[str, Any], ...] = ()
    #: what its user passes for a raw socket, which has no end-of-message of its own
    socket_options: tuple[tuple[str, Any], ...] = ()
    #: the twin's bench entry beyond the default bench's (the time model, where it is needed)
    bench: tuple[tuple[str, Any], ...] = ()
    #: a message it repeats while it waits (a run of it is one line of its trace)
    poll: str = ""


def near(value: float, expected: float, *, rel: float = 2e-3, abs: float = 1e-5) -> bool:
    """Within 20 times the twin's noise (1e-4 relative); near zero, within ``abs`` (the noise
    floor is 1 µV and 1 pA: 10 µV for a voltage, pass 2 nA for a current)."""
    return math.isclose(value, expected, rel_tol=rel, abs_tol=abs if expected == 0 else 0.0)


def assert_iv(points: list[tuple[float, float]]) -> None:
    """Each (voltage, current) is the level and the level over 1 kOhm, within the noise."""
    assert len(points) == len(LEVELS)
    for (voltage, current), level in zip(points, LEVELS, strict=True):
        assert near(voltage, level), (voltage, level)
        assert near(current, level / OHMS, abs=2e-9), (current, level)


def pymeasure_2400_read(out: dict[str, Any]) -> None:
    assert "MODEL 2400" in out["identity"]
    assert_iv(out["iv"])
    assert out["nplc"] == 1.0  # set for the current function: one NPLC for all (§18)
    assert out["wires"] == 4
    assert near(out["resistance_2wire"], OHMS) and near(out["resistance_4wire"], OHMS)
    everything = out["all"]
    assert near(everything["voltage"], 1.0) and near(everything["current"], 1e-3)
    assert near(everything["resistance"], OHMS)
    buffer = out["buffer"]
    assert len(buffer) == 10 * 5  # ten readings of VOLT, CURR, RES, TIME, STAT
    assert all(near(v, 1.0) for v in buffer[0::5]) and all(near(i, 1e-3) for i in buffer[1::5])
    assert all(near(r, OHMS) for r in buffer[2::5])
    assert all(near(m, e) for m, e in zip(out["means"], (1.0, 1e-3, OHMS), strict=True))
    assert 0 < out["standard_deviations"][2] < 1.0  # 1e-4 relative noise on 1 kOhm
    assert out["errors"] == []
    assert out["source_enabled"] is False


def pymeasure_2450_read(out: dict[str, Any]) -> None:
    assert "MODEL 2450" in out["identity"]
    assert_iv(out["iv"])
    assert near(out["voltage"], 1.0)
    assert out["wires"] == 4
    assert near(out["resistance_2wire"], OHMS) and near(out["resistance_4wire"], OHMS)
    assert out["compliance"] == COMPLIANCE
    assert out["buffer_points"] == 100_000
    # defbuffer1 holds every reading the session took, whatever its function
    readings = [current for _, current in out["iv"]]
    readings += [out["voltage"], out["resistance_2wire"], out["resistance_4wire"]]
    assert near(out["buffer_mean"], sum(readings) / len(readings), rel=2e-6)
    assert out["buffer_max"] == max(readings) and out["buffer_min"] == min(readings)
    assert out["buffer_deviation"] > 0
    assert out["errors"] == []
    assert out["source_enabled"] is False


def qcodes_2400_read(out: dict[str, Any]) -> None:
    assert out["identity"]["model"] == "2400"
    assert_iv(out["iv"])
    assert near(out["resistance"], OHMS)
    assert out["sense"] == '"CURR"'
    assert out["settings"] == {"compliancei": COMPLIANCE, "nplci": 1.0, "mode": "VOLT"}
    assert out["output"] is False
    assert out["errors"] == '0,"No error"'


def qcodes_2450_read(out: dict[str, Any]) -> None:
    assert out["identity"]["model"] == "2450"
    assert_iv(out["iv"])
    assert out["limit_tripped"] is False
    assert out["four_wire"] is True
    assert near(out["resistance_2wire"], OHMS) and near(out["resistance_4wire"], OHMS)
    axis = [k / 10 for k in range(11)]
    assert out["sweep_axis"] == pytest.approx(axis)
    assert all(near(i, v / OHMS, abs=2e-9) for i, v in zip(out["sweep"], axis, strict=True))
    assert out["readings"] == 1  # the sweep's readings were cleared, one reading since
    reading, source, relative = (float(v) for v in out["last_reading"].split(","))
    assert near(reading, 1e-3) and near(source, 1.0) and relative > 0
    assert [float(v) for v in out["buffer_data"]] == [reading, source, relative]
    assert out["buffer_size"] == 100_000
    assert out["output"] is False
    assert out["errors"] == '0,"No error"'


def qcodes_2636b_read(out: dict[str, Any]) -> None:
    assert out["identity"]["model"] == out["model"] == "2636B"
    assert_iv(out["iv"])
    assert out["status"] == "No error occured."  # (sic) QCoDeS's: no compliance bit set
    assert near(out["resistance"], OHMS) and out["four_wire"] is True
    assert all(near(i, v / OHMS, abs=2e-9) for i, v in zip(out["sweep"], SWEEP, strict=True))
    assert len(out["trace"]) == 10 and all(near(i, 1e-3) for i in out["trace"])  # 1 V, the sweep's end
    expected = {"mode": "voltage", "limiti": COMPLIANCE, "nplc": 0.01, "sourcerange_v": 2.0, "linefreq": 50.0}
    assert out["settings"] == expected
    assert out["output"] is False
    assert float(out["errors"]) == 0


def keithley2600_read(out: dict[str, Any]) -> None:
    assert out["model"] == "2636B"
    assert_iv(out["iv"])
    assert out["sense"] == 1 and out["sweeping_before"] == 0
    assert len(out["sweep"]) == len(SWEEP)
    for (voltage, current), level in zip(out["sweep"], SWEEP, strict=True):
        assert near(voltage, level) and near(current, level / OHMS, abs=2e-9), (voltage, current, level)
    assert out["errors"] == [] and out["output"] == 0


def qcodes_b2962a_read(model: str, channels: tuple[int, ...]) -> Callable[[dict[str, Any]], None]:
    def read(out: dict[str, Any]) -> None:
        assert out["identity"]["model"] == model
        for number in channels:
            got = out[f"ch{number}"]
            assert_iv(got["iv"])
            assert got["resistance_off"] == 9.91e37  # the RES function is not on: not measured
            assert near(got["resistance_2wire"], OHMS) and near(got["resistance_4wire"], OHMS)
            assert got["remote_sensing"] is True
            settings = {"source_voltage": 1.0, "current_limit": COMPLIANCE, "source_mode": "voltage"}
            assert got["settings"] == settings
            assert got["enable"] is False
        assert out["errors"] == '0,"No error"'

    return read


#: PyMeasure opens a raw socket with pyvisa's terminations unless told (QCoDeS sets its own)
LINES = (("read_termination", "\n"), ("write_termination", "\n"))
CLIENTS = {
    "pymeasure-2400": Client(
        peer_sessions.pymeasure_keithley2400,
        "keithley2400",
        peer_traces.PYMEASURE_2400,
        pymeasure_2400_read,
        socket_options=LINES,
    ),
    "pymeasure-2450": Client(
        peer_sessions.pymeasure_keithley2450,
        "keithley2450",
        peer_traces.PYMEASURE_2450,
        pymeasure_2450_read,
        socket_options=LINES,
    ),
    "qcodes-2400": Client(
        peer_sessions.qcodes_keithley2400, "keithley2400", peer_traces.QCODES_2400, qcodes_2400_read
    ),
    "qcodes-2450": Client(
        peer_sessions.qcodes_keithley2450, "keithley2450", peer_traces.QCODES_2450, qcodes_2450_read
    ),
    "qcodes-b2901": Client(
        peer_sessions.qcodes_keysight_b2962a,
        "keysight_b2901",
        peer_traces.QCODES_B2901,
        qcodes_b2962a_read("B2901A", (1,)),
    ),
    "qcodes-b2902": Client(
        peer_sessions.qcodes_keysight_b2962a,
        "keysight_b2902",
        peer_traces.QCODES_B2902,
        qcodes_b2962a_read("B2902A", (1, 2)),
        options=(("channels", (1, 2)),),
    ),
    "qcodes-2636b": Client(
        peer_sessions_tsp.qcodes_keithley2636b,
        "keithley2636b",
        peer_traces_tsp.QCODES_2636B,
        qcodes_2636b_read,
    ),
    # its sweep is watched by polls 0.1 s apart: it must take the instrument's time
    "keithley2600-2636b": Client(
        peer_sessions_tsp.keithley2600_package,
        "keithley2636b",
        peer_traces_tsp.KEITHLEY2600,
        keithley2600_read,
        bench=(("timing", "realistic"),),
        poll=peer_traces_tsp.SWEEPING_POLL,
    ),
}
TRANSPORTS = ("in-process", "served")


def bench_entry(model: str) -> dict[str, Any]:
    """The model's first instrument on the default bench (a 1 kOhm resistor behind it)."""
    return next(entry for entry in default_bench().values() if entry["model"] == model)


@dataclass
class Ran:
    """A finished session: what the client read, and the twin it talked to."""

    out: dict[str, Any]
    twin: SourceMeterTwin
    poll: str = ""  # the client's poll (see ``Client``)

    @property
    def sent(self) -> list[str]:
        """Every message the twin received, line by line (a message written with line ends
        inside arrives as its lines over a socket), without its terminator; a run of the
        client's poll is one line."""
        lines = [line.rstrip() for m in self.twin.log for line in m.decode("latin-1").split("\n")]
        return [line for k, line in enumerate(lines) if not (line == self.poll and lines[k - 1] == line)]


def run(client: Client, transport: str) -> Ran:
    entry = {**bench_entry(client.model), **dict(client.bench)}
    if transport == "in-process":
        twins: list[SourceMeterTwin] = []
        # a library of its own: PyMeasure closes the resource manager of the default one
        library = f"{bench_in_memory([entry])}@labrun"
        out = client.session(
            entry["address"], library, lambda r: twins.append(twin_of(r)), **dict(client.options)
        )
        return Ran(out, twins[0], client.poll)
    with ServedBench([entry], port=0) as bench:
        served = bench.instruments[0]
        options = dict(client.options + client.socket_options)
        return Ran(client.session(served.address, "@py", lambda r: None, **options), served.twin, client.poll)


@pytest.fixture(scope="module", params=[(c, t) for c in CLIENTS for t in TRANSPORTS], ids="-".join)
def ran(request: pytest.FixtureRequest) -> tuple[Client, Ran]:
    name, transport = request.param
    client = CLIENTS[name]
    return client, run(client, transport)


def test_the_client_reads_the_physics_of_the_load(ran: tuple[Client, Ran]) -> None:
    """Connect, identify, set up, IV points, resistance, buffer or sweep, output off: each
    value the client read is what a 1 kOhm resistor gives (1 V -> 1 mA, 1000 ohm)."""
    client, session = ran
    client.check(session.out)


def test_the_session_sends_its_pinned_trace(ran: tuple[Client, Ran]) -> None:
    client, session = ran
    assert session.sent == client.trace


def test_the_twin_is_left_without_errors_and_with_its_outputs_off(ran: tuple[Client, Ran]) -> None:
    _, session = ran
    twin = session.twin
    assert list(twin.errors) == []
    assert not any(twin.state[(channel, "output")] for channel in range(1, twin.tree.channels + 1))
