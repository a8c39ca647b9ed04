"""What every labrun driver is, whatever its instrument sources: one channel of one
connection, a model's identity, and the model's table of settings.

Why a base of its own: these need nothing of the source-measure logic (``SourceMeter``
builds on them), and a snapshot, the config and the misspelt-name guard need nothing else.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar

from .channels import device_lock_of
from .errors import WrongInstrument
from .instrument import Instrument
from .settings import Setting, table_of
from .snapshot import take

logger = logging.getLogger("labrun.drivers.sourcemeter")


class Driver:
    """One channel of an instrument (channel 1 on a one-channel model), as its model speaks."""

    model: ClassVar[str]
    #: the connection's class: how the model's language makes a transaction (SCPI's, TSP's)
    instrument_class: ClassVar[type[Instrument]] = Instrument
    #: regular expression the ``*IDN?`` answer is expected to match, and what it means
    identity_pattern: ClassVar[str] = ""
    series: ClassVar[str] = ""

    def __init__(self, instrument: Instrument, *, channel: int = 1) -> None:
        self.instrument = instrument
        #: which channel this driver drives (1 on a one-channel model)
        self.channel_number = channel
        #: held by a run for its whole life: the instrument's own (channel 1), or its channel's
        self.device_lock = device_lock_of(instrument, channel)
        self._name = instrument.name if channel == 1 else f"{instrument.name} channel {channel}"

    @property
    def name(self) -> str:
        return self._name

    def identify(self) -> str:
        """The ``*IDN?`` answer: maker, model, serial number, firmware."""
        return self.instrument.query("*IDN?")

    def check_identity(self, *, force_model: bool = False) -> str:
        """Ask ``*IDN?``; refuse another model (wrong address? wrong driver?) unless forced.

        Another model speaks another dialect: the first command it does not know would
        fail later with a cryptic error, after the output may have been switched on.
        """
        idn = self.identify()
        if self.identity_pattern and not re.search(self.identity_pattern, idn):
            if not force_model:
                raise WrongInstrument(
                    f"expected a {self.series or self.model} at {self.instrument.resource.resource_name}, "
                    f"found {idn!r}; pick the driver of that model, or, if it speaks the same "
                    "commands, pass force_model=True (YAML: instrument.force_model: true)",
                    identity=idn,
                )
            logger.warning("%s: driving %r as a %s (force_model)", self.name, idn, self.model)
        return idn

    # ------------------------------------------------------------ the table of settings

    @classmethod
    def setting_table(cls) -> dict[str, Setting]:
        """Every setting of the model, by name: the one table the driver writes and reads
        through, the config checks and applies through, and a snapshot reads back."""
        return table_of(cls)

    @classmethod
    def setting(cls, name: str) -> Setting:
        """The table's entry ``name`` (``setting(name).describe(cls)`` says what it allows)."""
        table = cls.setting_table()
        if name not in table:
            raise AttributeError(f"{cls.model} has no setting {name!r}; settings: {', '.join(sorted(table))}")
        return table[name]

    @classmethod
    def settings(cls) -> list[str]:
        """The names that are instrument state: each one written to the instrument when set."""
        return sorted(cls.setting_table())

    def snapshot(self) -> dict[str, Any]:
        """Identity, address, VISA library and every readable setting, read back from the
        instrument now (not the driver's copy), with units: see :func:`snapshot.take`."""
        return take(self)

    if not TYPE_CHECKING:  # to mypy a misspelt attribute stays an error it reports

        def __setattr__(self, name: str, value: Any) -> None:
            """Refuse a public attribute that is not a setting: ``smu.current_limt = 0.02``
            would otherwise send nothing and say nothing (sealed by the subclass's init)."""
            sealed = name[0] != "_" and self.__dict__.get("_sealed")
            if sealed and name not in self.__dict__ and not hasattr(type(self), name):
                known = ", ".join(self.settings())
                raise AttributeError(
                    f"{self.model} has no setting {name!r}: nothing was sent; settings: {known}"
                )
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
