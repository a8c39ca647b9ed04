"""The ``@labrun`` pyvisa backend: a bench of simulated source-meters.

Why a backend: any pyvisa program reaches the twins the way it reaches real
instruments, with ``pyvisa.ResourceManager("@labrun")`` (the default bench) or
``ResourceManager("my_bench.yaml@labrun")``. Each ``open_resource`` builds a fresh
twin, so two tests (or two scripts) never share an instrument's state.
"""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pyvisa
import yaml
from pyvisa import rname
from pyvisa.resources import MessageBasedResource

from labrun.drivers.registry import MODELS, REGISTRY

from .circuits import Circuit, circuit_from_dict
from .faults import fault_from_dict
from .loads import load_from_dict
from .models import model_definition
from .seam import SimVisaLibrary, update_component
from .sourcemeter_twin import SourceMeterTwin
from .timing import Timing

HERE = pathlib.Path(__file__).parent
#: the load behind every twin of the default bench
DEFAULT_LOAD = {"type": "resistor", "resistance": 1000}


def default_bench(timing: str = "off") -> dict[str, dict[str, Any]]:
    """The bench of ``ResourceManager("@labrun")``: every model of the registry at its
    addresses, each with a 1 kOhm resistor behind its output. ``timing="realistic"``:
    the same twins taking the instruments' time (``timing.py``)."""
    entries = [
        {"address": address, "model": model.name, "load": dict(DEFAULT_LOAD), "timing": timing}
        for model in REGISTRY
        for address in model.addresses
    ]
    return checked_bench(entries, "the default bench")


#: how many twins this process has built: a test of "nothing was opened" reads it
twins_built = 0


TERMINATIONS = ("\n", "\r", "\r\n")
#: a bench entry's ``timing``: answers at once, or in the instrument's own time
TIMINGS = ("off", "realistic")


def build_twin(model: str, address: str, spec: Mapping[str, Any] | None = None) -> SourceMeterTwin:
    """A new twin of ``model`` at ``address``; ``spec`` as one bench entry (load, noise, seed)."""
    global twins_built
    twins_built += 1
    spec = spec or {}
    definition = model_definition(model)
    device_dict = definition.device
    twin = definition.behaviour(
        model,
        definition.tree,
        load=load_from_dict(spec.get("load")),
        noise=float(spec.get("noise", 1e-4)),
        seed=spec.get("seed"),
    )
    # pyvisa-sim's own machinery reads terminations, error responses and static dialogues
    twin.add_error_handler(device_dict.get("error", {}))
    end = spec.get("termination")  # as set on the instrument's front panel, if given
    for type_class, eom in device_dict.get("eom", {}).items():
        twin.add_eom(type_class, end or eom["q"], end or eom["r"])
    update_component(model, twin, device_dict)
    if definition.identity is not None:  # a variant: the family's twin, the model's own answer
        twin._dialogues[b"*IDN?"] = definition.identity.encode()
    twin.resource_name = address
    twin.fault = fault_from_dict(spec.get("fault"))
    if spec.get("language"):  # the command set it was left in (Keithley 2450)
        twin.state[(1, "language")] = str(spec["language"]).upper()
    if spec.get("hum"):
        twin.hum = (float(spec["hum"]["amplitude"]), float(spec["hum"]["frequency"]))
    if spec.get("timing", "off") == "realistic":  # the instrument's own time (timing.py)
        twin.timing = Timing.for_address(address, link_latency=spec.get("link_latency"))
    return twin


def read_bench(path: str | pathlib.Path) -> tuple[dict[str, dict[str, Any]], list[Circuit]]:
    """Bench file -> ({canonical address: entry}, circuits); errors name the file and entry."""
    path = pathlib.Path(path)
    with open(path, encoding="utf-8") as fp:
        data = yaml.safe_load(fp) or {}
    entries = data.get("instruments") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list under 'instruments'")
    bench = checked_bench(entries, str(path))
    return bench, checked_circuits(data.get("circuits") or [], bench, str(path))


def checked_circuits(specs: Any, bench: Mapping[str, Mapping[str, Any]], source: str) -> list[Circuit]:
    """Circuits of a bench, each wired to channels of its instruments; errors name the source."""
    if not isinstance(specs, list):
        raise ValueError(f"{source}: expected a list under 'circuits'")
    circuits = []
    for i, spec in enumerate(specs):
        where = f"{source}: circuits[{i}]"
        try:
            if not isinstance(spec, Mapping):
                raise ValueError("expected a mapping (type: mosfet, gate: {address: ..., channel: 1}, ...)")
            circuit = circuit_from_dict(spec)
            for terminal, port in circuit.wiring.items():
                if port is None:
                    continue
                address, channel = rname.to_canonical_name(port[0]), port[1]
                if address not in bench:
                    raise ValueError(f"{terminal}: no instrument at {port[0]} on this bench")
                channels = model_definition(bench[address]["model"]).tree.channels
                if not 1 <= channel <= channels:
                    raise ValueError(
                        f"{terminal}: channel {channel}; the {bench[address]['model']} has 1 .. {channels}"
                    )
                circuit.wiring[terminal] = (address, channel)
        except (rname.InvalidResourceName, ValueError, TypeError) as error:
            raise ValueError(f"{where}: {error}") from None
        circuits.append(circuit)
    return circuits


