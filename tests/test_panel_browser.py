"""The panel in a real browser: Playwright drives the system's Chromium (installed from the
operating system's packages by ``.ci/run``; Playwright's own browser download is not
reachable here) against ``labrun panel`` started as a user starts it."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: as the machine's notes advise: no background traffic to hosts this network cannot reach
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SLOW = {
    "instrument": {"model": "keithley2400", "address": "GPIB0::24::INSTR", "sim": True},
    "experiment": {
        "type": "iv_sweep",
        "start": "-1 V",
        "stop": "1 V",
        "num_points": 300,
        "delay": "20 ms",
        "compliance": "10 mA",
    },
}


@pytest.fixture
def panel(tmp_path: pathlib.Path) -> Iterator[tuple[str, pathlib.Path]]:
    """``labrun panel`` on a free port: (its address, its data directory)."""
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "iv_slow.yaml").write_text(yaml.safe_dump(SLOW))
    data = tmp_path / "data"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "labrun.experiments.cli",
            "panel",
            str(configs),
            "--port",
            "0",
            "--data",
            str(data),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LABRUN_CATALOG": f"sqlite:///{tmp_path / 'catalog.sqlite'}"},  # its runs alone
    )
    try:
        assert process.stdout is not None
        found = re.search(r"(http://127\.0\.0\.1:\d+/)", process.stdout.readline())
        assert found, process.stderr.read() if process.stderr else ""
        yield found[1], data
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    finally:
        process.kill()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def points_in_plot(page: Page) -> int:
    return int(
        page.evaluate("(document.getElementById('plot').data || []).reduce((n, t) => n + t.x.length, 0)")
    )


def test_start_watch_stop_and_download_in_the_browser(
    panel: tuple[str, pathlib.Path], browser: Browser, tmp_path: pathlib.Path
) -> None:
    address, data = panel
    page = browser.new_page(accept_downloads=True)
    page.goto(address)
    expect(page.locator("#config")).to_have_value("iv_slow")
    expect(page.locator("#form input[name='experiment.num_points']")).to_have_value("300")
    station = page.locator("#station tbody tr").first
    expect(station).to_contain_text("keithley2400 at GPIB0::24::INSTR")

    page.fill("#form input[name='experiment.stop']", "500 V")  # refused before anything starts
    page.click("#start")
    expect(page.locator("#message")).to_contain_text("refused: ")
    expect(page.locator("#message")).to_contain_text("experiment.stop")
    page.fill("#form input[name='experiment.stop']", "800 mV")  # units accepted

    page.click("#start")
    expect(page.locator("#run-state")).to_have_text("running")
    page.wait_for_function(
        "document.getElementById('plot').data && document.getElementById('plot').data.length"
    )
    page.wait_for_function(
        "document.getElementById('plot').data.reduce((n, t) => n + t.x.length, 0) >= 5", timeout=5000
    )  # points arrive while it runs
    expect(station).to_contain_text("iv_sweep (run started")  # busy, and by which run
    page.click("#start")  # a second start of the same experiment
    expect(page.locator("#message")).to_contain_text("iv_slow is already running")

    page.click("#stop")
    expect(page.locator("#run-state")).to_have_text("stopped")
    expect(page.locator("#message")).to_contain_text("outputs ramped down and off")
    expect(station.locator("td").nth(2)).to_have_text("off")  # read back from the instrument
    expect(station.locator("td").nth(3)).to_have_text("free")
    shown = points_in_plot(page)
    assert 5 <= shown < 300

    link = page.locator("#finished a.download").first
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "downloaded.csv"
    download.value.save_as(saved)
    (on_disk,) = data.glob("*.csv")
    assert saved.read_bytes() == on_disk.read_bytes()
    rows = [line for line in on_disk.read_text().splitlines() if line and line[0].isdigit()]
    assert len(rows) == shown  # every point kept was drawn, none twice
    step = float(rows[1].split(",")[1]) - float(rows[0].split(",")[1])
    assert step == pytest.approx(1.8 / 299)  # from -1 V to the page's 800 mV in 300 points

    past = page.locator("#runs tbody tr.past-run").first  # the catalog's list: this run, stopped
    expect(past).to_contain_text("iv_sweep")
    expect(past.locator("td.state")).to_have_text("stopped")
    page.reload()  # a fresh page: nothing running, the plot empty
    page.locator("#runs tbody tr.past-run").first.click()
    expect(page.locator("#run-state")).to_contain_text("stopped by the panel's Stop button")
    page.wait_for_function(
        f"document.getElementById('plot').data.reduce((n, t) => n + t.x.length, 0) == {shown}"
    )


def test_closing_the_tab_does_not_stop_the_run(panel: tuple[str, pathlib.Path], browser: Browser) -> None:
    address, _ = panel
    page = browser.new_page()
    page.goto(address)
    page.click("#start")
    expect(page.locator("#run-state")).to_have_text("running")
    page.close()
    again = browser.new_page()
    again.goto(address)
    expect(again.locator("#run-state")).to_have_text("running")  # still measuring
    again.wait_for_function(
        "document.getElementById('plot').data.reduce((n, t) => n + t.x.length, 0) >= 10", timeout=5000
    )  # a new tab gets every point from the first
    again.click("#stop")
    expect(again.locator("#run-state")).to_have_text("stopped")
