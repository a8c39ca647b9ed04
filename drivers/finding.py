"""What answers at an address: its ``*IDN?`` and the registered model that names.

Why ask: ``labrun resources`` lists addresses, and an address says nothing of the model
behind it (a 2410 where a 2400 was expected is fine, a 2450 is not). Asked only of an
instrument no run holds (its device lock is taken for the one query, never waited for:
a query in the middle of another program's transaction would mix their answers).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DeviceBusy, LabrunError
from .instrument import Instrument
from .locks import device_lock_for
from .registry import Model, model_answering
from .visa import SIM_BACKEND, in_process, open_resource


@dataclass(frozen=True)
class Found:
    """An address and what answers there ("" and None: nothing could be asked)."""

    address: str
    identity: str = ""
    model: Model | None = None
    why_not: str = ""  # busy (and by whom), or the error that stopped the question


def identify_at(address: str, backend: str = "", *, timeout: float = 1.0) -> Found:
    """Ask the instrument at ``address`` who it is, unless a run holds it."""
    try:
        resource = open_resource(address, backend)
    except LabrunError as error:
        return Found(address, why_not=str(error))
    lock = device_lock_for(address, simulated=backend == SIM_BACKEND or in_process(resource))
    try:
        lock.acquire("labrun resources", blocking=False)
    except DeviceBusy as busy:
        resource.close()
        return Found(address, why_not=str(busy))
    try:
        instrument = Instrument(resource, timeout=timeout)
        identity = instrument.query("*IDN?")
        return Found(address, identity, model_answering(identity))
    except LabrunError as error:
        return Found(address, why_not=str(error))
    finally:
        lock.release()
        resource.close()
