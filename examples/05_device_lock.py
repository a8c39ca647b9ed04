"""Two sweeps, one instrument: the second waits for the first, never interleaves.

Each experiment holds its instrument's device lock for its whole run. The lock belongs
to the instrument's address, not to a driver object: a second driver on the same address
(a notebook cell run twice) shares it. On one instrument the second run waits its turn
(or, with `blocking=False`, is refused at once with DeviceBusy naming the holder); on two
instruments two runs go in parallel.
"""

import time

from labrun.drivers import open_sourcemeter
from labrun.experiments import DeviceBusy, IVSweep, start


def sweep(smu, top):
    return IVSweep(smu, start=0.0, stop=top, num_points=10, delay=0.02, compliance=0.01)


with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
    first, second = start(sweep(smu, 1.0)), start(sweep(smu, 2.0))
    while first.running:
        if second.progress.state == "claiming":
            print(f"second run is waiting while the first is at step {first.progress.step}")
            break
        time.sleep(0.005)
    again = open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True)  # the cell, run twice
    try:
        start(sweep(again, 0.5), blocking=False)
    except DeviceBusy as error:
        print(f"third run, on a second driver object, blocking=False: refused: {error}")
    again.close()
    first.result(), second.result()
    f, s = first.progress, second.progress
    print(f"one after another: second started {s.started - f.finished:+.3f} s after the first finished")

with (
    open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as a,
    open_sourcemeter("keithley2450", "GPIB0::18::INSTR", sim=True) as b,
):
    t = time.perf_counter()
    start(sweep(a, 1.0)).result()
    alone = time.perf_counter() - t
    t = time.perf_counter()
    runs = [start(sweep(a, 1.0)), start(sweep(b, 1.0))]
    for run in runs:
        run.result()
    both = time.perf_counter() - t
    print(f"two instruments: one sweep alone {alone:.2f} s, two at once {both:.2f} s (in parallel)")
