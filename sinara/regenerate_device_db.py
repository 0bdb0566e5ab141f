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
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

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


def generate(args: list[str]) -> str:
    """Output of ``artiq_ddb_template`` for the system description(s) ``args``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ddb.py"
        cmd = [sys.executable, "-m", "artiq.frontend.artiq_ddb_template"]
        cmd += [a if a.startswith("-") or a.isdigit() else str(ROOT / a) for a in args]
        subprocess.run(cmd + ["-o", str(out)], check=True)
        return out.read_text()


def splice(current: str, generated: str, begin: str) -> str:
    """``current`` with the text between the markers replaced by ``generated``."""
    head, rest = current.split(begin, 1)
    _, tail = rest.split(END, 1)
    return head + begin + generated.strip("\n") + "\n" + END + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    args = parser.parse_args()
    status = 0
    for name, template_args in TARGETS.items():
        ddb = ROOT / name
        current = ddb.read_text()
        new = splice(current, generate(template_args), begin_marker(template_args))
        if args.check:
            if new != current:
                print("{} is out of date with {}".format(name, " ".join(template_args)))
                status = 1
        else:
            ddb.write_text(new)
    return status


if __name__ == "__main__":
    sys.exit(main())
