# SPDX-License-Identifier: LGPL-3.0-or-later
"""``sinara/regenerate_device_db.py``: its ``--check`` compares what the device databases define,
not their layout, and without ARTIQ it says so in one line (exit 2) instead of a traceback. (The
template itself needs ARTIQ: checked outside CI, where the committed databases are up to date.)"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "sinara" / "regenerate_device_db.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("regenerate_device_db", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regen = _load_script()  # a script, not a package


@pytest.mark.parametrize("name", sorted(regen.TARGETS))
def test_check_compares_definitions_not_layout(name):
    text = (ROOT / name).read_text()
    begin = regen.begin_marker(regen.TARGETS[name])
    generated = text.split(begin, 1)[1].split(regen.END, 1)[0]
    relaid = generated.replace(",\n", ",\n\n")  # another layout of the same definitions
    assert regen.defined(regen.splice(text, relaid, begin)) == regen.defined(text)
    changed = generated.replace('"type": "local"', '"type": "controller"', 1)
    assert regen.defined(regen.splice(text, changed, begin)) != regen.defined(text)
    with pytest.raises(regen.RegenerateError, match="markers"):
        regen.splice(text.replace(regen.END, ""), generated, begin)


def test_without_artiq_one_line_and_exit_2():
    done = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), "--check"], capture_output=True, text=True
    )
    artiq = importlib.util.find_spec("artiq")
    if artiq is not None and "standin" not in str(artiq.origin):
        pytest.skip("ARTIQ is importable here: the template runs")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "ARTIQ is not importable" in done.stderr
