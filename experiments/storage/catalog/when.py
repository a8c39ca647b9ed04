"""``--since``: a date, a time, or an age ("2d", "3h", "30m", "1w")."""

from __future__ import annotations

import datetime as dt
import re

AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def since_epoch(since: dt.datetime | dt.date | str | float, now: float | None = None) -> float:
    """Seconds since the epoch of ``since``: an age ("2d" two days ago, "3h", "30m",
    "45s", "1w"), an ISO date or time ("2026-12-01", "2026-12-01T14:00", local unless it
    has an offset), a date or datetime, or epoch seconds."""
    if isinstance(since, int | float):
        return float(since)
    if isinstance(since, str):
        if match := AGE.fullmatch(since):
            base = dt.datetime.now().timestamp() if now is None else now
            return base - float(match[1]) * SECONDS[match[2]]
        try:
            since = dt.datetime.fromisoformat(since.strip())
        except ValueError:
            raise ValueError(
                f"since: {since!r} is neither an age (2d, 3h, 30m, 1w) "
                "nor a date (2026-12-01, 2026-12-01T14:00)"
            ) from None
    if not isinstance(since, dt.datetime):  # a date: from its midnight, local time
        since = dt.datetime.combine(since, dt.time())
    return (since if since.tzinfo else since.astimezone()).timestamp()
