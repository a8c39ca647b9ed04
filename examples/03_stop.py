"""Stop a run at any moment, even in the middle of a long delay between points.

The wait before each reading is an interruptible wait, so `stop()` takes effect at
once instead of after the delay. The output is ramped down and turned off, and every
point measured before the stop is kept (in `run.data` and in the data file).
"""

import tempfile
import time

from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, Saving, load_data, start

folder = tempfile.mkdtemp(prefix="labrun-example-")
with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
    # a 10 s settling delay before each reading, stopped while it waits
    slow = start(IVSweep(smu, start=0.0, stop=1.0, num_points=11, delay=10.0, compliance=0.01))
    time.sleep(0.2)
    t = time.perf_counter()
    slow.stop()
    slow.wait()
    print(f"stopped {1e3 * (time.perf_counter() - t):.1f} ms after stop(), though the delay is 10 s")

    # stopped after a few points: they are all kept, and the output is off
    sweep = IVSweep(
        smu, start=0.0, stop=1.0, num_points=100, delay=0.02, compliance=0.01, save=Saving(folder)
    )
    run = start(sweep)
    while run.progress.step < 5:
        time.sleep(0.005)
    run.stop()
    run.wait()
    print(f"state: {run.progress.state}; output on: {smu.is_output_on()}")
    saved = load_data(sweep.data_file.path)
    kept, in_file = len(run.data["voltage"]), len(saved.columns["voltage"])
    print(f"points kept: {kept} in memory, {in_file} in {sweep.data_file.path.name}")
