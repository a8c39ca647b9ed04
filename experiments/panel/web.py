"""What the panel's request handlers share: a request's JSON body, read or refused in words,
and numbers as JSON takes them."""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


async def json_body(request: Request) -> dict[str, Any] | Response:
    """The request's JSON object, or the response refusing it."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return JSONResponse({"error": "send JSON (content-type: application/json)"}, status_code=415)
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "not valid JSON"}, status_code=400)
    if not isinstance(body, dict):
        return JSONResponse({"error": "expected a JSON object"}, status_code=400)
    return body


def json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no NaN
