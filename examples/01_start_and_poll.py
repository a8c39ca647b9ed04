"""Start a sweep without blocking, and poll it while it runs.

`start()` returns at once; the sweep runs in a background thread. Your thread stays
free: poll `run.progress` and `run.data` (consistent snapshots, no locks) at your own pace.
"""

import time

import numpy as np

from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, start

with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
    sweep = IVSweep(smu, start=-1.0, stop=1.0, num_points=21, delay=0.02, compliance=0.01)
    run = start(sweep)  # returns at once
    print(f"started: running={run.running}")
    while run.running:
        p = run.progress
        latest = f"{p.latest['voltage']:+.3f} V" if p.latest else "-"
        print(f"  {p.state:8} {p.step:2}/{p.total}  latest {latest}  ({len(run.data['current'])} in data)")
        time.sleep(0.1)  # your poll interval; the sweep does not wait for it
    data = run.result()  # re-raises the sweep's error, if there was one
    print(f"finished: {run.progress.state}, {len(data['voltage'])} points")
    slope, _ = np.polyfit(data["current"], data["voltage"], 1)
    print(f"resistance from a straight-line fit: {slope:.0f} ohm")
