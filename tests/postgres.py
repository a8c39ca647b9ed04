"""A PostgreSQL server for the tests: ``$LABRUN_TEST_POSTGRES`` if set, else one started
here for the session (``initdb`` and ``pg_ctl`` on a temporary directory and a free port,
as the ``postgres`` user when the tests run as root: PostgreSQL refuses to run as root)."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile

#: a server this suite may use instead of starting one (a SQLAlchemy URL, no database
#: name needed: the tests make a schema of their own in it and drop it after)
ENVIRONMENT = "LABRUN_TEST_POSTGRES"
SERVER_USER = "postgres"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One server in a directory of its own; :meth:`stop` ends it and removes the directory."""

    def __init__(self) -> None:
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="labrun-pg-"))  # in /tmp: postgres reaches it
        self.port = 0
        try:
            if self.as_root:
                shutil.chown(self.directory, SERVER_USER, SERVER_USER)
            self._run(
                "initdb",
                "-D",
                str(self.directory),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            )
            self._start()
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise

    def _run(self, *command: str) -> None:
        full = ["runuser", "-u", SERVER_USER, "--", *command] if self.as_root else list(command)
        done = subprocess.run(full, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode:
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )

    def _start(self) -> None:
        """On a free port; another one if someone took it between the probe and the start."""
        failure: RuntimeError | None = None
        for _ in range(5):
            self.port = _free_port()
            options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
            log = self.directory / "server.log"
            try:
                self._run("pg_ctl", "-D", str(self.directory), "-o", options, "-l", str(log), "-w", "start")
                return
            except RuntimeError as error:
                failure = error
        raise failure or RuntimeError("pg_ctl start failed")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.directory), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def in_schema(url: str, schema: str) -> str:
    """``url`` with its connections' search path set to ``schema`` (psycopg's options)."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
