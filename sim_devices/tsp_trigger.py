"""The 2600B twin's reading buffers and trigger model: where a TSP sweep's readings go.

Why apart from the interpreter (``tsp.py``): this is the instrument's own time — a
trigger-model sweep (``smua.trigger.initiate()``) runs while the bus is free, a step every
source delay + reading, and whatever asks of a buffer or of ``status.operation.sweeping``
first collects the steps due by now (as ``sweeps.py`` does for the SCPI twins). Sweeps
of both channels step in time order, each step's sources set before its measurements, so
a circuit between the channels sees both levels of a step (a FET: gate on smub, drain on
smua). A channel whose source or measure stimulus is another channel's event (directly
or through a blender) steps with that channel; one armed by ``trigger.EVENT_ID`` waits
for ``*TRG``. Not modelled: timers, digital I/O and TSP-Link events, pulses, the other
stimuli's timing (kept as settings), ``arm.count`` beyond a repeat count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .timing import Timing

#: the most readings a buffer holds (2600B: about 60,000 with every element kept; memory)
CAPACITY = 60_000
#: a buffer's settings a client may set (its ``n``, ``capacity`` and tables are read only)
BUFFER_SETTINGS = (
    "appendmode",
    "collectsourcevalues",
    "collecttimestamps",
    "fillmode",
    "timestampresolution",
)


@dataclass
class NvBuffer:
    """One reading buffer (``smua.nvbuffer1``): readings with their source values, times, statuses."""

    readings: list[float] = field(default_factory=list)
    sourcevalues: list[float] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    statuses: list[float] = field(default_factory=list)
    settings: dict[str, float] = field(
        default_factory=lambda: {
            "appendmode": 0.0,
            "collectsourcevalues": 0.0,
            "collecttimestamps": 0.0,
            "fillmode": 0.0,
            "timestampresolution": 1e-6,
            "basetimestamp": 0.0,
            "capacity": float(CAPACITY),
        }
    )

    def clear(self) -> None:
        for values in (self.readings, self.sourcevalues, self.timestamps, self.statuses):
            values.clear()

    def store(self, reading: float, source: float, stamp: float, status: float) -> None:
        if len(self.readings) >= CAPACITY:  # fill mode "continuous" would wrap; a twin stops
            return
        if not self.readings:
            self.settings["basetimestamp"] = stamp
        self.readings.append(reading)
        self.sourcevalues.append(source)
        self.timestamps.append(stamp - self.settings["basetimestamp"])
        self.statuses.append(status)


@dataclass
class TriggerRun:
    """One channel's trigger-model sweep: a level (or None: as set) and a measurement a step."""

    channel: int
    function: str  # "voltage" or "current": what the list steps
    levels: list[float | None]
    measure: tuple[str, int, int] | None  # kind ("iv", ...), buffer ids
    per_point: float
    before: float  # the level before the sweep: an IDLE end returns to it
    started: float | None = None  # None: armed, waiting for its event
    leader: int | None = None  # the channel whose steps it takes with
    bus_trigger: bool = False  # waits for *TRG
    collected: int = 0
    aborted: float | None = None

    def due(self, now: float) -> int:
        if self.started is None:
            return 0
        if self.per_point <= 0:
            return len(self.levels)
        until = now if self.aborted is None else min(now, self.aborted)
        return max(0, min(len(self.levels), int((until - self.started) / self.per_point + 1e-9)))

    @property
    def sweeping(self) -> bool:
        return self.aborted is None and self.collected < len(self.levels)

    @property
    def end(self) -> float:
        return (self.started or 0.0) + self.per_point * len(self.levels)


