"""The panel's hands on its jobs: stop, pause and resume the running one; reorder and trim
the queue. Each answers in words when it is refused (a job not running, a hardware sweep
that cannot pause)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from labrun.drivers import LabrunError

from .jobs import Jobs, Refused
from .web import json_body


def routes(jobs: Callable[[], Jobs]) -> list[Route]:
    """``/api/jobs/ID/stop|pause|resume`` and ``/api/queue/ID[/move]``."""

    async def stop(request: Request) -> Response:
        return _answer(lambda: jobs().stop(int(request.path_params["id"])))

    async def move(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        position = body.get("position")
        if not isinstance(position, int) or isinstance(position, bool):
            return JSONResponse({"error": "position: a whole number"}, status_code=400)
        return _answer(lambda: jobs().move(int(request.path_params["id"]), position))

    async def remove(request: Request) -> Response:
        return _answer(lambda: jobs().remove(int(request.path_params["id"])))

    async def pause(request: Request) -> Response:
        return _answer(lambda: jobs().pause(int(request.path_params["id"])))

    async def resume(request: Request) -> Response:
        return _answer(lambda: jobs().resume(int(request.path_params["id"])))

    return [
        Route("/api/jobs/{id:int}/stop", stop, methods=["POST"]),
        Route("/api/jobs/{id:int}/pause", pause, methods=["POST"]),
        Route("/api/jobs/{id:int}/resume", resume, methods=["POST"]),
        Route("/api/queue/{id:int}/move", move, methods=["POST"]),
        Route("/api/queue/{id:int}", remove, methods=["DELETE"]),
    ]


def _answer(action: Callable[[], Any]) -> Response:
    try:
        action()
    except (Refused, LabrunError) as refused:
        return JSONResponse({"error": str(refused)}, status_code=409)
    return JSONResponse({"ok": True})
