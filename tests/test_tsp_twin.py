"""The Keithley 2600B twin through plain pyvisa: TSP as the reference manual writes it.

Each test sends Lua as a user of the instrument would (the manual's examples: source and
measure, readings into the nonvolatile buffers, the trigger model's sweep, the error
queue, reset, scripts) and checks what a 1 kOhm load gives. The sandbox: no ``os``/``io``,
and a runaway loop is stopped while the twin keeps answering.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator

import pytest
import pyvisa
from pyvisa.resources import MessageBasedResource

from labrun.sim_devices import bench_in_memory, twin_of
from labrun.sim_devices.lua_sandbox import KILLED

ADDRESS = "GPIB0::26::INSTR"  # the default bench's 2636B, a 1 kOhm resistor on each channel


def open_tsp(library: str = "@labrun", address: str = ADDRESS) -> MessageBasedResource:
    res = pyvisa.ResourceManager(library).open_resource(
        address, read_termination="\n", write_termination="\n", timeout=1000
    )
    assert isinstance(res, MessageBasedResource)
    return res


@pytest.fixture
def k() -> Iterator[MessageBasedResource]:
    res = open_tsp()
    yield res
    res.close()


def numbers(text: str, separator: str = "\t") -> list[float]:
    return [float(v) for v in text.split(separator)]


def errors(k: MessageBasedResource) -> list[tuple[int, str]]:
    """Empty the error queue: (code, message) of each entry, oldest first."""
    found = []
    while float(k.query("print(errorqueue.count)")):
        code, message, severity, node = k.query("print(errorqueue.next())").split("\t")
        assert (float(severity), float(node)) == (20, 1)
        found.append((int(float(code)), message))
    return found


def test_the_manuals_source_and_measure_example(k: MessageBasedResource) -> None:
    """Source 1 V with a 10 mA limit, measure the current; then source 1 mA, measure V."""
    for line in (
        "smua.reset()",
        "smua.source.func = smua.OUTPUT_DCVOLTS",
        "smua.source.rangev = 2",
        "smua.source.levelv = 1",
        "smua.source.limiti = 10e-3",
        "smua.measure.rangei = 10e-3",
        "smua.source.output = smua.OUTPUT_ON",
    ):
        k.write(line)
    assert numbers(k.query("print(smua.measure.i())")) == pytest.approx([1e-3], rel=1e-3)
    i, v = numbers(k.query("print(smua.measure.iv())"))
    assert (i, v) == (pytest.approx(1e-3, rel=1e-3), pytest.approx(1.0, rel=1e-3))
    assert numbers(k.query("print(smua.measure.r(), smua.measure.p())")) == pytest.approx(
        [1000.0, 1e-3], rel=2e-3
    )
    k.write("smua.source.func = smua.OUTPUT_DCAMPS smua.source.leveli = 1e-3 smua.source.limitv = 10")
    assert numbers(k.query("print(smua.measure.v())")) == pytest.approx([1.0], rel=1e-3)
    k.write("smua.source.leveli = 20e-3")  # 20 V on 1 kOhm: the 10 V limit holds it
    v, condition = numbers(k.query("print(smua.measure.v(), status.measurement.instrument.smua.condition)"))
    assert v == pytest.approx(10.0, rel=1e-3) and condition == 1  # bit 0: voltage limit
    k.write("smua.source.output = smua.OUTPUT_OFF")
    assert k.query("print(smua.source.output)") == "0.00000e+00"  # 6 digits: format.asciiprecision
    assert errors(k) == []


def test_readings_into_a_buffer_and_printbuffer_in_ascii_and_binary(k: MessageBasedResource) -> None:
    k.write("smua.source.levelv = 0.5 smua.source.output = 1 smua.nvbuffer1.clear() smua.measure.count = 4")
    k.write("smua.nvbuffer1.collectsourcevalues = 1 smua.measure.i(smua.nvbuffer1) smua.measure.count = 1")
    assert k.query("print(smua.nvbuffer1.n)") == "4.00000e+00"
    currents = numbers(k.query("printbuffer(1, smua.nvbuffer1.n, smua.nvbuffer1)"), ", ")
    assert currents == pytest.approx([5e-4] * 4, rel=1e-3)
    sources = numbers(k.query("printbuffer(1, 2, smua.nvbuffer1.sourcevalues)"), ", ")
    assert sources == [0.5, 0.5]
    assert float(k.query("print(smua.nvbuffer1.readings[3])")) == pytest.approx(5e-4, rel=1e-3)
    k.write("format.data = format.REAL32 format.byteorder = format.LITTLEENDIAN")
    k.write("printbuffer(1, 4, smua.nvbuffer1.readings)")
    raw = b""
    while len(raw) < 2 + 4 * 4 + 1:  # a byte of the data may be the line end: read on
        raw += k.read_raw()
    assert raw[:2] == b"#0" and raw[-1:] == b"\n"
    assert list(struct.unpack("<4f", raw[2:-1])) == pytest.approx(currents, rel=1e-5)  # 6 digits in ASCII
    k.write("format.data = format.ASCII")
    assert errors(k) == []


def test_a_sweep_by_the_trigger_model_into_the_nonvolatile_buffers(k: MessageBasedResource) -> None:
    """The manual's linear voltage sweep: 11 steps 0 .. 1 V, I and V of each step buffered."""
    for line in (
        "reset()",
        "smua.trigger.source.linearv(0, 1, 11)",
        "smua.trigger.source.limiti = 0.1",
        "smua.trigger.measure.action = smua.ENABLE",
        "smua.trigger.measure.iv(smua.nvbuffer1, smua.nvbuffer2)",
        "smua.trigger.endpulse.action = smua.SOURCE_HOLD",
        "smua.trigger.endsweep.action = smua.SOURCE_IDLE",
        "smua.trigger.count = 11",
        "smua.trigger.source.action = smua.ENABLE",
        "smua.source.output = smua.OUTPUT_ON",
        "smua.trigger.initiate()",
        "waitcomplete()",
        "smua.source.output = smua.OUTPUT_OFF",
    ):
        k.write(line)
    levels = [step / 10 for step in range(11)]
    rows = numbers(k.query("printbuffer(1, 11, smua.nvbuffer2.readings, smua.nvbuffer1.readings)"), ", ")
    assert rows[0::2] == pytest.approx(levels, rel=1e-3, abs=1e-5)  # voltages
    assert rows[1::2] == pytest.approx([v / 1000 for v in levels], rel=1e-3, abs=1e-8)  # currents
    assert numbers(k.query("printbuffer(1, 11, smua.nvbuffer1.sourcevalues)"), ", ") == pytest.approx(levels)
    assert (
        k.query("print(smua.source.levelv, status.operation.sweeping.condition)")
        == "0.00000e+00\t0.00000e+00"
    )
    assert errors(k) == []  # SOURCE_IDLE: back to the level before the sweep (0 V)