class TriggerModel:
    """Buffers, lists and sweeps of a 2600B twin (a mixin of its behaviour class)."""

    state: dict[tuple[int, str], Any]
    timing: Timing | None
    _clock: float
    events: dict[str, Any]
    limit_bits: dict[int, int]
    if TYPE_CHECKING:

        def measured_at(self, channel: int = 1, level: float | None = None) -> tuple[float, float]: ...
        def reading_time(self, channel: int = 1) -> float: ...
        def source_delay(self, channel: int = 1) -> float: ...
        def sourced(self, channel: int = 1) -> str: ...
        def elapsed(self) -> float: ...
        def compliance_bits(self, channel: int) -> int: ...

    def reset_trigger(self, channels: int) -> None:
        self.channel_count = channels
        self.buffers = {10 * ch + n: NvBuffer() for ch in range(1, channels + 1) for n in (1, 2)}
        self.lists: dict[int, tuple[str, list[float]]] = {}  # channel -> (function, levels)
        self.trigger_measures: dict[int, tuple[str, int, int]] = {}
        self.runs: dict[int, TriggerRun] = {}
        self.blenders = {n: [0.0] * 5 for n in range(1, 7)}  # [orenable, stimulus 1..4]

    # ------------------------------------------------------------------- buffers

    def record(self, kind: str, ids: tuple[int, int], values: tuple[float, ...], source: float) -> None:
        """A measurement's values into its buffers (``iv``: current, then voltage)."""
        stamp = self.elapsed()
        for buffer_id, value in zip(ids, values, strict=False):
            if buffer_id:
                status = float(self.compliance_bits(buffer_id // 10))
                self.buffers[buffer_id].store(value, source, stamp, status)

    def fresh(self, ids: tuple[int, ...]) -> None:
        """A measurement starts: each buffer not in append mode is emptied first."""
        for buffer_id in ids:
            if buffer_id and not self.buffers[buffer_id].settings["appendmode"]:
                self.buffers[buffer_id].clear()

    def buffer(self, buffer_id: int) -> NvBuffer:
        self.collect()
        return self.buffers[buffer_id]

    # ------------------------------------------------------------------- the trigger model

    def event_channel(self, event: float) -> int | None:
        """The channel whose trigger event ``event`` is (smua: 44 ..., smub: 50 ...)."""
        base = min(self.events["smu"].values())
        offset = int(event) - base
        if event and 0 <= offset < 6 * self.channel_count:
            return offset // 6 + 1
        return None

    def sources_of(self, event: float, depth: int = 0) -> set[float]:
        """The events behind ``event``: a blender's stimuli, recursively; else itself."""
        blender = int(event) - int(self.events["blender"]) + 1
        if 1 <= blender <= 6 and depth < 6:
            found: set[float] = set()
            for stimulus in self.blenders[blender][1:]:
                if stimulus:
                    found |= self.sources_of(stimulus, depth + 1)
            return found
        return {event} if event else set()

    def initiate(self, channel: int) -> None:
        """``smua.trigger.initiate()``: arm the channel's sweep; it starts now, on ``*TRG``
        (arm stimulus ``trigger.EVENT_ID``), or with the channel whose events it waits for."""
        self.collect()
        s = self.state
        count = int(s[(channel, "trigger_count")]) * max(1, int(s[(channel, "arm_count")]))
        function, values = self.lists.get(channel, (self.sourced(channel), []))
        if s[(channel, "source_action")] and values:
            levels: list[float | None] = [values[k % len(values)] for k in range(count)]
        else:
            function, levels = self.sourced(channel), [None] * count
        measure = self.trigger_measures.get(channel) if s[(channel, "measure_action")] else None
        if measure is not None:
            self.fresh(measure[1:])
        per_point = 0.0
        if self.timing is not None:
            per_point = self.source_delay(channel) + self.reading_time(channel)
        run = TriggerRun(channel, function, levels, measure, per_point, float(s[(channel, function)]))
        arm = self.sources_of(s[(channel, "arm_stimulus")])
        run.bus_trigger = self.events["trigger"] in arm
        followed = set()
        for key in ("source_stimulus", "measure_stimulus", "endpulse_stimulus"):
            for event in self.sources_of(s[(channel, key)]):
                other = self.event_channel(event)
                if other is not None and other != channel:
                    followed.add(other)
        run.leader = min(followed) if followed else None
        self.runs[channel] = run
        if not run.bus_trigger and run.leader is None:
            self.start(run)
        elif run.leader is not None and (leader := self.runs.get(run.leader)) and leader.started is not None:
            self.start(run, leader.started)

    def start(self, run: TriggerRun, at: float | None = None) -> None:
        run.started = at if at is not None else (self._clock if self.timing is not None else time.monotonic())
        for other in self.runs.values():  # the channels stepping with it start with it, in step
            if other.leader == run.channel and other.started is None:
                other.per_point = run.per_point = max(run.per_point, other.per_point)
                other.started = run.started
        if self.timing is None:
            self.collect()  # no time model: a sweep is over as it starts

    def bus_trigger(self) -> None:
        """``*TRG``: the sweeps armed by ``trigger.EVENT_ID`` start."""
        for run in list(self.runs.values()):
            if run.bus_trigger and run.started is None:
                self.start(run)

    def collect(self) -> None:
        """Take every step due by now, in time order; within a step, sources before readings."""
        now = time.monotonic()
        steps: dict[tuple[float, int], list[TriggerRun]] = {}
        for run in self.runs.values():
            for k in range(run.collected, run.due(now)):
                steps.setdefault((round((run.started or 0.0) + run.per_point * k, 9), k), []).append(run)
        for (_, k), runs in sorted(steps.items(), key=lambda item: item[0]):
            for run in runs:
                level = run.levels[k]
                if level is not None:
                    self.state[(run.channel, run.function)] = level
            for run in runs:
                if run.measure is not None:
                    self.take(run, run.levels[k])
                run.collected = k + 1
                if run.collected == len(run.levels) and run.levels[0] is not None:
                    self.ended(run)

    def ended(self, run: TriggerRun) -> None:
        """The sweep's last step: the source holds it, or returns to where it was (IDLE)."""
        if self.state[(run.channel, "endsweep_action")] != "HOLD":
            self.state[(run.channel, run.function)] = run.before

    def take(self, run: TriggerRun, level: float | None) -> None:
        assert run.measure is not None
        kind, first, second = run.measure
        voltage, current = self.measured_at(run.channel)
        values = {"v": (voltage,), "i": (current,), "iv": (current, voltage)}.get(kind)
        if values is None:
            values = (
                (voltage / current if current else float("nan"),) if kind == "r" else (voltage * current,)
            )
        source = float(self.state[(run.channel, run.function)]) if level is None else level
        self.record(kind, (first, second), values, source)

    def abort_runs(self, channel: int | None = None) -> None:
        self.collect()
        for run in self.runs.values():
            if (channel is None or run.channel == channel) and run.sweeping:
                run.aborted = time.monotonic()
                if run.started is None:
                    run.started = run.aborted

    def sweeping_bits(self) -> int:
        """``status.operation.sweeping.condition``: bit 1 smua, bit 2 smub, while armed or running."""
        self.collect()
        return sum(1 << run.channel for run in self.runs.values() if run.sweeping)

    def wait_for_runs(self) -> None:
        """``*OPC?``, ``waitcomplete()``: the answer waits for every running sweep's end."""
        if self.timing is not None:
            ends = [run.end for run in self.runs.values() if run.sweeping and run.started is not None]
            self._clock = max([self._clock, *ends])
