# SPDX-License-Identifier: LGPL-3.0-or-later
"""Regenerate the hardware part of ``device_db.py`` from ``sinara/ionlink_kasli.json``.

Runs ARTIQ's ``artiq_ddb_template`` on the Sinara system description and splices its output
between the ``BEGIN/END artiq_ddb_template`` markers of ``device_db.py``. The hand-maintained
ionlink section after the END marker (entangler channel, aliases, logical devices) is kept.

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
JSON = ROOT / "sinara" / "ionlink_kasli.json"
DDB = ROOT / "device_db.py"
BEGIN = "# ---- BEGIN artiq_ddb_template sinara/ionlink_kasli.json (generated, do not edit) ----\n"
END = "# ---- END artiq_ddb_template ----\n"


def generate() -> str:
    """Output of ``artiq_ddb_template`` for the system description."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ddb.py"
        subprocess.run(
            [sys.executable, "-m", "artiq.frontend.artiq_ddb_template", str(JSON), "-o", str(out)],
            check=True,
        )
        return out.read_text()


def splice(current: str, generated: str) -> str:
    """``current`` with the text between the markers replaced by ``generated``."""
    head, rest = current.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + generated.strip("\n") + "\n" + END + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, do not write")
    args = parser.parse_args()
    current = DDB.read_text()
    new = splice(current, generate())
    if args.check:
        if new != current:
            print("device_db.py is out of date with sinara/ionlink_kasli.json", file=sys.stderr)
            return 1
        return 0
    DDB.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
