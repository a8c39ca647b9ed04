"""A sequence of runs: one config run once per step, some of its keys set to each step's
values (a product of values, keys that step together, or an explicit list of steps).

```yaml
sequence:
  over:                          # a product, the first key outermost
    experiment.compliance: [1 mA, 10 mA, 100 mA]
    instrument.nplc: [0.1, 1]
  on_error: stop                 # or continue
```

``zip: {key: [...], ...}`` steps its keys together; ``over: [{key: value, ...}, ...]`` is
an explicit list. ``labrun run CONFIG --over KEY=V1,V2`` gives the same as ``over:``.

Why each step is a whole config: a step is the file with its values written in, read and
checked exactly as a config is (units, the model's ranges, your limits), every step before
the first instrument is touched, so a bad value in step 5 never lets step 1 start.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
import pathlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from labrun.drivers.errors import shown
from labrun.experiments.config.fields import MAX_MESSAGES, ConfigError
from labrun.experiments.config.loading import read_raw, set_key, validated
from labrun.experiments.config.schema import Config
from labrun.experiments.config.station import StationConfig
from labrun.experiments.config.yaml_reader import YamlRefused, read_yaml
from labrun.experiments.model.parameters import LIMITED, SOURCED, Unit, units_of

#: the most runs one sequence may have
MAX_STEPS = 10_000
#: how a sequence's steps are made: one run (no sequence), a product, keys zipped, a list
Kind = Literal["single", "product", "zip", "list"]
OnError = Literal["stop", "continue"]
BLOCK_KEYS = ("over", "zip", "on_error")


@dataclass(frozen=True)
class Step:
    """One run of a sequence: its keys' values as given and as read (SI), and its config."""

    index: int
    keys: dict[str, Any]
    values: dict[str, Any]
    config: Config | StationConfig

    def label(self) -> str:
        """``experiment.compliance=10 mA, instrument.nplc=0.1``: what a person reads."""
        return label_of(self.keys)


@dataclass(frozen=True)
class Steps:
    """What a config file asks for: one run (``kind`` single), or a sequence of runs."""

    steps: tuple[Step, ...]
    kind: Kind = "single"
    keys: tuple[str, ...] = ()
    #: a product's length along each key (outer first); (number of steps,) otherwise
    shape: tuple[int, ...] = ()
    on_error: OnError = "stop"
    units: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def is_sequence(self) -> bool:
        return self.kind != "single"

    def __len__(self) -> int:
        return len(self.steps)

    def record(self, step: Step) -> dict[str, Any] | None:
        """What the step's run record keeps of its sequence (``RecordOptions.sequence``):
        id, index, of, keys as given, and what ``open_sequence`` lays the runs out by."""
        if not self.is_sequence:
            return None
        described: dict[str, Any] = {
            "id": self.id,
            "index": step.index,
            "of": len(self.steps),
            "keys": step.keys,
            "kind": self.kind,
            "shape": list(self.shape),
            "values": step.values,
            "units": self.units,
        }
        if self.kind == "product":  # every axis's values: the runs never made still have coordinates
            strides = [math.prod(self.shape[k + 1 :]) for k in range(len(self.shape))]
            described["axes"] = {
                key: [self.steps[i * stride].values[key] for i in range(n)]
                for key, n, stride in zip(self.keys, self.shape, strides, strict=True)
            }
        return described

    def position(self, step: Step) -> tuple[int, int] | None:
        """(k, n): the step's place, counted from 1, for a progress bar (None: no sequence)."""
        return (step.index + 1, len(self.steps)) if self.is_sequence else None


