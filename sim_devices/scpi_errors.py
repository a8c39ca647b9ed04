"""SCPI errors: what the instrument puts in its error queue, with the standard numbers."""

from __future__ import annotations

#: Standard SCPI error numbers the parser raises (SCPI-99, volume 2, chapter 21).
ERROR_TEXT: dict[int, str] = {
    -100: "Command error",
    -101: "Invalid character",
    -102: "Syntax error",
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -131: "Invalid suffix",
    -114: "Header suffix out of range",
    -221: "Settings conflict",
    -222: "Data out of range",
    -224: "Illegal parameter value",
    -350: "Queue overflow",
    -410: "Query INTERRUPTED",
}


class ScpiError(Exception):
    """A command the instrument rejects; it lands in the error queue."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code},{ERROR_TEXT.get(code, 'Error')}: {detail}")
