"""Helpers shared by the tests."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import yaml

from labrun.drivers import REGISTRY, SourceMeter
from labrun.experiments import Experiment, Point
from labrun.sim_devices import SourceMeterTwin, twin_of
from labrun.sim_devices.control import control_request


def _first_address_per_model() -> dict[str, str]:
    """model -> its first address on the default simulated bench, for the first model of each
    family (its variants differ in data only: ``tests/test_families.py`` runs them by table)."""
    first: dict[str, str] = {}
    for model in REGISTRY:
        first.setdefault(model.family_name, model.name)
    return {model.name: model.addresses[0] for model in REGISTRY if first[model.family_name] == model.name}


def speaks_tsp(driver: SourceMeter | type[SourceMeter]) -> bool:
    """The driver's model speaks TSP (Lua: the 2600B), not SCPI."""
    return (driver if isinstance(driver, type) else type(driver)).instrument_class.__name__ == "TspInstrument"


#: model -> address on the default simulated bench: derived, not listed
BENCH = _first_address_per_model()


def twin(driver: SourceMeter) -> SourceMeterTwin:
    """The simulated instrument behind a driver."""
    return twin_of(driver.instrument.resource)


def run_script(script: pathlib.Path, cwd: pathlib.Path) -> str:
    """Run a Python file as a user would (a fresh process, no screen, temp files in
    ``cwd``); fail with its output unless it exits 0. Returns what it printed."""
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env={**os.environ, "MPLBACKEND": "Agg", "TMPDIR": str(cwd)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{script.name} failed\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout


def in_measuring_thread(experiment: Experiment, hook: Callable[[Point], None]) -> None:
    """Run ``hook`` after each point in the measuring thread: a test's way to hold a run
    at a known step (subscribers run in threads of their own and cannot)."""
    experiment.after_point = hook  # type: ignore[method-assign,assignment]


def run_threads(*targets: Callable[[], None], timeout: float = 10.0) -> None:
    """Each target in a thread (named after it, where it has a name), all started, then
    all joined; one still running after ``timeout`` seconds fails the test as a deadlock."""
    threads = [threading.Thread(target=t, name=getattr(t, "__name__", None)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "deadlock"


class ServedTwins:
    """``labrun sim serve`` in a subprocess of its own, as a user starts it.

    Waits for the address lines; ``stop()`` sends a signal and returns the exit code.
    """

    def __init__(self, *args: str, cwd: pathlib.Path | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "labrun.experiments.cli", "sim", "serve", "--port", "0", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        #: (model, VISA address) per instrument, as printed
        self.instruments: list[tuple[str, str]] = []
        while line := self.process.stdout.readline():
            word, _, rest = line.strip().partition(" ")
            if word == "control":
                self.control_port = int(rest.rpartition(":")[2])
                return
            self.instruments.append((word, rest))
        self.process.wait(10)
        raise AssertionError(
            f"sim serve ended before serving:\n{self.process.stderr and self.process.stderr.read()}"
        )

    def address(self, model: str) -> str:
        return next(address for name, address in self.instruments if name == model)

    def port(self, model: str) -> int:
        return int(self.address(model).split("::")[2])

    def status(self, model: str) -> dict[str, Any]:
        """The served instrument's status, asked through the control port."""
        answer = control_request("127.0.0.1", self.control_port, {"op": "status", "port": self.port(model)})
        return dict(answer["instruments"][0])

    def log(self, model: str, last: int) -> list[str]:
        """The last messages the served instrument received, oldest first."""
        answer = control_request(
            "127.0.0.1", self.control_port, {"op": "log", "port": self.port(model), "last": last}
        )
        return list(answer["messages"])

    def inject(self, model: str, fault: dict[str, Any] | None) -> None:
        control_request(
            "127.0.0.1", self.control_port, {"op": "fault", "port": self.port(model), "fault": fault}
        )

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Signal the server; its exit code and what it logged."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        _, err = self.process.communicate(timeout=20)
        return self.process.returncode, err

    def __enter__(self) -> ServedTwins:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate(timeout=20)


def snapshot_answers(model: str) -> int:
    """How many answers a run's snapshot of ``model`` takes (each readable setting read
    back, and its identity): what a fault set to strike "after N answers" must add."""
    from labrun.drivers import open_sourcemeter

    with open_sourcemeter(model, BENCH[model], sim=True) as smu:
        simulated = twin_of(smu.instrument.resource)
        before = simulated.answered
        smu.snapshot()
        return int(simulated.answered - before)


def open_fds() -> int:
    """Descriptors open in this process, but the run catalog's (its database connections
    stay pooled from run to run, by design: a leak check must not count them)."""
    catalog = os.environ.get("LABRUN_CATALOG", "").removeprefix("sqlite:///")
    return sum(1 for fd in os.listdir("/proc/self/fd") if not (catalog and _target(fd).startswith(catalog)))


def _target(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:  # closed since the listing
        return ""


def labrun_process(
    *args: str, env: dict[str, str] | None = None, stdin: bool = False
) -> subprocess.Popen[str]:
    """``labrun ARGS`` in a process of its own, as a user starts it (no screen): its output
    and errors piped (and its input, if asked), ``env`` added to the environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "labrun.experiments.cli", *args],
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg", **(env or {})},
    )


def labrun_run(
    tmp_path: pathlib.Path,
    config: dict[str, Any],
    *options: str,
    verbose: bool = False,
    env: dict[str, str] | None = None,
    stdin: bool = False,
) -> tuple[subprocess.Popen[str], pathlib.Path]:
    """``labrun run`` of ``config`` (written to a file in ``tmp_path``), its data in
    ``tmp_path/out``: the process, and that folder."""
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    out = tmp_path / "out"
    args = [*(["-v"] if verbose else []), "run", str(path), "--out", str(out), "--no-progress", *options]
    return labrun_process(*args, env=env, stdin=stdin), out
