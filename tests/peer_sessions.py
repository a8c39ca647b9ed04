"""Other frameworks' drivers, each through one whole session as its user writes it.

Why sessions and not single commands: a twin is trusted when a stranger's driver runs on
it unchanged, from connect to output off, with values a resistor would give. Each
function is one client (PyMeasure 0.16, QCoDeS 0.58: the ``peers`` extra) driving one
instrument at ``address`` through the VISA library ``library``: connect, identify, set up
(source voltage, compliance, NPLC, ranges, sense), IV points, resistance 2- and 4-wire
where the client offers it, its buffer or sweep, output off. Each returns what the
client read, by name; ``opened`` is handed the client's pyvisa resource once it is
connected (the tests look at the twin behind it). The imports are inside the sessions:
QCoDeS takes a second to import.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

#: the source levels of every session's IV points, volts (1 kOhm: 0, 0.5, 1 mA)
LEVELS = (0.0, 0.5, 1.0)
#: compliance of every session, amperes
COMPLIANCE = 0.01

Opened = Callable[[Any], None]
_names = itertools.count()


def pymeasure_keithley2400(address: str, library: str, opened: Opened, **connection: Any) -> dict[str, Any]:
    """PyMeasure's Keithley2400: its properties, ``measure_all``, its buffer, ``shutdown``."""
    from pymeasure.instruments.keithley import Keithley2400

    smu = Keithley2400(address, visa_library=library, **connection)
    opened(smu.adapter.connection)
    out: dict[str, Any] = {"identity": smu.id}
    smu.reset()
    smu.source_mode = "voltage"
    smu.source_voltage_range = 2
    smu.compliance_current = COMPLIANCE
    smu.current_nplc = 1
    smu.current_range = 1e-3
    smu.auto_zero_enabled = True
    smu.source_voltage = 0
    smu.enable_source()
    out["iv"] = []
    for level in LEVELS:
        smu.source_voltage = level
        out["iv"].append((smu.voltage, smu.current))
    out["nplc"] = smu.voltage_nplc  # one NPLC for every function (manual §18)
    smu.wires = 2
    smu.resistance_mode_auto_enabled = False
    smu.resistance_nplc = 1
    smu.resistance_range_auto_enabled = True
    out["resistance_2wire"] = smu.resistance
    smu.wires = 4
    out["wires"] = smu.wires
    out["resistance_4wire"] = smu.resistance
    out["all"] = smu.measure_all()
    smu.config_buffer(points=10)
    smu.start_buffer()
    smu.wait_for_buffer(timeout=5, interval=0.01)
    out["buffer"] = [float(v) for v in smu.buffer_data]
    out["means"] = smu.means
    out["standard_deviations"] = smu.standard_devs
    out["errors"] = smu.check_errors()
    smu.shutdown()
    out["source_enabled"] = smu.source_enabled
    smu.adapter.close()
    return out


def pymeasure_keithley2450(address: str, library: str, opened: Opened, **connection: Any) -> dict[str, Any]:
    """PyMeasure's Keithley2450: ``apply_voltage``, ``measure_*``, ``wires``, buffer statistics."""
    from pymeasure.instruments.keithley import Keithley2450

    smu = Keithley2450(address, visa_library=library, **connection)
    opened(smu.adapter.connection)
    out: dict[str, Any] = {"identity": smu.id}
    smu.reset()
    smu.apply_voltage(compliance_current=COMPLIANCE)
    smu.measure_current(nplc=1, current=1e-3, auto_range=False)
    smu.source_voltage = 0
    smu.enable_source()
    out["iv"] = []
    for level in LEVELS:
        smu.source_voltage = level
        out["iv"].append((level, smu.current))
    smu.measure_voltage(nplc=1)
    out["voltage"] = smu.voltage
    smu.measure_resistance(nplc=1)
    smu.wires = 2
    out["resistance_2wire"] = smu.resistance
    smu.wires = 4
    out["wires"] = smu.wires
    out["resistance_4wire"] = smu.resistance
    out["compliance"] = smu.compliance_current
    out["buffer_points"] = smu.buffer_points
    # every reading above went into defbuffer1: its statistics are over all of them (the
    # 2450 answers one number; PyMeasure's mean_voltage etc. index it as the 2400's list)
    out["buffer_mean"] = smu.means
    out["buffer_max"] = smu.maximums
    out["buffer_min"] = smu.minimums
    out["buffer_deviation"] = smu.standard_devs
    out["errors"] = smu.check_errors()
    smu.shutdown()
    out["source_enabled"] = bool(smu.ask("OUTPUT?").strip() == "1")
    smu.adapter.close()
    return out


