"""Twins served as LAN instruments (`labrun sim serve`): real processes, real sockets.

The server runs in a subprocess of its own, as a user starts it; clients are pyvisa
with the pure-Python backend (``@py``), plain sockets, labrun's drivers and ``labrun run``.
"""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import pyvisa
import yaml

from labrun.drivers import REGISTRY, InstrumentTimeout, LabrunError, open_sourcemeter
from labrun.experiments import load_data
from labrun.experiments.cli.main import main

from .support import BENCH, ServedTwins, run_threads

MODELS = tuple(BENCH)
# the B2902 is served by the B2901's twin file (labrun drives its channel 1)
#: what each model's *IDN? names: a family's first model's, as its twin file answers; a
#: variant's, as its row of the registry says
IDN = {
    "keithley2400": "MODEL 2400",
    "keithley2450": "MODEL 2450",
    "keysight_b2901": "B2901A",
    "keysight_b2902": "B2902A",
    **{m.name: m.identity.split(",")[1].strip() for m in REGISTRY if m.identity},
}


@pytest.fixture
def served() -> Iterator[ServedTwins]:
    with ServedTwins() as twins:
        yield twins


@pytest.fixture
def rm() -> Iterator[pyvisa.ResourceManager]:
    manager = pyvisa.ResourceManager("@py")
    yield manager
    manager.close()


def open_py(
    rm: pyvisa.ResourceManager, address: str, timeout_ms: int = 2000
) -> pyvisa.resources.MessageBasedResource:
    resource = rm.open_resource(address, read_termination="\n", write_termination="\n", timeout=timeout_ms)
    assert isinstance(resource, pyvisa.resources.MessageBasedResource)
    return resource


