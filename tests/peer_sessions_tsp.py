"""Strangers' TSP drivers, each through one whole session as its user writes it (the
Keithley 2600B twin's counterpart of ``peer_sessions.py``).

QCoDeS 0.58's ``Keithley2636B`` (Lua one-liners wrapped in ``print()``, its fast sweep and
time trace as scripts sent with ``loadandrunscript`` and read back as binary REAL32) and
the keithley2600 package 2.1 (it finds the instrument's commands at run time, walking
``_G`` and each object's metatable: ``Getters``, ``Setters``, ``Objects``; its sweep is the
trigger model started by ``*trg`` and watched through ``status.operation.sweeping``).
Each returns what the client read, by name; ``opened`` is handed its pyvisa resource.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

from .peer_sessions import COMPLIANCE, LEVELS, Opened

#: the sweeps' levels, volts (1 kOhm: 0 .. 1 mA)
SWEEP = (0.0, 0.25, 0.5, 0.75, 1.0)
_names = itertools.count()


def qcodes_keithley2636b(address: str, library: str, opened: Opened, **connection: Any) -> dict[str, Any]:
    """QCoDeS's Keithley2636B: its parameters on smua, a fast sweep and a time trace (scripts)."""
    from qcodes.dataset import LinSweep
    from qcodes.instrument_drivers.Keithley import Keithley2636B

    smu = Keithley2636B(f"k2636b_{next(_names)}", address, visalib=library, **connection)
    try:
        opened(smu.visa_handle)
        out: dict[str, Any] = {"identity": smu.IDN(), "model": smu.model}
        channel = smu.smua
        smu.reset()
        channel.mode("voltage")
        channel.limiti(COMPLIANCE)
        channel.nplc(1)
        channel.sourcerange_v(2)
        channel.measurerange_i(1e-3)
        channel.volt(0)
        channel.output("on")
        out["iv"] = []
        for level in LEVELS:
            channel.volt(level)
            out["iv"].append((channel.volt(), channel.curr()))
        out["status"] = str(channel.curr.measurement_status)
        out["resistance"] = channel.res()
        channel.four_wire_measurement(True)
        out["four_wire"] = channel.four_wire_measurement()
        channel.four_wire_measurement(False)
        channel.setup_fastsweep(LinSweep(channel.volt, SWEEP[0], SWEEP[-1], len(SWEEP)))
        out["sweep"] = [float(i) for i in channel.fastsweep()]
        channel.nplc(0.01)  # a reading (0.2 ms) shorter than the trace's interval
        channel.timetrace_npts(10)
        channel.timetrace_dt(1e-3)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # QCoDeS warns when a reading outlasts the interval
            out["trace"] = [float(i) for i in channel.timetrace()]
        out["settings"] = {
            "mode": channel.mode(),
            "limiti": channel.limiti(),
            "nplc": channel.nplc(),
            "sourcerange_v": channel.sourcerange_v(),
            "linefreq": channel.linefreq(),
        }
        channel.output("off")
        out["output"] = channel.output()
        out["errors"] = smu.ask("errorqueue.count")
        return out
    finally:
        smu.close()


def keithley2600_package(address: str, library: str, opened: Opened, **connection: Any) -> dict[str, Any]:
    """The keithley2600 package: TSP attributes as Python ones, its IV helpers, its sweep."""
    with warnings.catch_warnings():  # it imports xdrlib, deprecated since Python 3.11
        warnings.simplefilter("ignore", DeprecationWarning)
        from keithley2600 import Keithley2600

    k = Keithley2600(address, visa_library=library, **connection)
    try:
        opened(k.connection)
        smua = k.smua
        out: dict[str, Any] = {"model": k.localnode.model}
        smua.reset()
        smua.source.limiti = COMPLIANCE
        k.apply_voltage(smua, 0.0)
        out["iv"] = []
        for level in LEVELS:
            smua.source.levelv = level
            out["iv"].append((k.measure_voltage(smua), k.measure_current(smua)))
        smua.sense = smua.SENSE_REMOTE
        out["sense"] = smua.sense
        smua.sense = smua.SENSE_LOCAL
        out["sweeping_before"] = k.status.operation.sweeping.condition  # idle: 0
        # the package polls for the sweep to begin (status.operation.sweeping): a sweep over before
        # its first poll would be waited for forever (on an instrument too): 5 x 50 ms
        voltages, currents = k.voltage_sweep_single_smu(smua, SWEEP, t_int=0.05, delay=-1, pulsed=False)
        out["sweep"] = list(zip(voltages, currents, strict=True))
        out["errors"] = k.read_error_queue()
        smua.source.output = smua.OUTPUT_OFF
        out["output"] = smua.source.output
        return out
    finally:
        k.disconnect()
