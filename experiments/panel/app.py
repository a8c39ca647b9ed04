"""The panel's web app: a page, a small JSON API, and server-sent events per run.

Why Starlette and server-sent events: the page needs one stream per run (points as they
come) and a handful of requests; SSE is plain HTTP (one long GET, reconnects on its
own), so no websocket protocol is needed, and Starlette is the small, well-kept ASGI
toolkit under FastAPI, served by uvicorn. The plot is Plotly.js, served from the
installed ``plotly`` package (no network needed). Runs live in the engine's threads,
never in the web server's event loop: a slow page cannot slow a measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import pathlib
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from labrun.experiments.config import ConfigError, StationConfig, plan
from labrun.experiments.config.plan import station_plan

from . import control, history
from .forms import config_names, parameters
from .job import Job
from .jobs import Jobs, Refused
from .web import json_body, json_number

STATIC = pathlib.Path(__file__).parent / "static"
#: seconds between looks at a run's table for new points (the page sees a point within this)
EVENT_INTERVAL = 0.1
COOKIE = "labrun_token"


def plotly_script() -> pathlib.Path:
    """Plotly.js as the installed ``plotly`` package ships it."""
    import plotly

    return pathlib.Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


class TokenCheck:
    """Every request carries the token (``?token=``, then a cookie, or ``Authorization:
    Bearer``), and a request that changes something comes from the page's own origin."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if request.method not in ("GET", "HEAD") and not self._same_origin(request):
            await PlainTextResponse("cross-origin request refused", status_code=403)(scope, receive, send)
            return
        if self.token is None:
            await self.app(scope, receive, send)
            return
        given = request.query_params.get("token")
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        for candidate in (given, request.cookies.get(COOKIE), bearer):
            if candidate and hmac.compare_digest(candidate.encode(), self.token.encode()):
                break
        else:
            await PlainTextResponse("a token is needed: open the address labrun panel printed", 403)(
                scope, receive, send
            )
            return
        if given:  # remember it, so the page's own requests need not repeat it

            async def with_cookie(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    cookie = f"{COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                    headers.append((b"set-cookie", cookie.encode()))
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, with_cookie)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:  # not a browser's cross-site request (curl, the tests)
            return True
        host = request.headers.get("host", "")
        return origin.split("://", 1)[-1] == host


def create_app(
    config_dir: pathlib.Path, data_dir: pathlib.Path, *, token: str | None = None, catalog: str | None = None
) -> Starlette:
    """The panel for the configs in ``config_dir``, saving and serving data in ``data_dir``;
    its runs are kept in ``catalog`` (a URL; None: ``$LABRUN_CATALOG`` or the default)."""
    config_dir, data_dir = config_dir.resolve(), data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    jobs: Jobs | None = None

    def the_jobs() -> Jobs:
        assert jobs is not None, "the panel's jobs start with the app"
        return jobs

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal jobs
        jobs = Jobs(config_dir, data_dir, catalog=catalog)
        app.state.jobs = jobs
        configs = []
        for name in config_names(config_dir):
            with contextlib.suppress(ConfigError):
                configs.append(jobs.check(name, {}))
        jobs.note_configs(configs)
        try:
            yield
        finally:  # stopping the server stops the run: ramped down, outputs off, data kept
            await asyncio.to_thread(jobs.close)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def plotly_js(request: Request) -> Response:
        return FileResponse(plotly_script(), media_type="text/javascript")

    async def state(request: Request) -> Response:
        j = the_jobs()
        return JSONResponse(
            {
                "configs": config_names(config_dir),
                "station": j.station(),
                "current": j.current.summary() if j.current is not None else None,
                "queue": [job.summary() for job in j.queue],
                "finished": [job.summary() for job in reversed(j.finished[-50:])],
            }
        )

    async def config(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            return JSONResponse({"name": name, "parameters": parameters(config_dir, name)})
        except ConfigError as error:
            return JSONResponse({"error": str(error)}, status_code=404)

    async def check(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        try:
            parsed = the_jobs().check(str(body.get("config", "")), _values(body))
        except ConfigError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        lines = station_plan(parsed) if isinstance(parsed, StationConfig) else plan(parsed)
        return JSONResponse({"ok": True, "plan": lines})

    async def submit(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        try:
            job = the_jobs().submit(str(body.get("config", "")), _values(body))
        except ConfigError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except Refused as refused:
            return JSONResponse({"error": str(refused)}, status_code=409)
        return JSONResponse(job.summary(), status_code=201)

    async def events(request: Request) -> Response:
        try:
            job = the_jobs().job(int(request.path_params["id"]))
        except KeyError:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return StreamingResponse(
            _events(request, job),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def data(request: Request) -> Response:
        name = request.path_params["name"]
        path = (data_dir / name).resolve()
        if "/" in name or "\\" in name or name.startswith(".") or not path.is_relative_to(data_dir):
            return JSONResponse({"error": "not a data file"}, status_code=404)
        if not path.is_file() or path.suffix not in (".csv", ".png"):
            return JSONResponse({"error": "not a data file"}, status_code=404)
        return FileResponse(path, filename=path.name if path.suffix == ".csv" else None)

    routes = [
        Route("/", index),
        Route("/vendor/plotly.min.js", plotly_js),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        Route("/api/state", state),
        Route("/api/configs/{name}", config),
        Route("/api/check", check, methods=["POST"]),
        Route("/api/jobs", submit, methods=["POST"]),
        Route("/api/jobs/{id:int}/events", events),
        Route("/data/{name}", data),
        *control.routes(the_jobs),
        *history.routes(data_dir, catalog),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(TokenCheck, token=token)])


def _values(body: dict[str, Any]) -> dict[str, str]:
    values = body.get("values", {})
    if not isinstance(values, dict):
        raise ConfigError("values: an object of key: text")
    return {str(k): v for k, v in values.items()}


async def _events(request: Request, job: Job) -> AsyncIterator[str]:
    """``points`` (new rows), ``progress`` (state, step, time left) and ``end`` events of one
    job, from its first point; the page may connect at any time and gets everything."""
    seen, last = 0, None
    while True:
        if await request.is_disconnected():
            return  # the tab closed: the run goes on
        run = job.run
        ended = job.state in ("completed", "stopped", "failed", "removed")
        summary = job.summary()  # first: it names the columns of the points that follow
        if summary != last:
            yield _event("progress", summary)
            last = summary
        if run is not None:
            rows, seen = run.table.since(seen)
            if len(rows):
                yield _event("points", [[json_number(v) for v in row] for row in rows.tolist()])
        if ended:
            yield _event("end", summary)
            return
        await asyncio.sleep(EVENT_INTERVAL)


def _event(kind: str, payload: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(payload)}\n\n"
