"""The browser panel over HTTP: every endpoint, bad input, traversal, tokens, and the
runs it starts, refuses, queues and stops (on in-process twins)."""

from __future__ import annotations

import json
import pathlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import yaml
from starlette.testclient import TestClient

from labrun.drivers import device_lock_for, open_sourcemeter
from labrun.experiments import IVSweep, Saving, load_data, start
from labrun.experiments.cli.main import main
from labrun.experiments.panel import create_app

from .support import snapshot_answers

K2400, B2901 = "GPIB0::24::INSTR", "GPIB0::23::INSTR"


def iv(model: str, address: str, *, points: int, delay: str) -> dict[str, Any]:
    return {
        "instrument": {"model": model, "address": address, "sim": True},
        "experiment": {
            "type": "iv_sweep",
            "start": "-1 V",
            "stop": "1 V",
            "num_points": points,
            "delay": delay,
            "compliance": "10 mA",
        },
    }


@pytest.fixture
def configs(tmp_path: pathlib.Path) -> pathlib.Path:
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "slow.yaml").write_text(yaml.safe_dump(iv("keithley2400", K2400, points=400, delay="20 ms")))
    (folder / "quick.yaml").write_text(yaml.safe_dump(iv("keithley2400", K2400, points=11, delay="0 s")))
    (folder / "other.yaml").write_text(yaml.safe_dump(iv("keysight_b2901", B2901, points=5, delay="0 s")))
    (folder / "notes.txt").write_text("not a config")
    (tmp_path / "secret.yaml").write_text("outside the config directory")
    return folder


@pytest.fixture
def client(configs: pathlib.Path) -> Iterator[TestClient]:
    app = create_app(configs, configs.parent / "data")
    with TestClient(app) as test_client:
        yield test_client


