"""Configs made to hurt: generated (not stored), each run as a user would, with bounds.

Each must be refused with exit 2 and a short message naming the file, in a process whose
memory is capped at 1 GiB and within the test's timeout: no alias expansion, no
arithmetic in units, no megabytes echoed back, no traceback.
"""

from __future__ import annotations

import pathlib
import resource
import subprocess
import sys

import pytest

GOOD = """instrument:
  model: keithley2400
  address: {address}
  sim: true
experiment:
  type: iv_sweep
  start: -1 V
  stop: {stop}
  num_points: 11
  compliance: 10 mA
"""

CASES = {
    "billion laughs": (
        "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(9)
        ),
        "anchors and aliases",
    ),
    "nested 30,000 deep": ("x: " + "[" * 30_000 + "]" * 30_000 + "\n", "nested deeper than 16 levels"),
    "100,000 unknown keys": (
        GOOD.format(address="GPIB0::24::INSTR", stop="1 V") + "".join(f"k{i}: {i}\n" for i in range(100_000)),
        "a config is at most 64 KB",
    ),
    "a 52 MB value": (
        GOOD.format(address="GPIB0::24::INSTR", stop="x" * 52_000_000),
        "a config is at most 64 KB",
    ),
    "a 10 MB address": (GOOD.format(address="G" * 10_000_000, stop="1 V"), "a config is at most 64 KB"),
    "power in a unit": (GOOD.format(address="GPIB0::24::INSTR", stop="'9**9**9 V'"), "no arithmetic"),
    "a 60 KB address": (
        GOOD.format(address="G" * 60_000, stop="1 V"),
        r"\(60002 characters\)|60000 characters",
    ),
    "300 unknown keys": (
        GOOD.format(address="GPIB0::24::INSTR", stop="1 V").replace(
            "sim: true\n", "sim: true\n" + "".join(f"  k{i}: {i}\n" for i in range(300))
        ),
        r"\.\.\. and 28\d more problems",
    ),
}


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_config_is_refused_quickly_in_bounded_memory_and_few_words(
    case: str, tmp_path: pathlib.Path
) -> None:
    import re

    text, expected = CASES[case]
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "labrun.experiments.cli", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=_cap_memory,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert str(path) in done.stderr
    assert re.search(expected, done.stderr), done.stderr[:2000]
    assert "Traceback" not in done.stderr
    assert len(done.stderr) < 10_000  # the bad value is never echoed whole