def read_steps(
    path: str | os.PathLike[str],
    *,
    out: str | None = None,
    sim: bool | None = None,
    overrides: Sequence[str] = (),
    over: Sequence[str] = (),
) -> Steps:
    """A config file's runs, every one checked: one, or each step of its ``sequence:``
    block (``over``: ``--over KEY=V1,V2,...`` options, which replace the block's keys).

    Every problem of every step is one line naming the step, its values, the key and the
    value at fault (:class:`ConfigError`), before anything is opened."""
    path = pathlib.Path(path)
    raw = read_raw(path, out=out, sim=sim, overrides=overrides)
    block = raw.pop("sequence", None)
    if over:
        block = {**(block if isinstance(block, dict) else {}), "over": over_options(path, over)}
        block.pop("zip", None)
    if block is None:
        return Steps((Step(0, {}, {}, validated(path, raw)),))
    kind, keys, shape, entries, on_error = read_block(path, block)
    steps, problems = [], []
    for index, entry in enumerate(entries):
        where = f"{path}: sequence step {index + 1} of {len(entries)} ({shown_short(label_of(entry))})"
        try:
            values = copy.deepcopy(raw)
            for key, value in entry.items():
                set_key(values, key, copy.deepcopy(value), f"{where}: {key}")
            config = validated(path, values)
        except ConfigError as error:
            prefix = f"{path}: "
            problems += [f"{where}: {line.removeprefix(prefix)}" for line in str(error).splitlines()]
            continue
        steps.append(Step(index, entry, {key: resolved(config, key)[0] for key in keys}, config))
    if problems:
        more = len(problems) - MAX_MESSAGES
        tail = [f"{path}: ... and {more} more problems"] if more > 0 else []
        raise ConfigError("\n".join(problems[:MAX_MESSAGES] + tail))
    units = {key: resolved(steps[0].config, key)[1] for key in keys}
    return Steps(tuple(steps), kind, keys, shape, on_error, units)


def over_options(path: pathlib.Path, options: Sequence[str]) -> dict[str, list[Any]]:
    """``--over KEY=V1,V2,...`` options as ``over:`` keys: each value read as YAML, as
    ``--set`` reads one (``1mA``, ``'100 mV'``, ``{type: moving, count: 5}``)."""
    over: dict[str, list[Any]] = {}
    for option in options:
        key, sep, text = option.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise ConfigError(
                f"{path}: --over {option!r}: expected KEY=VALUE,VALUE,..., e.g. instrument.nplc=0.1,1"
            )
        try:
            values = read_yaml(f"[{text}]")
        except (YamlRefused, yaml.YAMLError) as error:
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ConfigError(f"{path}: --over {key}: cannot read {text!r}: {problem}") from None
        if key in over:
            raise ConfigError(f"{path}: --over {key}: given twice")
        over[key] = values
    return over


