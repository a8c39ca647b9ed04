"""Reading a config file: every problem becomes one ConfigError naming file, key, value, what is allowed."""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from labrun.drivers.errors import shown
from labrun.experiments.config.fields import MAX_MESSAGES, ConfigError, ConfigFieldError
from labrun.experiments.config.schema import EXPERIMENTS, Config, IVSweepConfig
from labrun.experiments.config.station import StationConfig, StationInstrumentConfig
from labrun.experiments.config.yaml_reader import MAX_BYTES, YamlRefused, read_yaml
from labrun.experiments.model.parameters import ParameterFieldError


def load_config(
    path: str | os.PathLike[str],
    *,
    out: str | None = None,
    sim: bool | None = None,
    overrides: Sequence[str] = (),
) -> Config:
    """A one-instrument config (``instrument``, ``experiment``, ``save``), read and checked
    as :func:`read_config` does; a station config is refused, naming :func:`load_station`."""
    config = read_config(path, out=out, sim=sim, overrides=overrides)
    if not isinstance(config, Config):
        raise ConfigError(f"{path}: a station config (several instruments): read it with load_station()")
    return config


def load_station(
    path: str | os.PathLike[str],
    *,
    out: str | None = None,
    sim: bool | None = None,
    overrides: Sequence[str] = (),
) -> StationConfig:
    """A station config (``station``, ``circuit``, ``experiment``, ``save``), read and checked."""
    config = read_config(path, out=out, sim=sim, overrides=overrides)
    if not isinstance(config, StationConfig):
        raise ConfigError(f"{path}: a one-instrument config: read it with load_config()")
    return config


def read_config(
    path: str | os.PathLike[str],
    *,
    out: str | None = None,
    sim: bool | None = None,
    overrides: Sequence[str] = (),
) -> Config | StationConfig:
    """Read, validate and check ``path``; ``out``/``sim`` override the file's values, and
    each of ``overrides`` (``instrument.nplc=0.1``, as ``labrun run --set``) one key.

    A file with a ``station`` (several named instruments) is a :class:`StationConfig`;
    one with an ``instrument``, a :class:`Config`. A file with a ``sequence`` (several
    runs) is refused here: ``config.sequence.read_steps`` reads it, step by step."""
    path = pathlib.Path(path)
    raw = read_raw(path, out=out, sim=sim, overrides=overrides)
    if "sequence" in raw:
        raise ConfigError(
            f"{path}: a sequence of runs (its sequence: block): read it with read_steps(), "
            "which checks every step"
        )
    return validated(path, raw)


def read_raw(
    path: pathlib.Path, *, out: str | None = None, sim: bool | None = None, overrides: Sequence[str] = ()
) -> dict[str, Any]:
    """The config as read (safe YAML, a mapping), with ``out``, ``sim`` and ``overrides``
    applied: not yet validated."""
    try:
        if (size := path.stat().st_size) > MAX_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes: a config is at most {MAX_BYTES // 1024} KB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the config: {error}") from None
    try:
        raw = read_yaml(text)
    except YamlRefused as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}{line}: not valid YAML (safe subset, no tags): {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: expected a mapping with keys instrument, experiment, save; got {shown(raw)}"
        )
    if out is not None:
        raw.setdefault("save", {})
        if isinstance(raw["save"], dict):
            raw["save"]["directory"] = out
    if sim is not None and isinstance(raw.get("instrument"), dict):
        raw["instrument"]["sim"] = sim
    if sim is not None and isinstance(raw.get("station"), dict):
        for entry in raw["station"].values():
            if isinstance(entry, dict):
                entry["sim"] = sim
    for override in overrides:
        apply_override(path, raw, override)
    return raw


def validated(path: pathlib.Path, raw: dict[str, Any]) -> Config | StationConfig:
    """A config as read, validated (one line per problem) and its output directory checked."""
    root: type[Config | StationConfig] = StationConfig if "station" in raw else Config
    try:
        config = root.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(explain(path, raw, error, root)) from None
    check_directory(path, config.save.directory)
    return config


