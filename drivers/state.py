"""A source-meter's source state as properties: set one and it is written to the instrument.

Why: plain attributes made ``smu.current_limit = 0.02`` change the driver's copy and send
nothing. Here each name is a property whose setter is the checked driver method, and a
public attribute that is no setting is refused (``smu.current_limt = 0.02`` raises).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .settings import Setting

SourceMode = Literal["voltage", "current"]


class SourceState:
    """Mixin of :class:`~labrun.drivers.SourceMeter`: its state properties and the guard."""

    model: ClassVar[str]
    _mode: SourceMode
    _level: float
    _current_limit: float
    _voltage_limit: float
    _output_enabled: bool

    if TYPE_CHECKING:  # the checked writes, in SourceMeter

        def source_voltage(self) -> None: ...
        def source_current(self) -> None: ...
        def set_voltage(self, volts: float) -> None: ...
        def set_current(self, amps: float) -> None: ...
        def set_current_limit(self, amps: float) -> None: ...
        def set_voltage_limit(self, volts: float) -> None: ...
        def output_on(self) -> None: ...
        def output_off(self) -> None: ...

    @property
    def mode(self) -> SourceMode:
        """What is sourced, "voltage" or "current" (as last set or read back); setting it
        switches the instrument (the level starts at 0)."""
        return self._mode

    @mode.setter
    def mode(self, mode: SourceMode) -> None:
        if mode == "voltage":
            self.source_voltage()
        elif mode == "current":
            self.source_current()
        else:
            raise ValueError(f"mode must be 'voltage' or 'current', got {mode!r}")

    @property
    def level(self) -> float:
        """The source level of the present mode, V or A (as last set or read back);
        setting it is ``set_voltage`` / ``set_current``, checked the same way."""
        return self._level

    @level.setter
    def level(self, value: float) -> None:
        (self.set_voltage if self._mode == "voltage" else self.set_current)(value)

    @property
    def current_limit(self) -> float:
        """The compliance in voltage mode, A; setting it is ``set_current_limit``."""
        return self._current_limit

    @current_limit.setter
    def current_limit(self, amps: float) -> None:
        self.set_current_limit(amps)

    @property
    def voltage_limit(self) -> float:
        """The compliance in current mode, V; setting it is ``set_voltage_limit``."""
        return self._voltage_limit

    @voltage_limit.setter
    def voltage_limit(self, volts: float) -> None:
        self.set_voltage_limit(volts)

    @property
    def output_enabled(self) -> bool:
        """The output as the driver last set it (``is_output_on()`` asks the instrument);
        setting it is ``output_on()`` / ``output_off()``."""
        return self._output_enabled

    @output_enabled.setter
    def output_enabled(self, on: bool) -> None:
        self.output_on() if on else self.output_off()

    @classmethod
    def settings(cls) -> list[str]:
        """The names that are instrument state: each one written to the instrument when set."""
        return sorted(
            name
            for name in dir(cls)
            if isinstance(getattr(cls, name, None), Setting)
            or (isinstance(getattr(cls, name, None), property) and getattr(cls, name).fset is not None)
        )

    if not TYPE_CHECKING:  # to mypy a misspelt attribute stays an error it reports

        def __setattr__(self, name: str, value: Any) -> None:
            """Refuse a public attribute that is not a setting: ``smu.current_limt = 0.02`` would
            otherwise send nothing and say nothing."""
            sealed = name[0] != "_" and self.__dict__.get("_sealed")
            if sealed and name not in self.__dict__ and not hasattr(type(self), name):
                known = ", ".join(self.settings())
                raise AttributeError(
                    f"{self.model} has no setting {name!r}: nothing was sent; settings: {known}"
                )
            object.__setattr__(self, name, value)
