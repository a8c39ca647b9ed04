"""Read a YAML config so that the file cannot be turned against the machine.

Why not plain ``yaml.safe_load``: it is safe from code execution, not from a file of
under 1 KB whose aliases expand to gigabytes ("billion laughs"), from nesting deep
enough to exhaust the stack, from ``!!binary`` or timestamps where text is expected, or
from a key given twice (the second silently wins: ``num_points: 11`` then ``1000000``).
Here: a size limit, no anchors or aliases, bounded depth, the core schema only (null,
bool, int, float, str, list, mapping), and duplicate keys refused with both lines.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

from labrun.drivers.errors import shown

#: a config is a page of text; more is a mistake or an attack
MAX_BYTES = 64 * 1024
MAX_DEPTH = 16


class YamlRefused(ValueError):
    """The text is not a config labrun reads; the message names the line."""


def _line(node_or_mark: Any) -> str:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    return f"line {mark.line + 1}" if mark is not None else "somewhere"


class ConfigLoader(yaml.SafeLoader):
    """SafeLoader with anchors, aliases, deep nesting, extra tags and duplicates refused."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise YamlRefused(
                f"{_line(event)}: anchors and aliases (&name, *name) are not accepted in a config"
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlRefused(f"{_line(event)}: nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise YamlRefused(f"{_line(key_node)}: a key must be plain text, got {shown(key)}") from None
            if key in seen:
                raise YamlRefused(
                    f"{_line(key_node)}: key {shown(key)} given twice (first on {_line(seen[key])}); keep one"
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


# the core schema only: no timestamps (a date stays text), no !!binary, !!set, !!omap, !!pairs
for _tag in (
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:binary",
    "tag:yaml.org,2002:set",
    "tag:yaml.org,2002:omap",
    "tag:yaml.org,2002:pairs",
):
    ConfigLoader.yaml_constructors = dict(ConfigLoader.yaml_constructors)
    ConfigLoader.yaml_constructors.pop(_tag, None)
ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(text: str) -> Any:
    """The document in ``text``; :class:`YamlRefused` or ``yaml.YAMLError`` if it is not one."""
    if len(text.encode("utf-8", errors="replace")) > MAX_BYTES:
        raise YamlRefused(f"{len(text):,} characters: a config is at most {MAX_BYTES // 1024} KB")
    loader = ConfigLoader(text)
    try:
        return loader.get_single_data()
    except ConstructorError as error:
        if error.problem and "could not determine a constructor" in error.problem:
            tag = error.problem.split("for the tag ")[-1]
            raise YamlRefused(
                f"{_line(error.problem_mark)}: not valid YAML for a config: "
                f"tags are not accepted ({tag}); write plain values"
            ) from None
        raise
    except RecursionError:
        raise YamlRefused(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
