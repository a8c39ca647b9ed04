"""How long the instrument takes: the twins' time model, off by default.

Why: with answers at once, a benchmark measures Python, not the measurement; speed is
judged against the instrument's own floor only if the twin takes the instrument's time.
With ``timing: realistic`` (a bench entry) or ``twin.timing = Timing.for_address(...)``:

- a reading takes its integration time, NPLC / line frequency, times the averaging
  count when the filter is on, times 3 with autozero on (each reading then also
  converts the zero and the reference: Keithley 2400 manual §3 "Auto zero", 2450
  reference manual "Automatic reference measurements"; the B2900 has no such switch),
  plus a fixed overhead for the A/D and the reading's processing;
- each reading cycle waits the source delay first (trigger model: source, delay, measure);
- each message crosses the link: a latency per message each way, by interface.

The figures are stated, not measured on hardware: GPIB 0.5 ms, USB-TMC 0.3 ms, LAN
socket 0.2 ms per message (typical of a 488.2 transaction, a USB-TMC bulk transfer and a
loopback-free LAN hop), RS-232 the message's bits at the baud rate; 0.1 ms per reading.
"""

from __future__ import annotations

from dataclasses import dataclass

#: seconds per message, each way, by VISA interface (the address's prefix)
LINK_LATENCY = {"GPIB": 0.5e-3, "USB": 0.3e-3, "TCPIP": 0.2e-3, "ASRL": 0.1e-3}
#: seconds a reading takes besides its integration (A/D setup, math, formatting)
READING_OVERHEAD = 0.1e-3
#: conversions per reading with autozero on: the signal, the zero, the reference
AUTOZERO_CONVERSIONS = 3


@dataclass(frozen=True)
class Timing:
    """The time model of one twin."""

    link_latency: float = 0.0  # s per message, each way
    reading_overhead: float = READING_OVERHEAD

    @classmethod
    def for_address(cls, address: str, *, link_latency: float | None = None) -> Timing:
        """The figures for the interface of ``address`` (``link_latency`` overrides)."""
        if link_latency is None:
            prefix = next((p for p in LINK_LATENCY if address.upper().startswith(p)), "TCPIP")
            link_latency = LINK_LATENCY[prefix]
        return cls(link_latency=link_latency)

    def reading(
        self, nplc: float, line_frequency: float, *, averaging: int = 1, autozero: bool = False
    ) -> float:
        """Seconds one reading takes: integration(s) and overhead, the source delay aside."""
        conversions = AUTOZERO_CONVERSIONS if autozero else 1
        return nplc / line_frequency * conversions * max(averaging, 1) + self.reading_overhead