def qcodes_keithley2400(address: str, library: str, opened: Opened, **connection: Any) -> dict[str, Any]:
    """QCoDeS's Keithley2400: its parameters (``volt``, ``curr``, ``resistance``: ``:READ?``)."""
    from qcodes.instrument_drivers.Keithley import Keithley2400

    smu = Keithley2400(f"k2400_{next(_names)}", address, visalib=library, **connection)
    try:
        opened(smu.visa_handle)
        out: dict[str, Any] = {"identity": smu.IDN()}
        smu.reset()
        smu.mode("VOLT")
        smu.compliancei(COMPLIANCE)
        smu.rangev(2)
        smu.rangei(1e-3)
        smu.nplci(1)
        smu.volt(0)
        smu.output(1)
        out["iv"] = []
        for level in LEVELS:
            smu.volt(level)
            out["iv"].append((smu.volt(), smu.curr()))
        out["resistance"] = smu.resistance()
        out["sense"] = smu.sense()
        out["settings"] = {"compliancei": smu.compliancei(), "nplci": smu.nplci(), "mode": smu.mode()}
        smu.output(0)
        out["output"] = smu.output()
        out["errors"] = smu.ask(":SYST:ERR:ALL?")
        return out
    finally:
        smu.close()


def qcodes_keithley2450(address: str, library: str, opened: Opened, **connection: Any) -> dict[str, Any]:
    """QCoDeS's Keithley2450: source and sense submodules, resistance, the sweep, the buffer."""
    from qcodes.instrument_drivers.Keithley import Keithley2450

    smu = Keithley2450(f"k2450_{next(_names)}", address, visalib=library, **connection)
    try:
        opened(smu.visa_handle)
        out: dict[str, Any] = {"identity": smu.IDN()}
        smu.reset()
        smu.sense_function("current")
        smu.source_function("voltage")
        smu.terminals("front")
        smu.source.range(2)
        smu.source.limit(COMPLIANCE)
        smu.sense.nplc(1)
        smu.sense.range(1e-3)
        smu.sense.auto_range(True)
        smu.sense.four_wire_measurement(False)
        smu.sense.auto_zero_enabled(True)
        smu.source.voltage(0)
        smu.output_enabled(True)
        out["iv"] = []
        for level in LEVELS:
            smu.source.voltage(level)
            out["iv"].append((smu.source.voltage(), smu.sense.current()))
        out["limit_tripped"] = smu.source.limit_tripped()
        smu.sense_function("resistance")
        smu.sense.nplc(1)
        smu.sense.auto_range(True)
        out["resistance_2wire"] = smu.sense.resistance()
        smu.sense.four_wire_measurement(True)
        out["four_wire"] = smu.sense.four_wire_measurement()
        out["resistance_4wire"] = smu.sense.resistance()
        smu.sense.four_wire_measurement(False)
        smu.sense_function("current")
        smu.source.sweep_setup(0, 1, 11)
        out["sweep_axis"] = [float(v) for v in smu.source.sweep_axis()]
        out["sweep"] = [float(v) for v in smu.sense.sweep()]
        buffer = smu.buffer("defbuffer1")
        buffer.elements(["measurement", "source_value", "relative_time"])
        smu.sense.current()
        out["readings"] = buffer.number_of_readings()
        out["last_reading"] = buffer.get_last_reading()
        out["buffer_data"] = buffer.get_data(1, out["readings"])
        out["buffer_size"] = buffer.size()
        smu.output_enabled(False)
        out["output"] = smu.output_enabled()
        out["errors"] = smu.ask(":SYST:ERR:ALL?")
        return out
    finally:
        smu.close()


def qcodes_keysight_b2962a(
    address: str, library: str, opened: Opened, channels: tuple[int, ...] = (1,), **connection: Any
) -> dict[str, Any]:
    """QCoDeS's KeysightB2962A on a B2900 (its channel submodules, ``MEAS:<f>? (@n)``).

    Its driver has no sense-function parameter: resistance is read as the instrument
    answers it (+9.91E+37 until the RES function is on), then turned on by a plain write,
    as its users do for what a driver lacks.
    """
    from qcodes.instrument_drivers.Keysight import KeysightB2962A

    smu = KeysightB2962A(f"b2962a_{next(_names)}", address, visalib=library, **connection)
    try:
        opened(smu.visa_handle)
        out: dict[str, Any] = {"identity": smu.IDN()}
        for number in channels:
            channel = smu.ch1 if number == 1 else smu.ch2
            got: dict[str, Any] = {}
            channel.source_mode("voltage")
            channel.current_limit(COMPLIANCE)
            channel.source_voltage(0)
            channel.enable(True)
            got["iv"] = []
            for level in LEVELS:
                channel.source_voltage(level)
                got["iv"].append((channel.voltage(), channel.current()))
            got["resistance_off"] = channel.resistance()
            channel.write(f':SENS{number}:FUNC:ON "RES"')
            channel.remote_sensing(False)
            got["resistance_2wire"] = channel.resistance()
            channel.remote_sensing(True)
            got["remote_sensing"] = channel.remote_sensing()
            got["resistance_4wire"] = channel.resistance()
            channel.remote_sensing(False)
            got["settings"] = {
                "source_voltage": channel.source_voltage(),
                "current_limit": channel.current_limit(),
                "source_mode": channel.source_mode(),
            }
            channel.enable(False)
            got["enable"] = channel.enable()
            out[f"ch{number}"] = got
        out["errors"] = smu.ask(":SYST:ERR:ALL?")
        return out
    finally:
        smu.close()