#: benches that live in memory, by library path (``memory:TOKEN``)
_memory_benches: dict[str, tuple[dict[str, dict[str, Any]], list[Circuit]]] = {}
MEMORY = "memory:"


def realistic_bench() -> str:
    """The default bench with the time model on, for ``sim=``: speed against the instrument's floor."""
    return bench_in_memory(list(default_bench(timing="realistic").values()))


def bench_in_memory(entries: Sequence[Mapping[str, Any]], circuits: Sequence[Mapping[str, Any]] = ()) -> str:
    """A bench without a file (a config's own twins): the library path for ``sim=``.

    ``open_sourcemeter(model, address, sim=bench_in_memory([...]))`` or
    ``ResourceManager(f"{path}@labrun")``; entries and circuits as in a bench file.
    """
    path = f"{MEMORY}{uuid.uuid4().hex}"
    bench = checked_bench(list(entries), "bench in memory")
    _memory_benches[path] = (bench, checked_circuits(list(circuits), bench, "bench in memory"))
    return path


def checked_bench(entries: list[Any], source: str) -> dict[str, dict[str, Any]]:
    """Entries -> {canonical address: entry}; errors name the source and the entry."""
    bench: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        where = f"{source}: instruments[{i}]"
        if not isinstance(entry, dict) or "address" not in entry or "model" not in entry:
            raise ValueError(f"{where}: each instrument needs 'address' and 'model'")
        if entry["model"] not in MODELS:
            raise ValueError(f"{where}.model: {entry['model']!r}; allowed: {sorted(MODELS)}")
        try:
            address = rname.to_canonical_name(str(entry["address"]))
            load_from_dict(entry.get("load"))
            fault_from_dict(entry.get("fault"))
            if entry.get("timing", "off") not in TIMINGS:
                raise ValueError(f"timing {entry['timing']!r}; allowed: {', '.join(TIMINGS)}")
            if entry.get("termination", "\n") not in TERMINATIONS:
                raise ValueError(f"termination {entry['termination']!r}; allowed: {TERMINATIONS}")
        except (rname.InvalidResourceName, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None
        bench[address] = dict(entry)
    return bench


class Bench:
    """The library's device table: builds a new twin each time an address is opened;
    the bench's circuits see the twin now serving each address they are wired to."""

    def __init__(self, entries: dict[str, dict[str, Any]], circuits: Sequence[Circuit] = ()) -> None:
        self._entries = entries
        self.circuits = list(circuits)

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        return self._entries

    def __getitem__(self, address: str) -> SourceMeterTwin:
        entry = self.entries[address]
        twin = build_twin(entry["model"], address, entry)
        for circuit in self.circuits:
            circuit.attach(address, twin)
        return twin

    def list_resources(self) -> tuple[str, ...]:
        return tuple(self.entries)


class DefaultBench(Bench):
    """The default bench follows the registry: a model registered after pyvisa made
    this library (it keeps one per process) is on it all the same."""

    def __init__(self) -> None:
        super().__init__({})

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        return default_bench()


class LabrunVisaLibrary(SimVisaLibrary):
    """pyvisa-sim's library with a bench of SCPI-parsing twins as its devices."""

    @staticmethod
    def get_debug_info() -> dict[str, str]:
        return {"Backend": "labrun simulated source-meters", "Default bench": ", ".join(default_bench())}

    def _init(self) -> None:
        self.sessions: dict[int, Any] = {}
        path = str(self.library_path)
        if path.startswith(MEMORY):
            self.devices = Bench(*_memory_benches[path])
        else:
            self.devices = DefaultBench() if path == "unset" else Bench(*read_bench(path))

    def open(self, session: Any, resource_name: str, *args: Any, **kwargs: Any) -> Any:
        """As pyvisa-sim's, but an unknown address raises as a real VISA library does.

        pyvisa-sim 0.7 returns ``(0, error_resource_not_found)`` without raising, and
        pyvisa then hands out a resource bound to no instrument.
        """
        handle, status = super().open(session, resource_name, *args, **kwargs)
        if status < 0:
            raise pyvisa.errors.VisaIOError(status)
        return handle, status

    def clear(self, session: Any) -> Any:
        """viClear: a device clear of the twin (pyvisa-sim has none; QCoDeS clears at connect)."""
        try:
            device = self.sessions[session].device
        except KeyError:
            return pyvisa.constants.StatusCode.error_invalid_object
        device.device_clear()
        return pyvisa.constants.StatusCode.success


def twin_of(resource: MessageBasedResource) -> SourceMeterTwin:
    """The twin behind an open simulated resource (tests inspect its log and state)."""
    session = resource.visalib.sessions[resource.session]  # type: ignore[attr-defined]
    twin: SourceMeterTwin = session.device
    return twin
