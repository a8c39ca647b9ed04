"""Open a source-meter by model name, so configs and scripts can name instruments."""

from __future__ import annotations

from .instrument import Instrument
from .keithley2400 import Keithley2400
from .keithley2450 import Keithley2450
from .keysight_b2900 import KeysightB2901
from .sourcemeter import SourceMeter
from .visa import backend_for, open_resource

MODELS: dict[str, type[SourceMeter]] = {
    "keithley2400": Keithley2400,
    "keithley2450": Keithley2450,
    "keysight_b2901": KeysightB2901,
    "keysight_b2902": KeysightB2901,  # channel 1 of the two-channel model
}


def open_sourcemeter(
    model: str,
    address: str,
    *,
    sim: bool | str = False,
    backend: str = "",
    timeout: float = 5.0,
    reset: bool = False,
) -> SourceMeter:
    """A connected driver for ``model`` at ``address``.

    ``sim=True`` talks to the simulated bench (``@labrun``), ``sim="bench.yaml"`` to a
    bench of your own; otherwise ``backend`` picks the VISA library (``"@ivi"``,
    ``"@py"``, or "" for pyvisa's default). ``reset=True`` sends ``*RST`` first.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known models: {', '.join(sorted(MODELS))}")
    cls = MODELS[model]
    resource = open_resource(address, backend_for(sim, backend))
    driver = cls(Instrument(resource, name=f"{model} at {address}", timeout=timeout))
    try:
        driver.check_identity()
        if reset:
            driver.reset()
        else:
            driver.configure()
            driver.sync()
    except BaseException:
        driver.close()
        raise
    return driver
