"""SCPI parameters: a setting's values as the instrument reads them — numbers with
suffixes, multipliers and MIN/MAX/DEF, booleans, choices in short or long form, strings."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .scpi_errors import ScpiError


def mnemonic_forms(word: str) -> tuple[str, str]:
    """``VOLTage`` -> (``VOLT``, ``VOLTAGE``): the capitals are the short form."""
    short = "".join(ch for ch in word if ch.isupper() or ch.isdigit() or ch in "*?")
    return (short or word).upper(), word.upper()


_KEYWORDS = {"MIN": "MIN", "MINIMUM": "MIN", "MAX": "MAX", "MAXIMUM": "MAX", "DEF": "DEF", "DEFAULT": "DEF"}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
#: a number with a suffix: ``100mV``, ``1 V``, ``10 MA`` (IEEE 488.2 §7.7.3)
_WITH_SUFFIX = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]+)$")
#: suffix multipliers; ``M`` is milli and ``MA`` mega, as the standard has it (so ``10 MA``
#: is ten megaamperes, and out of range), except in ``MOHM`` and ``MHZ`` (mega)
MULTIPLIERS = {
    "EX": 1e18,
    "PE": 1e15,
    "T": 1e12,
    "G": 1e9,
    "MA": 1e6,
    "K": 1e3,
    "M": 1e-3,
    "U": 1e-6,
    "N": 1e-9,
    "P": 1e-12,
    "F": 1e-15,
    "A": 1e-18,
}
#: the unit a setting's numbers may carry, from its key
UNITS = (("voltage", "V"), ("current", "A"), ("delay", "S"), ("aperture", "S"))
#: IEEE 488.2 infinity, and not-a-number
INFINITY, NOT_A_NUMBER = 9.9e37, 9.91e37


def suffixed(number: float, suffix: str, unit: str | None) -> float | None:
    """``number`` scaled by ``suffix`` (a unit, with a multiplier before it); None if the
    suffix is not ``unit`` (with or without a multiplier)."""
    word = suffix.upper()
    if unit is None:
        return None
    if word == unit:
        return number
    if word in ("MOHM", "MHZ") and word[1:] == unit:
        return number * 1e6
    if word in MULTIPLIERS and word not in ("A", "S"):  # a multiplier alone, the unit implied:
        # "10 MA" is 10 megaamperes; "A" and "S" alone are units (ampere, second), not atto
        return number * MULTIPLIERS[word]
    if word.endswith(unit) and word[: -len(unit)] in MULTIPLIERS:
        return number * MULTIPLIERS[word[: -len(unit)]]
    return None


@dataclass(frozen=True)
class Setting:
    """A settable, queryable value of the instrument (``:SOURce:VOLTage``)."""

    key: str
    kind: str  # number | bool | choice | choices | strings
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    read_only: bool = False

    def parse(self, params: Sequence[str]) -> Any:
        """Turn parameter text into the stored value, or raise the instrument's error."""
        if not params:
            raise ScpiError(-109, self.key)
        if self.kind in ("choices", "strings"):
            values = [self._one(p) for p in params]
            return tuple(values)
        if len(params) > 1:
            raise ScpiError(-108, self.key)
        return self._one(params[0])

    def _one(self, text: str) -> Any:
        if self.kind == "number":
            return self._number(text)
        if self.kind == "bool":
            word = text.upper()
            if word in ("ON", "1"):
                return True
            if word in ("OFF", "0"):
                return False
            if _NUMBER.match(text):
                return round(float(text)) != 0
            raise ScpiError(-104, f"{self.key} takes ON|OFF|1|0, got {text}")
        if self.kind == "strings":
            if len(text) < 2 or text[0] not in "'\"" or text[-1] != text[0]:
                raise ScpiError(-104, f"{self.key} takes a quoted string, got {text}")
            return self._choice(text[1:-1])
        return self._choice(text)  # choice, choices

    def _number(self, text: str) -> float:
        word = _KEYWORDS.get(text.upper())
        if word == "MIN" and self.minimum is not None:
            return self.minimum
        if word == "MAX" and self.maximum is not None:
            return self.maximum
        if word == "DEF":
            return float(self.default)
        if text.upper() in ("INF", "NINF", "NAN"):
            value = {"INF": INFINITY, "NINF": -INFINITY, "NAN": NOT_A_NUMBER}[text.upper()]
            raise ScpiError(-222, f"{self.key}={text} ({value:g})")
        if _NUMBER.match(text):
            value = float(text)
        elif match := _WITH_SUFFIX.match(text):
            unit = next((u for part, u in UNITS if part in self.key and not self.key.endswith("nplc")), None)
            scaled = suffixed(float(match.group(1)), match.group(2), unit)
            if scaled is None:
                raise ScpiError(-131, f"{self.key} takes {unit or 'no unit'}, got {text}")
            value = scaled
        else:
            raise ScpiError(-104, f"{self.key} takes a number, got {text}")
        if not math.isfinite(value):
            raise ScpiError(-222, f"{self.key}={text}")
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise ScpiError(-222, f"{self.key}={text}, allowed {self.minimum}..{self.maximum}")
        return value

    def _choice(self, text: str) -> str:
        """Choices are stored in their short form, as the instrument answers them."""
        if not self.choices:
            return text
        word = text.upper()
        for choice in self.choices:
            short, long = _choice_forms(choice)
            if word in (short, long):
                return short
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_:]*", text):
            raise ScpiError(-104, f"{self.key} takes one of {self.choices}, got {text}")
        raise ScpiError(-224, f"{self.key} takes one of {self.choices}, got {text}")

    def format(self, value: Any) -> str:
        """The instrument's answer to ``HEADER?``."""
        if self.kind == "number":
            return f"{value:+.6E}"
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "strings":
            return ",".join(f'"{v}"' for v in value)
        if self.kind == "choices":
            return ",".join(value)
        return str(value)


def _choice_forms(choice: str) -> tuple[str, str]:
    """``CURRent:DC`` -> (``CURR:DC``, ``CURRENT:DC``)."""
    parts = [mnemonic_forms(p) for p in choice.split(":")]
    return ":".join(s for s, _ in parts), ":".join(long for _, long in parts)
