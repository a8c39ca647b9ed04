"""One experiment runs once at a time: a second start is refused where it is attempted."""

from labrun.drivers import open_sourcemeter
from labrun.experiments import AlreadyRunning, IVSweep, start

with open_sourcemeter("keithley2400", "GPIB0::24::INSTR", sim=True) as smu:
    sweep = IVSweep(smu, start=0.0, stop=1.0, num_points=11, delay=0.05, compliance=0.01)
    run = start(sweep)
    try:
        start(sweep)  # the running flag is taken: refused at once, the first run goes on
    except AlreadyRunning as error:
        print(f"second start refused: {error}")
    run.result()
    print(f"first run: {run.progress.state}, {run.progress.step} points")
    again = start(sweep)  # once it has ended, the same experiment may run again
    again.result()
    print(f"run again: {again.progress.state}, {again.progress.step} points")
