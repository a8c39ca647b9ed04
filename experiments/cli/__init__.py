"""The ``labrun`` command: run and check configs, serve twins, analyse data files."""

from .main import main

__all__ = ["main"]
