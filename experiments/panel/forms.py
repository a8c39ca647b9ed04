"""The configs the panel offers, and the page's form: an experiment's parameters as text,
read off the experiment's one declaration (its parameters model).

Why every value is text: the page sends what the user typed (``100 mV``, ``[50 mV, 5 V]``),
and it becomes a ``--set`` override read as YAML and checked with the whole file, so the
form says exactly what ``labrun check`` would. Only ``experiment.*`` keys can be set from
the page: where data go and which instrument is driven stay the file's.
"""

from __future__ import annotations

import pathlib
import re
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel

from labrun.experiments.config import ConfigError
from labrun.experiments.config.schema import EXPERIMENTS
from labrun.experiments.config.station import FetConfig
from labrun.experiments.config.yaml_reader import YamlRefused, read_yaml
from labrun.experiments.model.parameters import unit_of

#: a config's name: its file's stem in the config directory, nothing that walks elsewhere
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def config_names(config_dir: pathlib.Path) -> list[str]:
    """The ``*.yaml`` files of the config directory (not its subdirectories), by stem."""
    return sorted(p.stem for p in config_dir.glob("*.yaml") if p.is_file() and NAME.match(p.stem))


def config_path(config_dir: pathlib.Path, name: str) -> pathlib.Path:
    """The file of config ``name``; anything not listed in the directory is refused."""
    if not NAME.match(name) or name not in config_names(config_dir):
        raise ConfigError(f"no config {name!r} in {config_dir}")
    return config_dir / f"{name}.yaml"


def parameters(config_dir: pathlib.Path, name: str) -> list[dict[str, Any]]:
    """The experiment's parameters as the form shows them, read off the experiment's one
    declaration (its parameters model): dotted key, the value as the file has it (as YAML
    text) or the default, the unit, the help and the choices."""
    path = config_path(config_dir, name)
    try:
        raw = read_yaml(path.read_text(encoding="utf-8"))
    except (OSError, YamlRefused, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    experiment = raw.get("experiment") if isinstance(raw, dict) else None
    if not isinstance(experiment, dict):
        raise ConfigError(f"{path}: no experiment section")
    model = experiment_model(raw)
    if model is None:  # an unknown type: the file's own keys (labrun check says what is wrong)
        return [{"key": key, "value": value} for key, value in _flat("experiment", experiment)]
    return [
        {"key": "experiment.type", "value": _text(experiment.get("type"))},
        *_form("experiment", model, experiment),
    ]


def experiment_model(raw: dict[str, Any]) -> type[BaseModel] | None:
    """The model that declares a config's experiment (by its ``type``), or None."""
    kind = raw.get("experiment", {}).get("type")
    models: dict[str, type[BaseModel]] = {**EXPERIMENTS, "fet_output": FetConfig, "fet_transfer": FetConfig}
    return models.get(kind) if isinstance(kind, str) else None


def _form(prefix: str, model: type[BaseModel], given: dict[str, Any]) -> list[dict[str, Any]]:
    """Every field of ``model`` (nested models flattened), valued from ``given``."""
    out: list[dict[str, Any]] = []
    for name, field in model.model_fields.items():
        if name == "type":
            continue
        key = f"{prefix}.{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            inner = given.get(name)
            out += _form(key, annotation, inner if isinstance(inner, dict) else {})
            continue
        unit = unit_of(field)
        if name in given:
            value = _text(given[name])
        elif field.is_required() or field.default is None:
            value = ""
        else:
            value = _text(field.default) + (f" {unit}" if unit and " " not in unit else "")
        choices = list(get_args(annotation)) if get_origin(annotation) is Literal else []
        out.append(
            {"key": key, "value": value, "unit": unit, "help": field.description or "", "choices": choices}
        )
    return out


def _flat(prefix: str, node: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in node.items():
        if isinstance(value, dict):
            out += _flat(f"{prefix}.{key}", value)
        else:
            out.append((f"{prefix}.{key}", _text(value)))
    return out


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def overrides_of(values: dict[str, str]) -> list[str]:
    """The page's values as overrides; a key outside ``experiment.`` or with odd characters
    is refused (the data directory and the instruments are the file's)."""
    overrides = []
    for key, value in values.items():
        if not isinstance(key, str) or not re.fullmatch(r"experiment(\.[A-Za-z0-9_]{1,40}){1,3}", key):
            raise ConfigError(f"{key!r}: the page sets experiment.* keys only")
        if not isinstance(value, str) or len(value) > 200 or any(ch in value for ch in "\n\r\0"):
            raise ConfigError(f"{key}: a value is one line of text, at most 200 characters")
        if key == "experiment.type":
            raise ConfigError("experiment.type: the experiment is the file's")
        overrides.append(f"{key}={value}")
    return overrides
