"""Run records and journals for the catalog's tests, built as the engine will build them.

The snapshots are written by hand in the shape drivers' ``snapshot()`` will give (another
change writes that); the journals through ``DataFile`` with the record in their header.
"""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Sequence
from typing import Any

from labrun.experiments.storage import DataFile, RunEnd, RunRecord, journal_metadata

IV_COLUMNS = {
    "step": "",
    "source": "V",
    "voltage": "V",
    "current": "A",
    "timestamp": "s",
    "in_compliance": "",
}
FET_COLUMNS = {
    "gate_index": "", "gate_source": "V", "drain_index": "", "drain_source": "V",
    "gate_voltage": "V", "gate_current": "A", "drain_voltage": "V", "drain_current": "A",
    "timestamp": "s", "in_compliance": "",
}  # fmt: skip


def snapshot(
    model: str = "keithley2400",
    address: str = "GPIB0::24::INSTR",
    role: str = "instrument",
    channel: int | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """One instrument's snapshot as a driver gives it: identity, settings read back, units."""
    return {
        "role": role,
        "model": model,
        "name": f"{model} at {address}",
        "address": address,
        "channel": channel,
        "backend": "@labrun",
        "identity": f"KEITHLEY INSTRUMENTS INC.,MODEL {model[-4:]},4242,C30",
        "settings": {"nplc": 1.0, "remote_sense": False, "current_limit": 0.01, **settings},
        "units": {"nplc": "", "current_limit": "A"},
        "errors": {},
    }


def iv_record(**fields: Any) -> RunRecord:
    """An IV sweep's record at its start (status running)."""
    values: dict[str, Any] = {
        "parameters": {"start": -1.0, "stop": 1.0, "num_points": 5, "delay": 0.0, "compliance": 0.01},
        "columns": IV_COLUMNS,
        "plot_axes": ("voltage", "current"),
        "instruments": [snapshot()],
        "config": {
            "given": "experiment:\n  type: iv_sweep\n",
            "resolved": {"experiment": {"type": "iv_sweep"}},
        },
    }
    return RunRecord.new("iv_sweep", **{**values, **fields})


def fet_record(**fields: Any) -> RunRecord:
    values: dict[str, Any] = {
        "parameters": {"axes": [{"terminal": "gate", "levels": [1.0, 2.0, 3.0]}]},
        "columns": FET_COLUMNS,
        "plot_axes": ("drain_voltage", "drain_current"),
        "family": ("gate_source",),
        "instruments": [
            snapshot("keysight_b2902", "GPIB0::22::INSTR", "gate", channel=1),
            snapshot("keysight_b2902", "GPIB0::22::INSTR", "drain", channel=2),
        ],
    }
    return RunRecord.new("fet_output", **{**values, **fields})


def with_id_prefix(prefix: str, record: RunRecord) -> RunRecord:
    """The same record under an id starting with ``prefix`` (hex): for ambiguous prefixes."""
    digits = prefix + uuid.uuid4().hex[len(prefix) :]
    return RunRecord.from_dict({**record.to_dict(), "run_id": str(uuid.UUID(digits))})


def iv_rows(points: int) -> list[tuple[float | int | bool, ...]]:
    """An up-sweep of a 1 kOhm resistor from -1 V: rows in IV_COLUMNS' order."""
    rows: list[tuple[float | int | bool, ...]] = []
    for k in range(points):
        v = -1.0 + 2.0 * k / max(points - 1, 1)
        rows.append((k, v, v, v / 1e3, 0.01 * k, False))
    return rows


def fet_rows(
    gates: Sequence[float], drains: Sequence[float], points: int
) -> list[tuple[float | int | bool, ...]]:
    """The first ``points`` of an output grid (gate outer, drain inner), a square-law drain."""
    rows: list[tuple[float | int | bool, ...]] = []
    for i, g in enumerate(gates):
        for j, d in enumerate(drains):
            current = 1e-3 * max(g - 1.0, 0.0) * min(d, g - 1.0)
            rows.append((i, g, j, d, g, 1e-12, d, current, 0.001 * len(rows), False))
    return rows[:points]


def write_journal(
    directory: pathlib.Path,
    record: RunRecord,
    rows: Sequence[Sequence[float | int | bool]],
    end: RunEnd | None = None,
) -> pathlib.Path:
    """A journal as a run leaves it: the record in its header, its rows, its end line
    (None: no end line, as a killed run leaves it)."""
    data_file = DataFile.create(
        directory,
        record.experiment,
        tuple(record.columns),
        {**journal_metadata(record), "experiment": record.experiment, "units": record.columns},
        write_interval=0.0,
    )
    try:
        for row in rows:
            data_file.write(row)
        if end is not None:
            data_file.write_end(end)
    finally:
        data_file.close()
    return data_file.path
