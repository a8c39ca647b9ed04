"""Open a source-meter by model name, so configs and scripts can name instruments."""

from __future__ import annotations

from typing import Literal

from .errors import InstrumentTimeout, WrongInstrument
from .registry import MODELS, model_answering
from .sourcemeter import SourceMeter
from .visa import backend_for, open_resource

Termination = Literal["LF", "CR", "CRLF"]
#: message terminations an instrument can be set to, by the names its menus give them
TERMINATIONS: dict[Termination, str] = {"LF": "\n", "CR": "\r", "CRLF": "\r\n"}


def open_sourcemeter(
    model: str,
    address: str,
    *,
    sim: bool | str = False,
    backend: str = "",
    timeout: float = 5.0,
    reset: bool = False,
    termination: str = "\n",
    baud_rate: int | None = None,
    force_model: bool = False,
    keep_output: bool = False,
) -> SourceMeter:
    """A connected driver for ``model`` at ``address``.

    ``sim=True`` talks to the simulated bench (``@labrun``), ``sim="bench.yaml"`` to a
    bench of your own; otherwise ``backend`` picks the VISA library (``"@ivi"``,
    ``"@py"``, or "" for pyvisa's default). ``reset=True`` sends ``*RST`` first.
    ``termination`` ends messages both ways and must match the instrument's setting
    (``"\n"``: GPIB, USB, LAN; a 2400 on RS-232 is often set to ``"\r"``);
    ``baud_rate`` is for serial addresses. An instrument that is another model is
    refused (:class:`WrongInstrument`) unless ``force_model=True``. At interpreter exit
    an open driver is shut down (ramped down, output off) unless ``keep_output=True``.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known models: {', '.join(sorted(MODELS))}")
    if termination not in TERMINATIONS.values():
        allowed = ", ".join(map(repr, TERMINATIONS.values()))
        raise ValueError(f"termination {termination!r}; allowed: {allowed}")
    cls = MODELS[model]
    resource = open_resource(address, backend_for(sim, backend), baud_rate=baud_rate)
    instrument = cls.instrument_class(
        resource, name=f"{model} at {address}", timeout=timeout, termination=termination
    )
    driver = cls(instrument)
    driver.keep_output = keep_output
    try:
        try:
            driver.check_identity(force_model=force_model)
        except WrongInstrument as error:
            if (found := model_answering(error.identity)) is not None:  # the model found, by name
                error.add_note(f"that is a {found.name}: model {found.name!r} (YAML: instrument.model)")
            raise
        except InstrumentTimeout as error:
            serial = f" and baud rate {baud_rate}" if baud_rate is not None else ""
            error.add_note(f"no answer to *IDN?: is it on, and set to termination {termination!r}{serial}?")
            raise
        if reset:
            driver.reset()
        else:
            driver.configure()
            driver.sync()
    except BaseException:
        driver.close()
        raise
    return driver
