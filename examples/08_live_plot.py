"""Watch an IV curve grow while the sweep runs.

`follow(run, live=True)` refreshes a matplotlib window every `interval` seconds from
the run's published data (the sweep never waits for the plot) and ends showing the
final state. Without a screen (no display, or MPLBACKEND=Agg) there is no window, and
the final picture is saved as a PNG instead. In a notebook use `watch(run)`.
"""

import pathlib
import tempfile

from labrun.drivers import open_sourcemeter
from labrun.experiments import IVSweep, start
from labrun.experiments.views.live import LivePlot, follow, has_screen

with open_sourcemeter("keithley2450", "GPIB0::18::INSTR", sim=True) as smu:
    sweep = IVSweep(smu, start=-1.0, stop=1.0, num_points=41, delay=0.02, compliance=0.01)
    run = start(sweep)
    live: LivePlot = follow(run, interval=0.1, live=True)
    p = run.progress
    print(f"plotted {live.shown} of {p.total} points in {live.updates} refreshes; {p.state}")
    if has_screen(live.figure):
        import matplotlib.pyplot as plt

        plt.show()  # keep the window until you close it
    else:
        png = pathlib.Path(tempfile.mkdtemp(prefix="labrun-example-")) / "live_iv.png"
        png.write_bytes(live.png())
        print(f"no screen: final picture saved to {png}")
