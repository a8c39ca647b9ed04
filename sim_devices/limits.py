"""A twin's limits, taken from its model's driver: declared once, in the drivers' table.

Why: a twin file once repeated the driver's numbers (the 2400's source delay up to
9999.999 s in both), and a variant (the 2410's 1100 V) would have needed a twin file of
its own. Now a twin setting says ``within: NAME`` and its bounds are the driver's:

- ``voltage`` / ``current``: a source level, ± the model's ``limits.max_voltage`` / ``max_current``;
- ``voltage_span`` / ``current_span``: a step between two levels, ± twice that;
- ``NAME``: the bounds of the driver's setting ``NAME`` (``nplc``, ``source_delay``,
  ``current_limit``, ``voltage_measure_range``, ...: ``Setting.bounds(model)``);
- ``±NAME``: the same, symmetric (a range the instrument also takes negative: ``-20`` is 20 V).

The simulator may import the drivers (they never import it: ``tests/test_layout.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from labrun.drivers.sourcemeter import SourceMeter

Within = Callable[[str], tuple[float, float]]


def within_of(driver: type[SourceMeter]) -> Within:
    """What ``within: NAME`` means for a twin of ``driver``'s model."""
    limits = driver.limits
    levels = {"voltage": limits.max_voltage, "current": limits.max_current}

    def bounds(name: str) -> tuple[float, float]:
        if name in levels:
            return -levels[name], levels[name]
        if name.endswith("_span") and name.removesuffix("_span") in levels:
            most = 2 * levels[name.removesuffix("_span")]
            return -most, most
        symmetric = name.startswith("±")
        setting = driver.setting_table().get(name.removeprefix("±"))
        found = None if setting is None else setting.bounds(driver)
        if found is None:
            raise ValueError(f"within: {name!r}: the {driver.model}'s table has no bounds by that name")
        low, high = found
        return (-high, high) if symmetric else (low, high)

    return bounds
