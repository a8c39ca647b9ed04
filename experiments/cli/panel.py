"""``labrun panel [CONFIG_DIR]``: the browser control panel, served by uvicorn.

On 127.0.0.1 (the default) it needs no token, as only this machine can reach it; on any
other interface a token is made and printed in the address (as Jupyter does), and every
request must carry it. Ctrl-C or SIGTERM stops the server, and with it the running run:
ramped down, outputs off, data kept.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import pathlib
import secrets
import sys
from collections.abc import Iterator
from typing import Any

from labrun.experiments.engine import exits

EXIT_BAD_INPUT = 2


def add_command(sub: Any) -> None:
    panel = sub.add_parser(
        "panel",
        help="a control panel in the browser: start, watch and stop runs",
        description="Serve a web page to run the configs of CONFIG_DIR (default: the current directory).",
    )
    panel.add_argument("config_dir", nargs="?", default=".", help="where the experiment configs are")
    panel.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    panel.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0: any free one)")
    panel.add_argument("--data", default="data", help="directory for the runs' data files (default ./data)")
    panel.add_argument("--token", help="the token to require (default: made up when not on loopback)")
    panel.add_argument("--catalog", help="the run catalog (a URL; default $LABRUN_CATALOG, else the user's)")
    panel.set_defaults(handler=cmd_panel)


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_panel(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from labrun.experiments.panel import create_app
    except ImportError as missing:
        print(f"labrun: the panel needs {missing.name}: pip install 'labrun[panel]'", file=sys.stderr)
        return EXIT_BAD_INPUT
    config_dir = pathlib.Path(args.config_dir)
    if not config_dir.is_dir():
        print(f"labrun: {config_dir}: not a directory of configs", file=sys.stderr)
        return EXIT_BAD_INPUT
    token = args.token or (None if loopback(args.host) else secrets.token_urlsafe(24))
    app = create_app(config_dir, pathlib.Path(args.data), token=token, catalog=args.catalog)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", lifespan="on")
    server = _server_class(uvicorn.Server)(config)
    server.address = (args.host, token)
    server.run()
    print("labrun panel: stopped; runs stopped, outputs off", file=sys.stderr)
    return 128 + server.signal if server.signal else 0


def _server_class(base: type) -> type:
    """uvicorn's server, announcing its address once it listens, and taking Ctrl-C, SIGTERM
    and SIGHUP as "shut down gracefully" (the lifespan then stops the run) without
    re-raising the signal afterwards, so the command can say so and exit 128 + signal."""

    class PanelServer(base):  # type: ignore[misc]
        signal = 0
        address: tuple[str, str | None] = ("", None)

        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            listening = [s for server in getattr(self, "servers", []) for s in server.sockets]
            port = listening[0].getsockname()[1] if listening else self.config.port
            host, token = self.address
            host = f"[{host}]" if ":" in host else host
            print(f"labrun panel: http://{host}:{port}/{f'?token={token}' if token else ''}", flush=True)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            def handle(signum: int) -> None:
                self.signal = self.signal or signum
                self.handle_exit(signum, None)

            with exits.on_signals(handle):
                yield

    return PanelServer