def as_given(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> dict[str, Any]:
    """A config as the user gave it, for its run's record: the file, its text as it was when
    the run started, and the command line's overrides (``--set``, ``--out``, ``--sim``)."""
    path = pathlib.Path(path)
    try:
        text: str | None = path.read_text(encoding="utf-8")[:MAX_BYTES]
    except (OSError, UnicodeDecodeError):
        text = None
    return {"file": str(path.resolve()), "text": text, "overrides": list(overrides)}


def apply_override(path: pathlib.Path, raw: dict[str, Any], override: str) -> None:
    """``KEY.PATH=VALUE`` into the config as read, the value read as YAML (``0.1``,
    ``100 mV``, ``{type: moving, count: 5}``); validated with the rest of the file."""
    key, sep, text = override.partition("=")
    if not sep or not all(key.strip().split(".")):
        raise ConfigError(f"{path}: --set {override!r}: expected KEY.PATH=VALUE, e.g. instrument.nplc=0.1")
    try:
        value = read_yaml(text) if text.strip() else ""
    except (YamlRefused, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: --set {key}: cannot read {text!r}: {error}") from None
    set_key(raw, key.strip(), value, f"{path}: --set {key}")


def set_key(raw: dict[str, Any], key: str, value: Any, where: str) -> None:
    """``raw[a][b][c] = value`` for ``key`` ``a.b.c``, making the sections it lacks;
    ``where`` starts the message when a part of the path is no section."""
    keys = key.split(".")
    node: Any = raw
    for part in keys[:-1]:
        if not isinstance(node, dict):
            raise ConfigError(f"{where}: {part!r} is not a section")
        node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise ConfigError(f"{where}: {keys[-2]!r} is not a section")
    node[keys[-1]] = value


def explain(path: pathlib.Path, raw: Any, error: ValidationError, root: type[BaseModel] = Config) -> str:
    """One line per problem: file, key path, bad value, what is allowed."""
    lines = []
    problems = error.errors(include_url=False)
    for problem in problems[:MAX_MESSAGES]:
        location = [str(p) for p in problem["loc"] if not str(p).startswith(("function-", "tuple["))]
        if location[:1] == ["experiment"] and location[1:2] and location[1] in EXPERIMENTS:
            del location[1]  # the union's tag: the user wrote experiment.type, not a key
        message = problem["msg"].removeprefix("Value error, ")
        context = problem.get("ctx", {}).get("error")
        if isinstance(context, ParameterFieldError):  # an experiment's own check, naming its parameter
            location = [*location, context.field]
        elif isinstance(context, ConfigFieldError):
            if location[:1] == ["station"] and context.key.startswith("instrument."):
                location = [
                    *location[:2],
                    *context.key.split(".")[1:],
                ]  # the instrument checks say instrument.
            else:
                location = context.key.split(".")
        if problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
            location = [*location, "type"]
            missing = problem["type"] == "union_tag_not_found"
            message = (
                "missing: this key is required; " if missing else ""
            ) + f"one of {', '.join(EXPERIMENTS)}"
        key = ".".join(location) or "(top level)"
        value = _lookup(raw, location)
        if problem["type"] == "extra_forbidden":
            allowed = _allowed_keys(location[:-1], raw, root)
            message = f"unknown key; allowed here: {', '.join(allowed)}" if allowed else "unknown key"
        elif problem["type"] == "missing":
            message = "missing: this key is required"
        value_text = "" if value is _MISSING else f" = {shown(value)}"
        lines.append(f"{path}: {key}{value_text}: {message[:400]}")  # the models list fits
    if len(problems) > MAX_MESSAGES:
        lines.append(f"{path}: ... and {len(problems) - MAX_MESSAGES} more problems")
    return "\n".join(lines)


_MISSING = object()


def _lookup(raw: Any, location: list[str]) -> Any:
    node = raw
    for part in location:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _allowed_keys(location: list[str], raw: Any, root: type[BaseModel] = Config) -> list[str]:
    model: type[BaseModel] = root
    if root is StationConfig and location[:1] == ["station"] and len(location) >= 2:
        model, location = StationInstrumentConfig, location[2:]
    elif root is Config and location[:1] == ["experiment"]:
        kind = _lookup(raw, ["experiment", "type"])
        model = EXPERIMENTS.get(kind, IVSweepConfig) if isinstance(kind, str) else IVSweepConfig
        location = location[1:]
    for part in location:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    names = list(model.model_fields)
    return sorted(names, key=lambda name: name != "type")  # the tag first, then as declared


def check_directory(path: pathlib.Path, directory: str) -> None:
    """The output directory must exist or be creatable in an existing, writable parent."""
    target = pathlib.Path(directory)
    parent = target if target.exists() else target.parent
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{path}: save.directory = {directory!r}: exists and is not a directory")
    if not parent.exists():
        raise ConfigError(
            f"{path}: save.directory = {directory!r}: its parent {str(parent)!r} does not exist "
            "(labrun creates the last folder only)"
        )
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{path}: save.directory = {directory!r}: not writable")
    if target.exists():  # what access() cannot tell (/proc, a read-only mount): try it
        try:
            with tempfile.TemporaryFile(dir=target):
                pass
        except OSError as error:
            raise ConfigError(
                f"{path}: save.directory = {directory!r}: cannot write a file there ({error.strerror})"
            ) from None