def test_the_error_queue_holds_what_was_refused_and_the_chunk_goes_on(k: MessageBasedResource) -> None:
    assert k.query("smua.source.levelv = 1000 print(smua.source.levelv)") == "0.00000e+00"
    assert k.query("smua.measure.nplc = 50 print(errorqueue.count)") == "2.00000e+00"
    (range_error, nplc_error) = errors(k)
    assert range_error[0] == nplc_error[0] == -222
    assert "source.levelv = 1000: outside -202 .. 202" in range_error[1]
    assert k.query("print(errorqueue.next())") == "0.00000e+00\tQueue Is Empty\t0.00000e+00\t0.00000e+00"
    k.write("smua.source.levelv = 1e9 errorqueue.clear()")
    assert k.query("print(errorqueue.count)") == "0.00000e+00"


def test_a_lua_syntax_error_answers_as_the_instrument_does(k: MessageBasedResource) -> None:
    """-285 and nothing of the chunk runs (not even its print: the query times out);
    a run-time error, -286, ends the chunk where it happens."""
    k.timeout = 200
    with pytest.raises(pyvisa.errors.VisaIOError):
        k.query("print(1) smua.source.levelv = ")
    k.timeout = 1000
    assert errors(k) == [(-285, "TSP Syntax error at line 1: unexpected symbol near '<eof>'")]
    assert k.query("print(1) local x = nil + 1 print(2)") == "1.00000e+00"
    assert errors(k) == [(-286, "TSP Runtime error at line 1: attempt to perform arithmetic on a nil value")]
    k.write("smua.source.levelvv = 1")  # no such attribute
    assert errors(k) == [(-286, "TSP Runtime error at line 1: there is no attribute levelvv to set")]


def test_reset_restores_the_defaults(k: MessageBasedResource) -> None:
    k.write("smua.source.levelv = 2 smua.measure.nplc = 5 smub.measure.nplc = 3 smua.source.output = 1")
    k.write("smua.reset()")  # channel a only
    assert k.query("print(smua.source.levelv, smua.measure.nplc, smub.measure.nplc)") == (
        "0.00000e+00\t1.00000e+00\t3.00000e+00"
    )
    k.write("format.asciiprecision = 3 reset()")  # everything, the print format too
    assert k.query("print(smub.measure.nplc, smua.source.output)") == "1.00000e+00\t0.00000e+00"
    k.write("smub.measure.nplc = 3")
    k.write("*RST")
    assert k.query("print(smub.measure.nplc)") == "1.00000e+00"


def test_scripts_are_loaded_kept_and_run_by_name(k: MessageBasedResource) -> None:
    for line in (
        "loadscript ohms",
        "smua.source.levelv = 1 smua.source.output = 1",
        "print(smua.measure.r())",
        "endscript",
    ):
        k.write(line)
    assert float(k.query("ohms()")) == pytest.approx(1000.0, rel=1e-3)
    assert float(k.query("ohms.run()")) == pytest.approx(1000.0, rel=1e-3)
    assert k.query("print(ohms.name)") == "ohms"
    k.write(
        "loadandrunscript\r\nfor i = 1, 3 do\r\n  print(i)\r\nend\r\nendscript"
    )  # one write, as QCoDeS sends
    assert [k.read() for _ in range(3)] == ["1.00000e+00", "2.00000e+00", "3.00000e+00"]
    for line in ("loadscript broken", "for i = 1, 3 do", "endscript"):
        k.write(line)
    assert errors(k) == [(-285, "TSP Syntax error at line 1: 'end' expected near '<eof>'")]
    assert k.query("print(broken)") == "nil"


