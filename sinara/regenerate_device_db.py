# SPDX-License-Identifier: LGPL-3.0-or-later
"""Regenerate the hardware part of ``device_db.py`` from ``sinara/ionlink_kasli.json`` and of
``device_db_drtio.py`` from ``sinara/ionlink_master.json`` with the satellite (destination 1)
``sinara/ionlink_satellite.json``.

Runs ARTIQ's ``artiq_ddb_template`` on the Sinara system descriptions and splices its output
between the ``BEGIN/END artiq_ddb_template`` markers of each device database. The
hand-maintained ionlink section after the END marker (entangler channels, aliases, logical
devices) is kept.

Usage (any Python that can import ARTIQ and jsonschema)::

    python sinara/regenerate_device_db.py            # rewrite device_db.py in place
    python sinara/regenerate_device_db.py --check    # exit 1 if device_db.py is out of date

The written files are laid out by ``ruff format`` (as ``make check`` wants them) when ruff can be
found (on ``PATH`` or importable). ``--check`` compares what the databases *define* (the
``device_db`` dict each evaluates to), not their layout. Without ARTIQ, or when the template
fails, one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: device database → ``artiq_ddb_template`` arguments (paths relative to the repository)
TARGETS = {
    "device_db.py": ["sinara/ionlink_kasli.json"],
    "device_db_drtio.py": [
        "sinara/ionlink_master.json",
        "-s",
        "1",
        "sinara/ionlink_satellite.json",
    ],
}
END = "# ---- END artiq_ddb_template ----\n"


def begin_marker(args: list[str]) -> str:
    """The BEGIN line of a device database generated from ``args``."""
    line = "# ---- BEGIN artiq_ddb_template {} (generated, do not edit) ----".format(" ".join(args))
    return line + ("  # noqa: E501\n" if len(line) > 100 else "\n")


class RegenerateError(Exception):
    """What stops the regeneration (one line for the user)."""


def generate(args: list[str]) -> str:
    """Output of ``artiq_ddb_template`` for the system description(s) ``args``.

    :raises RegenerateError: ARTIQ is not importable, or the template failed."""
    if importlib.util.find_spec("artiq") is None:
        raise RegenerateError(
            "ARTIQ is not importable by {}: run this with a Python that has ARTIQ and "
            "jsonschema".format(sys.executable)
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ddb.py"
        cmd = [sys.executable, "-m", "artiq.frontend.artiq_ddb_template"]
        cmd += [a if a.startswith("-") or a.isdigit() else str(ROOT / a) for a in args]
        done = subprocess.run(cmd + ["-o", str(out)], capture_output=True, text=True)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["exit status {}".format(done.returncode)]
            raise RegenerateError("artiq_ddb_template {}: {}".format(" ".join(args), lines[-1]))
        return out.read_text()


def ruff_format(text: str, name: str) -> str | None:
    """``text`` laid out by ``ruff format`` as the file ``name`` (None: no ruff found)."""
    if shutil.which("ruff"):
        cmd = ["ruff"]
    elif importlib.util.find_spec("ruff") is not None:
        cmd = [sys.executable, "-m", "ruff"]
    else:
        return None
    cmd += ["format", "--stdin-filename", str(ROOT / name), "-"]
    done = subprocess.run(cmd, input=text, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RegenerateError("ruff format {}: {}".format(name, done.stderr.strip()))
    return done.stdout


def defined(text: str) -> Any:
    """The ``device_db`` a device-database text defines."""
    scope: dict[str, Any] = {"__file__": str(ROOT / "device_db.py")}
    exec(compile(text, "<device_db>", "exec"), scope)
    return scope["device_db"]


def splice(current: str, generated: str, begin: str) -> str:
    """``current`` with the text between the markers replaced by ``generated``."""
    if begin not in current or END not in current.split(begin, 1)[1]:
        raise RegenerateError("the markers {!r} ... {!r} are not in the file".format(begin, END))
    head, rest = current.split(begin, 1)
    _, tail = rest.split(END, 1)
    return head + begin + generated.strip("\n") + "\n" + END + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    args = parser.parse_args()
    status = 0
    try:
        for name, template_args in TARGETS.items():
            ddb = ROOT / name
            current = ddb.read_text()
            new = splice(current, generate(template_args), begin_marker(template_args))
            if args.check:
                if defined(new) != defined(current):
                    print("{} is out of date with {}".format(name, " ".join(template_args)))
                    status = 1
                continue
            formatted = ruff_format(new, name)
            if formatted is None:
                print("{0}: no ruff found: run `ruff format {0}` before committing".format(name))
            ddb.write_text(new if formatted is None else formatted)
    except RegenerateError as exc:
        sys.stderr.write("regenerate_device_db: error: {}\n".format(exc))
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