class Raw:
    """A plain socket client, as `nc 127.0.0.1 5025` is."""

    def __init__(self, port: int, timeout: float = 2.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.pending = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> str:
        while b"\n" not in self.pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode()

    def ask(self, query: str) -> str:
        self.send(query.encode() + b"\n")
        return self.line()

    def close(self) -> None:
        self.sock.close()


def server_rss_kb(served: ServedTwins) -> int:
    for line in pathlib.Path(f"/proc/{served.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# ------------------------------------------------------------------ serving


def test_serve_prints_one_address_per_instrument_and_any_visa_reaches_them(
    served: ServedTwins, rm: pyvisa.ResourceManager
) -> None:
    from labrun.drivers import REGISTRY

    # the default bench: every registered model at each of its addresses, in order
    assert [model for model, _ in served.instruments] == [m.name for m in REGISTRY for _ in m.addresses]
    ports = [int(address.split("::")[2]) for _, address in served.instruments]
    assert len(set(ports)) == len(ports)
    for model, address in served.instruments:
        assert address.startswith("TCPIP0::127.0.0.1::") and address.endswith("::SOCKET")
        resource = open_py(rm, address)
        assert IDN[model] in resource.query("*IDN?")
        resource.close()


def test_ports_are_consecutive_from_the_given_port() -> None:
    from labrun.sim_devices import default_bench
    from labrun.sim_devices.server import ServedBench

    entries = list(default_bench().values())
    count = len(entries)
    for base in range(21025, 30000, 997):  # the first block of free ports: one per twin, one for control
        try:
            bench = ServedBench(entries, port=base)
        except OSError:
            continue
        with bench:
            assert [i.port for i in bench.instruments] == list(range(base, base + count))
            assert bench.control_address == ("127.0.0.1", base + count)
        return
    raise AssertionError(f"no block of {count + 1} free ports found")


def test_a_plain_socket_speaks_scpi_to_it(served: ServedTwins) -> None:
    raw = Raw(served.port("keithley2450"))
    assert "MODEL 2450" in raw.ask("*IDN?")
    assert raw.ask(":sour:func volt;:SOURce:VOLTage:LEVel 1.5;:SOUR:VOLT?") == "+1.500000E+00"
    raw.send(b"*IDN?\r\n")  # a terminal's CR LF is accepted too
    assert "MODEL 2450" in raw.line()
    raw.send(b":NO:SUCH:THING\n")
    assert raw.ask(":SYST:ERR?").startswith("-113")
    raw.close()


def test_labrun_drivers_work_against_it_unchanged(served: ServedTwins) -> None:
    for model in MODELS:
        with open_sourcemeter(model, served.address(model), backend="@py", timeout=2.0) as smu:
            assert IDN[model] in smu.identify()
            smu.set_current_limit(0.01)
            smu.set_voltage(1.0)
            smu.output_on()
            reading = smu.measure()
            assert reading.current == pytest.approx(1e-3, rel=0.01)  # 1 V on the 1 kOhm load
        assert served.status(model)["channels"][0]["output"] is False  # the with block turned it off


def iv_config(tmp_path: pathlib.Path, address: str, **experiment: object) -> pathlib.Path:
    config = {
        "instrument": {"model": "keithley2400", "address": address, "backend": "@py", "timeout": "2 s"},
        "experiment": {
            "type": "iv_sweep",
            "start": "-1 V",
            "stop": "1 V",
            "num_points": 21,
            "delay": "1 ms",
            "compliance": "10 mA",
            **experiment,
        },
        "save": {"directory": str(tmp_path / "data"), "plot": False},
    }
    path = tmp_path / "served_iv.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_labrun_run_sweeps_a_served_twin_and_leaves_it_off(
    served: ServedTwins, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = iv_config(tmp_path, served.address("keithley2400"))
    assert main(["run", str(config), "--no-progress"]) == 0
    (data_file,) = (tmp_path / "data").glob("*.csv")
    data = load_data(data_file)
    assert len(data["voltage"]) == 21
    assert data["current"][-1] == pytest.approx(1e-3, rel=0.01)
    status = served.status("keithley2400")
    assert status["channels"][0]["output"] is False
    assert status["channels"][0]["level"] == 0.0
    assert status["messages"] > 21


# ------------------------------------------------------- state outlives clients


CLIENT_THAT_DIES = """
import os, signal, sys
from labrun.drivers import open_sourcemeter
smu = open_sourcemeter("keithley2450", sys.argv[1], backend="@py")
smu.set_current_limit(0.01)
smu.set_voltage(2.5)
smu.output_on()
print("on", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_client_leaves_the_instrument_as_it_was(
    served: ServedTwins, rm: pyvisa.ResourceManager, tmp_path: pathlib.Path
) -> None:
    script = tmp_path / "dies.py"
    script.write_text(CLIENT_THAT_DIES, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), served.address("keithley2450")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == -signal.SIGKILL and "on" in done.stdout
    resource = open_py(rm, served.address("keithley2450"))  # the next client sees it all
    assert resource.query(":OUTP?") == "1"
    assert float(resource.query(":SOUR:VOLT?")) == 2.5
    assert float(resource.query(":SOUR:VOLT:ILIM?")) == 0.01
    resource.close()
    status = served.status("keithley2450")
    assert status["channels"][0] == {
        "channel": 1,
        "output": True,
        "source": "voltage",
        "level": 2.5,
        "limit": 0.01,
    }


def test_labrun_run_killed_mid_sweep_leaves_the_output_on_as_kill_9_must(
    served: ServedTwins, rm: pyvisa.ResourceManager, tmp_path: pathlib.Path
) -> None:
    """kill -9 cannot be caught: the served twin shows what a real bench would."""
    config = iv_config(tmp_path, served.address("keithley2400"), num_points=400, delay="20 ms")
    run = subprocess.Popen(
        [sys.executable, "-m", "labrun.experiments.cli", "run", str(config), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not served.status("keithley2400")["channels"][0]["output"]:
            assert time.monotonic() < deadline and run.poll() is None, "the sweep never turned the output on"
            time.sleep(0.02)
        run.kill()
        run.wait(10)
    finally:
        run.kill()
    resource = open_py(rm, served.address("keithley2400"))  # the 2400's one session is free again
    assert resource.query(":OUTP?") == "1"
    level = float(resource.query(":SOUR:VOLT?"))
    assert -1.0 <= level <= 1.0
    resource.close()


# ------------------------------------------------------- simultaneous clients


def test_the_2400_serves_one_client_at_a_time_the_next_waits_its_turn(
    served: ServedTwins, rm: pyvisa.ResourceManager
) -> None:
    first = Raw(served.port("keithley2400"))
    assert "MODEL 2400" in first.ask("*IDN?")
    second = Raw(served.port("keithley2400"), timeout=0.3)
    second.send(b":SOUR:VOLT?\n")
    with pytest.raises(TimeoutError):
        second.line()  # the gateway holds it in its backlog: no answer, no mixed replies
    assert served.status("keithley2400")["clients"] == 1
    first.close()
    second.sock.settimeout(5)
    assert second.line() == "+0.000000E+00"  # served once the first has gone
    second.close()


@pytest.mark.parametrize("model", ["keithley2450", "keysight_b2901"])
def test_lan_models_serve_several_sessions_each_answer_to_its_asker(served: ServedTwins, model: str) -> None:
    a, b = Raw(served.port(model)), Raw(served.port(model))
    assert a.ask(":SOUR:VOLT 1.25;*OPC?") == "1"
    wrong: list[str] = []

    def ask_idn() -> None:
        wrong.extend(x for x in (a.ask("*IDN?") for _ in range(300)) if IDN[model] not in x)

    def ask_level() -> None:
        wrong.extend(x for x in (b.ask(":SOUR:VOLT?") for _ in range(300)) if float(x) != 1.25)

    run_threads(ask_idn, ask_level, timeout=30)
    assert wrong == []
    assert served.status(model)["clients"] == 2
    a.close()
    b.close()


# ------------------------------------------------------------ control port


def test_status_and_fault_commands(served: ServedTwins, capsys: pytest.CaptureFixture[str]) -> None:
    raw = Raw(served.port("keithley2450"))
    raw.send(b":SOUR:VOLT:ILIM 0.02;:SOUR:VOLT 0.5;:OUTP ON\n")
    assert raw.ask("*OPC?") == "1"
    port = str(served.port("keithley2450"))
    assert main(["sim", "status", str(served.control_port), "--instrument", port]) == 0
    out = capsys.readouterr().out
    assert f"{port} keithley2450" in out and "Resistor(resistance=1000.0)" in out
    assert "output ON  source voltage 0.5 V  limit 0.02 A" in out
    assert "messages 2" in out and "clients 1" in out

    assert main(["sim", "fault", str(served.control_port), port, "timeout", "--after", "1"]) == 0
    assert "fault timeout after 1 more answers" in capsys.readouterr().out
    assert raw.ask("*OPC?") == "1"  # the one answer still due
    raw.sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        raw.ask("*OPC?")
    assert main(["sim", "fault", str(served.control_port), port, "clear"]) == 0
    raw.sock.settimeout(2)
    raw.pending = b""
    assert raw.ask("*IDN?").startswith("KEITHLEY")
    raw.close()

    assert main(["sim", "status", "1"]) == 1  # nothing listens there
    assert "control port 127.0.0.1:1" in capsys.readouterr().err


def test_injected_faults_reach_labrun_drivers_as_they_would_in_process(served: ServedTwins) -> None:
    address = served.address("keysight_b2901")
    with open_sourcemeter("keysight_b2901", address, backend="@py", timeout=0.3) as smu:
        served.inject("keysight_b2901", {"kind": "timeout"})
        with pytest.raises(InstrumentTimeout, match=r"no answer within 0\.3 s"):
            smu.measure()
        served.inject("keysight_b2901", None)
    served.inject("keysight_b2901", {"kind": "disconnect"})  # as a pulled cable
    with pytest.raises(LabrunError, match=r"\*IDN\?' failed"):
        open_sourcemeter("keysight_b2901", address, backend="@py", timeout=0.3)
    cut = Raw(served.port("keysight_b2901"))
    with pytest.raises(ConnectionError):
        cut.ask("*IDN?")
    cut.close()
    served.inject("keysight_b2901", {"kind": "garbage"})
    raw = Raw(served.port("keysight_b2901"))
    assert "B2901A" not in raw.ask("*IDN?")
    served.inject("keysight_b2901", None)
    assert "B2901A" in raw.ask("*IDN?")
    raw.close()


# ------------------------------------------------------------ hostile clients


def test_hostile_clients_do_not_hurt_it(served: ServedTwins) -> None:
    port = served.port("keithley2450")
    witness = Raw(port)  # an ordinary client, connected all along
    rss_before = server_rss_kb(served)

    garbage = Raw(int(served.instruments[2][1].split("::")[2]))  # the other 2450: its queue fills
    garbage.send(os.urandom(200_000).replace(b"\n", b"") + b"\n" + bytes(range(256)) * 100 + b"\n")
    garbage.close()

    flood = Raw(port)
    block = b"x" * (1 << 20)
    for _ in range(10):  # 10 MB without a terminator
        flood.send(block)
    assert "MODEL 2450" in witness.ask("*IDN?")  # served while the flood goes on
    flood.send(b"\n")  # the end of the overrun message is discarded with it
    assert flood.ask(":SYST:ERR?").startswith("-363")
    flood.close()

    for _ in range(100):  # a query, then gone before the answer is read
        quitter = socket.create_connection(("127.0.0.1", port))
        quitter.sendall(b"*IDN?\n")
        quitter.close()
    for _ in range(100):
        socket.create_connection(("127.0.0.1", port)).close()
    # the server accepts each (they may still wait in the accept queue), then lets it go when
    # it notices the close; until then they count against its 8 sessions (a busy machine is
    # slower at both): wait until all 202 were accepted and let go, as a client would retry
    deadline = time.monotonic() + 20

    def settled() -> bool:
        status = served.status("keithley2450")
        return bool(status["connections"] >= 202 and status["clients"] <= 1)

    while not settled() and time.monotonic() < deadline:
        time.sleep(0.01)

    half = Raw(port)
    half.send(b"*IDN?\n")
    half.sock.shutdown(socket.SHUT_WR)  # half-open: no more requests, still reading
    assert "MODEL 2450" in half.line()
    half.close()
    silent = Raw(port)  # connected, says nothing

    assert "MODEL 2450" in witness.ask("*IDN?")
    assert server_rss_kb(served) - rss_before < 40_000  # bounded: not the 10 MB times a copy
    status = served.status("keithley2450")
    assert status["connections"] >= 203  # the silent one may still be in the accept queue
    silent.close()
    witness.close()
    code, log = served.stop()
    assert code == 0
    assert "without a terminator" in log and "disconnected" in log


# ------------------------------------------------------------- its own life


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopping_the_server_frees_its_ports(sig: int) -> None:
    twins = ServedTwins()
    ports = [int(address.split("::")[2]) for _, address in twins.instruments] + [twins.control_port]
    connected = Raw(ports[1])  # a client still connected does not hold the server up
    assert connected.ask("*OPC?") == "1"
    code, log = twins.stop(sig)
    assert code == 0 and "ports freed" in log
    for port in ports:  # as a new server binds (the closed connections' TIME_WAIT allowed)
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", port))
            again.listen()
    connected.close()


def test_serve_an_experiment_configs_instrument(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "diode.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "instrument": {
                    "model": "keysight_b2901",
                    "address": "GPIB0::23::INSTR",
                    "sim": True,
                    "load": {"type": "diode"},
                },
                "experiment": {
                    "type": "iv_sweep",
                    "start": 0,
                    "stop": 0.7,
                    "num_points": 3,
                    "compliance": 0.01,
                },
                "save": {"directory": str(tmp_path)},
            }
        ),
        encoding="utf-8",
    )
    with ServedTwins(str(config)) as twins:
        assert [model for model, _ in twins.instruments] == ["keysight_b2901"]
        assert twins.status("keysight_b2901")["load"].startswith("Diode(")


def test_bad_input_is_refused_before_serving(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bench.yaml"
    bad.write_text("instruments:\n  - {address: GPIB0::1::INSTR, model: keithley9999}\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "labrun.experiments.cli", "sim", "serve", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "bench.yaml: instruments[0].model: 'keithley9999'" in done.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "labrun.experiments.cli", "sim", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1 from port {port}" in done.stderr


def test_in_process_bench_stops_with_a_one_session_client_connected() -> None:
    """stop() ends the 2400's session, which runs in its accept loop."""
    from labrun.sim_devices import default_bench
    from labrun.sim_devices.server import ServedBench

    bench = ServedBench(list(default_bench().values())[:1], port=0).start()
    client = Raw(bench.instruments[0].port)
    assert client.ask("*OPC?") == "1"
    stopper = threading.Thread(target=bench.stop)
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive()
    client.close()


def test_a_bench_file_is_read_as_carefully_as_a_config(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bench.yaml"
    bomb.write_text('a: &a ["x","x"]\nb: &b [*a,*a]\ninstruments: [*b]\n', encoding="utf-8")
    assert main(["sim", "serve", str(bomb), "--port", "0"]) == 2
    assert "anchors and aliases" in capsys.readouterr().err
