"""The browser panel: how long a measured point takes to reach the page's plot.

``labrun panel`` is started as a user starts it, a sweep is started from the page in the
system's Chromium (Playwright), and the page records, for every point it draws, the time
since the point's timestamp (same machine, same clock). The issue's bound is 0.5 s.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile

import yaml

from .result import Result

BOUND = 0.5  # s: "the live plot updates within 0.5 s of a point"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]  # fmt: skip


def panel_latency(quick: bool) -> list[Result]:
    from playwright.sync_api import sync_playwright

    points = 40 if quick else 200
    config = {
        "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
        "experiment": {"type": "iv_sweep", "start": "0 V", "stop": "1 V", "num_points": points,
                       "delay": "10 ms", "compliance": "10 mA"},
        "save": {"plot": False},
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        root = pathlib.Path(folder)
        (root / "configs").mkdir()
        (root / "configs" / "sweep.yaml").write_text(yaml.safe_dump(config))
        server = subprocess.Popen(
            [sys.executable, "-m", "labrun.experiments.cli", "panel", str(root / "configs"), "--port", "0",
             "--data", str(root / "data")],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            found = re.search(r"(http://\S+)", server.stdout.readline())
            assert found, "labrun panel did not start"
            with sync_playwright() as playwright:
                chromium = shutil.which("chromium") or "/usr/bin/chromium"
                browser = playwright.chromium.launch(executable_path=chromium, args=FLAGS)
                page = browser.new_page()
                page.goto(found[1])
                page.click("#start")
                page.wait_for_function(f"window.labrunLag.length >= {points}", timeout=60_000)
                lags = sorted(page.evaluate("window.labrunLag"))
                browser.close()
        finally:
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=20)
    median, worst = statistics.median(lags), lags[-1]
    return [
        Result("panel: point to page plot (median)", median * 1e3, BOUND * 1e3, "ms", "the 0.5 s bound",
               "≤ 1×", median <= BOUND, f"{len(lags)} points, 10 ms apart"),
        Result("panel: point to page plot (slowest)", worst * 1e3, BOUND * 1e3, "ms", "the 0.5 s bound",
               "≤ 1×", worst <= BOUND, "server polls every 0.1 s; SSE; Plotly.extendTraces"),
    ]  # fmt: skip


CASES = {"panel": panel_latency}
