"""A queue of sweeps, run one after another on one background worker."""

from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, Worker

with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
    worker = Worker()
    runs = [
        worker.submit(IVSweep(smu, start=0.0, stop=top, num_points=6, delay=0.01, compliance=0.01))
        for top in (0.5, 1.0, 1.5, 2.0)
    ]
    print(f"queued behind the first: {len(worker.queued)}")
    for run in runs:
        data = run.result()
        print(f"  sweep to {data['voltage'][-1]:.2f} V: {run.progress.state}, {len(data['voltage'])} points")
    worker.stop()
    print(f"worker stopped; still queued: {len(worker.queued)}")