def read_block(
    path: pathlib.Path, block: Any
) -> tuple[Kind, tuple[str, ...], tuple[int, ...], list[dict[str, Any]], OnError]:
    """The ``sequence:`` block's kind, keys, shape, each step's values, and ``on_error``."""

    def refuse(key: str, value: Any, why: str) -> ConfigError:
        return ConfigError(f"{path}: {key}{'' if value is None else f' = {shown(value)}'}: {why}")

    if not isinstance(block, dict):
        raise refuse("sequence", block, "expected a mapping with over (or zip) and on_error")
    for key in block:
        if key not in BLOCK_KEYS:
            raise refuse(f"sequence.{key}", None, f"unknown key; allowed here: {', '.join(BLOCK_KEYS)}")
    on_error = block.get("on_error", "stop")
    if on_error not in ("stop", "continue"):
        raise refuse("sequence.on_error", on_error, "one of stop, continue")
    if ("over" in block) == ("zip" in block):
        raise refuse("sequence", None, "give over (a product, or a list of steps) or zip, one of them")
    name = "over" if "over" in block else "zip"
    given = block[name]
    if name == "over" and isinstance(given, list):
        if not given or not all(isinstance(e, dict) and e for e in given):
            raise refuse("sequence.over", given, "a list of steps: each a mapping of key: value")
        keys = tuple(str(k) for k in given[0])
        for number, entry in enumerate(given, 1):
            if tuple(map(str, entry)) != keys:
                why = f"every step sets the same keys, in the same order, as the first: {', '.join(keys)}"
                raise refuse(f"sequence.over step {number}", entry, why)
        kind: Kind = "list"
        entries = [{str(k): v for k, v in entry.items()} for entry in given]
    else:
        if not isinstance(given, dict) or not given:
            raise refuse(f"sequence.{name}", given, "a mapping of key: [values]")
        keys = tuple(str(k) for k in given)
        for key, values in given.items():
            if not isinstance(values, list) or not values:
                raise refuse(f"sequence.{name}.{key}", values, "a list of values, at least one")
        lengths = {len(v) for v in given.values()}
        if name == "zip" and len(lengths) > 1:
            said = ", ".join(f"{k} {len(v)}" for k, v in given.items())
            raise refuse("sequence.zip", None, f"its keys step together: give each as many values ({said})")
        kind = "product" if name == "over" else "zip"
        count = math.prod(len(v) for v in given.values()) if kind == "product" else lengths.pop()
        if count > MAX_STEPS:
            raise refuse(f"sequence.{name}", None, f"{count:,} runs: a sequence has at most {MAX_STEPS:,}")
        rows = itertools.product(*given.values()) if kind == "product" else zip(*given.values(), strict=True)
        entries = [dict(zip(keys, row, strict=True)) for row in rows]
    for key in keys:
        parts = key.split(".")
        if not all(parts) or parts[0] == "sequence":
            raise refuse(f"sequence.{name}", key, "a config key, e.g. experiment.compliance")
    if len(entries) > MAX_STEPS:
        raise refuse("sequence.over", None, f"{len(entries):,} runs: a sequence has at most {MAX_STEPS:,}")
    shape = tuple(len(given[k]) for k in keys) if kind == "product" else (len(entries),)
    return kind, keys, shape, [_json_safe(e) for e in entries], on_error


def resolved(config: Config | StationConfig, key: str) -> tuple[Any, str]:
    """A key's value as the config has read it (an SI number, a word, or JSON text for a
    section) and its unit ("" for none): a sequence's coordinate along that key."""
    node: Any = config
    parent: Any = None
    unit = ""
    for part in key.split("."):
        parent, declared = node, None
        if isinstance(node, BaseModel):
            declared = type(node).model_fields.get(part)
            node = getattr(node, part, None)
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None, ""
        marks = [m.unit for m in declared.metadata if isinstance(m, Unit)] if declared is not None else []
        unit = marks[0] if marks else ""
    if unit in (SOURCED, LIMITED):
        level, limit = units_of(str(getattr(parent, "mode", "voltage")))
        unit = level if unit == SOURCED else limit
    if isinstance(node, tuple) and len(node) == 2 and isinstance(node[0], float):  # a level: (value, unit)
        return node[0], node[1] or unit
    if node is None or isinstance(node, bool | str):
        return node, unit
    if isinstance(node, int | float):
        return float(node), unit
    if isinstance(node, BaseModel):
        node = node.model_dump(mode="json")
    return json.dumps(node, default=str, sort_keys=True), unit


def label_of(keys: dict[str, Any]) -> str:
    """``experiment.compliance=10 mA, instrument.nplc=0.1``: a step's values as given."""
    return ", ".join(f"{key}={given_text(value)}" for key, value in keys.items())


def given_text(value: Any) -> str:
    """A value as the user wrote it: text as is, numbers as numbers, sections in YAML's flow style."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return str(yaml.safe_dump(value, default_flow_style=True, width=1 << 20, sort_keys=False)).strip()
    return json.dumps(value, default=str)


def shown_short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_safe(entry: dict[str, Any]) -> dict[str, Any]:
    """Values as JSON keeps them (a record is JSON): YAML dates become their text."""
    return dict(json.loads(json.dumps(entry, default=str)))
