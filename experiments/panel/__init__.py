"""``labrun panel``: start, watch and stop runs from a browser, while they run in the
engine's threads (see ``app.py`` for the web side, ``jobs.py`` for the queue)."""

from .app import create_app

__all__ = ["create_app"]