def wait_for(
    client: TestClient, job: int, *states: str, steps: int = 0, timeout: float = 20.0
) -> dict[str, Any]:
    """The job's summary once it is in one of ``states`` with at least ``steps`` points."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get("/api/state").json()
        for summary in [state["current"], *state["queue"], *state["finished"]]:
            if summary and summary["id"] == job and summary["state"] in states and summary["step"] >= steps:
                return dict(summary)
        time.sleep(0.02)
    raise AssertionError(f"job {job} never reached {states}: {client.get('/api/state').json()}")


def submit(client: TestClient, config: str, **values: str) -> httpx2.Response:
    return client.post("/api/jobs", json={"config": config, "values": values})


def test_the_page_its_script_and_plotly_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "labrun panel" in page.text and "/vendor/plotly.min.js" in page.text
    assert client.get("/static/panel.js").status_code == 200
    plotly = client.get("/vendor/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000


def test_the_state_lists_configs_and_the_station(client: TestClient) -> None:
    state = client.get("/api/state").json()
    assert state["configs"] == ["other", "quick", "slow"]  # *.yaml of the directory only
    station = {(i["model"], i["address"]): i for i in state["station"]}
    assert station["keithley2400", K2400]["busy"] is False
    assert station["keysight_b2901", B2901]["identity"] == "not opened yet"
    assert state["current"] is None and state["queue"] == [] and state["finished"] == []


def test_a_configs_parameters_are_its_experiment_section(client: TestClient) -> None:
    parameters = {p["key"]: p for p in client.get("/api/configs/quick").json()["parameters"]}
    assert parameters["experiment.stop"]["value"] == "1 V"
    assert parameters["experiment.num_points"]["value"] == "11"
    # every parameter of the experiment, read off its declaration: unit, default, help, choices
    assert parameters["experiment.poll_interval"]["value"] == "0.05 s"
    assert parameters["experiment.delay"]["unit"] == "s" and parameters["experiment.stop"]["unit"] == "V or A"
    assert parameters["experiment.sweep"]["choices"] == ["stepped", "hardware"]
    assert "settling time" in parameters["experiment.delay"]["help"]
    for name in ("secret", "..%2Fsecret", "notes", "%2e%2e", "quick.yaml"):
        assert client.get(f"/api/configs/{name}").status_code == 404, name


def test_check_says_what_labrun_check_says(
    client: TestClient, configs: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = client.post("/api/check", json={"config": "quick", "values": {"experiment.stop": "500 mV"}})
    assert good.status_code == 200 and any("to 0.5 V" in line for line in good.json()["plan"])
    bad = client.post("/api/check", json={"config": "quick", "values": {"experiment.stop": "500 V"}})
    assert bad.status_code == 400
    assert main(["check", str(configs / "quick.yaml"), "--set", "experiment.stop=500 V"]) == 2
    assert capsys.readouterr().err.strip() == f"labrun: {bad.json()['error']}"  # word for word
    units = client.post("/api/check", json={"config": "quick", "values": {"experiment.delay": "3 V"}})
    assert units.status_code == 400 and "experiment.delay" in units.json()["error"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"save.directory": "/tmp"}, "experiment.* keys only"),
        ({"instrument.address": "GPIB0::1::INSTR"}, "experiment.* keys only"),
        ({"experiment.type": "time_trace"}, "the experiment is the file's"),
        ({"experiment.stop": "1 V\nsave: {directory: /}"}, "one line"),
        ({"experiment.stop": 5}, "one line of text"),
    ],
)
def test_the_page_cannot_set_anything_but_the_experiment(
    client: TestClient, values: dict[str, Any], message: str
) -> None:
    refused = client.post("/api/jobs", json={"config": "quick", "values": values})
    assert refused.status_code == 400 and message in refused.json()["error"]
    assert client.get("/api/state").json()["queue"] == []


def test_bad_requests_get_clear_answers(client: TestClient) -> None:
    assert client.post("/api/jobs", content="config=quick").status_code == 415
    assert (
        client.post("/api/jobs", content="{", headers={"content-type": "application/json"}).status_code == 400
    )
    assert client.post("/api/jobs", json=["quick"]).status_code == 400
    assert client.post("/api/jobs", json={"config": "nowhere"}).status_code == 400
    assert client.post("/api/jobs", json={"config": "quick", "values": "x"}).status_code == 400
    assert client.post("/api/jobs/99/stop").status_code == 409
    assert client.delete("/api/queue/99").status_code == 409
    assert client.post("/api/queue/1/move", json={"position": "first"}).status_code == 400
    assert client.get("/api/jobs/99/events").status_code == 404
    cross = client.post("/api/jobs", json={"config": "quick"}, headers={"origin": "http://evil.example"})
    assert cross.status_code == 403  # a page elsewhere cannot start runs here


def test_a_run_saves_its_data_and_the_page_downloads_exactly_that_file(
    client: TestClient, configs: pathlib.Path
) -> None:
    job = submit(client, "quick", **{"experiment.num_points": "21"}).json()
    done = wait_for(client, job["id"], "completed")
    assert done["step"] == done["total"] == 21 and done["error"] == ""
    on_disk = configs.parent / "data" / done["data_file"]
    assert len(load_data(on_disk)["current"]) == 21
    download = client.get(f"/data/{done['data_file']}")
    assert download.status_code == 200 and download.content == on_disk.read_bytes()
    assert "attachment" in download.headers["content-disposition"]
    assert client.get(f"/data/{done['plot_file']}").content.startswith(b"\x89PNG")
    station = {i["address"]: i for i in client.get("/api/state").json()["station"]}
    assert station[K2400]["output"] == "off" and "MODEL 2400" in station[K2400]["identity"]


@pytest.mark.parametrize(
    "name",
    ["..%2F..%2Fconfigs%2Fquick.yaml", "%2e%2e", ".hidden.csv", "x.txt", "nothing.csv", "..%5Csecret.yaml"],
)
def test_data_is_served_from_the_data_directory_only(
    client: TestClient, configs: pathlib.Path, name: str
) -> None:
    (configs.parent / "data" / ".hidden.csv").write_text("hidden")
    (configs.parent / "data" / "x.txt").write_text("not data")
    assert client.get(f"/data/{name}").status_code == 404


def test_events_stream_every_point_then_the_end(client: TestClient) -> None:
    job = submit(client, "slow", **{"experiment.num_points": "30", "experiment.delay": "10 ms"}).json()
    points: list[list[float]] = []
    kinds = []
    with client.stream("GET", f"/api/jobs/{job['id']}/events") as stream:
        kind = ""
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
                kinds.append(kind)
            elif line.startswith("data: ") and kind == "points":
                points += json.loads(line.removeprefix("data: "))
    assert kinds[-1] == "end" and kinds.count("points") >= 2  # points as they came, not at the end
    assert [row[0] for row in points] == list(range(30))  # each point once, in order


def test_a_second_start_of_the_same_experiment_is_refused(client: TestClient) -> None:
    first = submit(client, "slow").json()
    wait_for(client, first["id"], "running")
    again = submit(client, "slow")
    assert again.status_code == 409 and "slow is already running" in again.json()["error"]
    client.post(f"/api/jobs/{first['id']}/stop")
    wait_for(client, first["id"], "stopped")


def test_an_instrument_held_elsewhere_is_refused_with_the_locks_message(client: TestClient) -> None:
    lock = device_lock_for(K2400, simulated=True)
    lock.acquire("a script in a notebook", blocking=False)
    try:
        refused = submit(client, "quick")
        assert refused.status_code == 409 and "in use by a script in a notebook" in refused.json()["error"]
        station = {i["address"]: i for i in client.get("/api/state").json()["station"]}
        assert station[K2400]["busy"] and station[K2400]["holder"] == "a script in a notebook"
    finally:
        lock.release()
    assert client.get("/api/state").json()["queue"] == []


def test_the_queue_runs_in_order_and_can_be_reordered_and_trimmed(client: TestClient) -> None:
    slow = submit(client, "slow").json()
    wait_for(client, slow["id"], "running")
    quick = submit(client, "quick").json()  # the same instrument as slow: it waits its turn
    other = submit(client, "other").json()
    queue = client.get("/api/state").json()["queue"]
    assert [j["id"] for j in queue] == [quick["id"], other["id"]]
    assert client.post(f"/api/queue/{other['id']}/move", json={"position": 0}).status_code == 200
    assert [j["id"] for j in client.get("/api/state").json()["queue"]] == [other["id"], quick["id"]]
    assert client.delete(f"/api/queue/{quick['id']}").status_code == 200
    client.post(f"/api/jobs/{slow['id']}/stop")
    assert wait_for(client, other["id"], "completed")["step"] == 5
    assert wait_for(client, quick["id"], "removed")["step"] == 0  # never run


def test_stop_ends_the_run_at_once_and_the_output_is_reported_off(client: TestClient) -> None:
    job = submit(client, "slow").json()
    running = wait_for(client, job["id"], "running")
    assert running["total"] == 400
    station = {i["address"]: i for i in client.get("/api/state").json()["station"]}
    assert station[K2400]["busy"] and station[K2400]["holder"].startswith("iv_sweep (run started")
    asked = time.monotonic()
    assert client.post(f"/api/jobs/{job['id']}/stop").status_code == 200
    stopped = wait_for(client, job["id"], "stopped")
    assert time.monotonic() - asked < 2.0 and stopped["step"] < 400
    station = {i["address"]: i for i in client.get("/api/state").json()["station"]}
    assert station[K2400]["output"] == "off" and not station[K2400]["busy"]


def test_stopping_the_server_stops_the_run_safely(configs: pathlib.Path) -> None:
    app = create_app(configs, configs.parent / "data")
    with TestClient(app) as test_client:
        job = submit(test_client, "slow").json()
        wait_for(test_client, job["id"], "running", steps=3)
        jobs = app.state.jobs
    (finished,) = jobs.finished
    assert finished.state == "stopped" and finished.run is not None and not finished.run.running
    assert "shutting down" in finished.run.stop_reason
    assert finished.data_file and len(load_data(configs.parent / "data" / finished.data_file)["current"]) > 0
    assert jobs.instruments[(K2400, 1)].output == "off"


def test_a_token_guards_every_request(configs: pathlib.Path) -> None:
    app = create_app(configs, configs.parent / "data", token="s3cret-token")
    with TestClient(app) as test_client:
        assert test_client.get("/").status_code == 403
        assert test_client.get("/api/state").status_code == 403
        assert test_client.get("/api/state?token=wrong").status_code == 403
        assert test_client.post("/api/jobs", json={"config": "quick"}).status_code == 403
        assert (
            test_client.get("/api/state", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
        )
        first = test_client.get("/?token=s3cret-token")
        assert first.status_code == 200 and "HttpOnly" in first.headers["set-cookie"]
        assert test_client.get("/api/state").status_code == 200  # the cookie carries it on


def test_labrun_panel_on_another_interface_prints_a_token_and_needs_it(configs: pathlib.Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "labrun.experiments.cli", "panel", str(configs),
         "--host", "0.0.0.0", "--port", "0", "--data", str(configs.parent / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://0\.0\.0\.0:(\d+)/\?token=([\w-]{20,})", line)
        assert found, line
        base = f"http://127.0.0.1:{found[1]}"
        assert httpx2.get(f"{base}/api/state").status_code == 403
        assert httpx2.get(f"{base}/api/state", params={"token": found[2]}).status_code == 200
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
        assert process.returncode == 130 and "stopped; runs stopped, outputs off" in err
    finally:
        process.kill()


def test_labrun_panel_refuses_a_missing_config_directory(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["panel", str(tmp_path / "nowhere")]) == 2
    assert "not a directory of configs" in capsys.readouterr().err


def test_an_instrument_error_is_shown_in_words_and_the_data_so_far_kept(configs: pathlib.Path) -> None:
    failing = iv("keithley2400", K2400, points=50, delay="0 s")
    after = 30 + snapshot_answers("keithley2400")  # the run reads its instrument back first
    failing["instrument"].update(
        {"timeout": "0.2 s", "fault": {"kind": "error", "after": after, "code": -363}}
    )
    (configs / "failing.yaml").write_text(yaml.safe_dump(failing))
    app = create_app(configs, configs.parent / "data")
    with TestClient(app) as test_client:
        job = submit(test_client, "failing").json()
        failed = wait_for(test_client, job["id"], "failed")
        assert "-363" in failed["error"] and "failed at step" in failed["error"]  # the instrument's words
        kept = load_data(configs.parent / "data" / failed["data_file"])
        assert 0 < len(kept["current"]) == failed["step"] < 50
        station = {i["address"]: i for i in test_client.get("/api/state").json()["station"]}
        assert station[K2400]["output"] == "off"  # turned off despite the failure


def test_past_runs_are_listed_from_the_catalog_and_one_opens_with_its_data(
    configs: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    app = create_app(configs, configs.parent / "data", catalog=url)
    with TestClient(app) as test_client:
        job = submit(test_client, "quick").json()
        done = wait_for(test_client, job["id"], "completed")
        listed = test_client.get("/api/runs").json()["runs"]
        assert [(r["run_id"], r["status"], r["points"]) for r in listed] == [
            (done["run_id"], "completed", 11)
        ]
        assert listed[0]["short_id"] == done["run_id"][:8] and "keithley2400" in listed[0]["instrument"]
        opened = test_client.get(f"/api/runs/{listed[0]['short_id']}").json()
        assert opened["status"] == "completed" and opened["plot_axes"] == ["voltage", "current"]
        assert len(opened["rows"]) == 11 and opened["columns"][:3] == ["step", "source", "voltage"]
        assert opened["data_file"] == done["data_file"] and opened["plot_file"] == done["plot_file"]
        assert opened["instruments"][0]["role"] == "instrument"
        assert test_client.get("/api/runs?status=failed").json()["runs"] == []
        assert test_client.get("/api/runs/ffffffff").status_code == 404
    # a run whose data file lies elsewhere is listed, but its file is not served
    with open_sourcemeter("keithley2400", K2400, sim=True) as smu:
        start(
            IVSweep(smu, start=0, stop=1, num_points=3, compliance=0.01, save=Saving(str(tmp_path))),
            catalog=url,
        ).result(10)
    with TestClient(create_app(configs, configs.parent / "data", catalog=url)) as test_client:
        newest = test_client.get("/api/runs").json()["runs"][0]
        assert (
            newest["data_file"] == ""
            and test_client.get(f"/api/runs/{newest['run_id']}").json()["rows"] == []
        )