def test_the_sandbox_refuses_os_io_and_the_python_bridge(k: MessageBasedResource) -> None:
    for chunk in (
        "os.execute('touch /tmp/labrun-tsp-escaped')",
        "io.open('/etc/passwd')",
        "require('os')",
        "dofile('/etc/passwd')",
        "loadfile('/etc/passwd')",
        "debug.getinfo(1)",
        "python.eval('1')",
        "getmetatable('').__index.dump(print)",
    ):
        k.write(chunk)
        ((code, message),) = errors(k)
        assert code == -286 and "nil value" in message, (chunk, message)
    assert k.query("print(load(string.char(27) .. 'LuaQ'))").startswith("nil\tbinary chunks are refused")


def test_a_runaway_loop_is_stopped_and_the_twin_answers_again(k: MessageBasedResource) -> None:
    for chunk in ("while true do end", "while true do pcall(function() while true do end end) end"):
        began = time.monotonic()
        k.write(chunk)
        assert errors(k) == [(-286, f"TSP Runtime error : {KILLED}")], chunk
        assert time.monotonic() - began < 10  # ~0.2 s of Lua; bounded whatever the machine
    assert k.query("print(1 + 1)") == "2.00000e+00"


def test_the_objects_carry_getters_setters_and_objects_as_the_instruments_do(k: MessageBasedResource) -> None:
    """What the keithley2600 package walks to find the commands (``tests/test_peer_drivers.py``)."""
    k.write("mt = getmetatable(smua.source)")
    assert k.query("print(type(mt.Getters.levelv), type(mt.Setters.levelv), mt.Setters.compliance)").split(
        "\t"
    ) == ["function", "function", "nil"]
    assert k.query("print(getmetatable(smua).Objects.OUTPUT_ON, getmetatable(smua).luatype)") == (
        "1.00000e+00\tsmu"
    )
    assert k.query("print(getmetatable(smua.nvbuffer1).luatype, localnode.model)") == "reading_buffer\t2636B"


def test_a_one_channel_model_has_no_smub() -> None:
    res = open_tsp(address="GPIB0::15::INSTR")  # the default bench's 2601B
    assert res.query("print(smub, localnode.model)") == "nil\t2601B"
    assert res.query("smua.source.levelv = 41 print(errorqueue.count)") == "1.00000e+00"  # 40.4 V at most
    res.close()


def test_a_transistor_between_its_channels_gate_on_smub_drain_on_smua() -> None:
    wired = {"address": ADDRESS, "channel": 1}
    bench = bench_in_memory(
        [{"address": ADDRESS, "model": "keithley2636b", "noise": 0.0}],
        [{"type": "mosfet", "threshold": 1.0, "gain": 1e-3, "drain": wired, "gate": {**wired, "channel": 2}}],
    )
    k = open_tsp(f"{bench}@labrun")
    k.write("smua.source.levelv = 2 smua.source.limiti = 0.1 smua.source.output = 1 smub.source.output = 1")
    drain = []
    for gate in (0.0, 1.5, 2.0, 3.0):
        k.write(f"smub.source.levelv = {gate}")
        drain.append(float(k.query("print(smua.measure.i())")))
    assert drain[0] < 1e-6 < drain[1] < drain[2] < drain[3]
    assert drain[3] == pytest.approx(1e-3 * 2.0**2 * (1 + 0.02 * 2.0), rel=0.05)  # saturation: k (Vgs - Vt)^2
    k.close()


def test_a_served_2636b_runs_the_same_lua_over_tcp() -> None:
    from labrun.sim_devices.server import ServedBench

    with ServedBench([{"address": ADDRESS, "model": "keithley2636b"}], port=0) as bench:
        k = open_tsp("@py", bench.instruments[0].address)
        k.write("smua.source.levelv = 1 smua.source.output = 1")
        assert float(k.query("print(smua.measure.i())")) == pytest.approx(1e-3, rel=1e-3)
        k.write("loadandrunscript\r\nprint(localnode.model)\r\nendscript")
        assert k.read() == "2636B"
        k.close()
        assert bench.instruments[0].status()["channels"][0]["output"] is True  # the state outlives the client


def test_a_fault_makes_the_tsp_twin_misbehave_like_the_others(k: MessageBasedResource) -> None:
    from labrun.sim_devices import Fault

    twin = twin_of(k)
    twin.set_fault(Fault("timeout", after=twin.answered))
    k.timeout = 100
    with pytest.raises(pyvisa.errors.VisaIOError):
        k.query("print(1)")
