"""The README's (and docs/'s) Python examples run as written (each in a fresh process), so the
first thing a newcomer tries does not fail."""

from __future__ import annotations

import pathlib
import re
import textwrap

import pytest

from .support import run_script

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
#: the user's guide and the documents it links to: every Python block in them runs
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [  # dedented: a block inside a list item is indented with it
    textwrap.dedent(b)
    for page in PAGES
    for b in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
]
NEEDS_HARDWARE = "ASRL/dev/ttyUSB0"  # the real-instrument example: a serial port


def runnable() -> list[str]:
    return [block for block in BLOCKS if NEEDS_HARDWARE not in block]


def test_the_readme_has_its_examples() -> None:
    assert len(BLOCKS) >= 6
    assert len(runnable()) == len(BLOCKS) - 1


@pytest.mark.parametrize("block", runnable(), ids=lambda b: b.splitlines()[0][:40])
def test_readme_python_block_runs(block: str, tmp_path: pathlib.Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(block, encoding="utf-8")
    run_script(script, tmp_path)


CONFIGS = [b for b in re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)]


def test_the_readme_config_is_valid(tmp_path: pathlib.Path) -> None:
    from labrun.experiments.cli.main import main

    full = [c for c in CONFIGS if "experiment:" in c and "instrument:" in c]
    assert full, "README shows a whole config"
    for i, text in enumerate(full):
        path = tmp_path / f"config{i}.yaml"
        path.write_text(text, encoding="utf-8")
        assert main(["check", str(path), "--out", str(tmp_path)]) == 0
        assert main(["run", str(path), "--out", str(tmp_path), "--no-progress"]) == 0
