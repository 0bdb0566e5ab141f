# SPDX-License-Identifier: LGPL-3.0-or-later
"""The docs name only Python files that exist: every backticked ``*.py`` in README.md and docs/*.md.

A path with a directory (``sim/rtio/vcd.py``) must exist from the repository root; a bare file name
(``engine.py``, written inside a described directory) must be the name of some file of the project;
an absolute path (a session's scratch file under ``/tmp``) is never one: it exists only on the
machine that wrote it.
Paths into ARTIQ's own tree (``artiq/...``) and placeholders (``<mod>.py``) are not ours to check.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_PATH = re.compile(r"`([\w./<>-]+\.py)`")
_PROJECT_DIRS = ("sim", "analysis", "drivers", "repository", "tests", "benchmarks", "sinara")


def named_paths(text: str) -> set[str]:
    """Backticked ``*.py`` paths in Markdown ``text``, placeholders and ARTIQ's own paths left
    out."""
    return {p for p in _PATH.findall(text) if "<" not in p and not p.startswith("artiq/")}


def project_file_names() -> set[str]:
    names = {p.name for p in ROOT.glob("*.py")}
    for d in _PROJECT_DIRS:
        names |= {p.name for p in (ROOT / d).rglob("*.py")}
    return names


def missing(doc: Path, names: set[str]) -> list[str]:
    out = []
    for p in sorted(named_paths(doc.read_text(encoding="utf-8"))):
        ok = not p.startswith("/") and ((ROOT / p).is_file() if "/" in p else p in names)
        if not ok:
            out.append(p)
    return out


def test_docs_name_existing_files():
    names = project_file_names()
    bad = {doc.name: m for doc in DOCS if (m := missing(doc, names))}
    assert not bad, "docs name files that do not exist: {}".format(bad)


def test_checker_catches_a_missing_file(tmp_path):
    """The check can fail: a doc naming a file that is not there is reported."""
    doc = tmp_path / "x.md"
    doc.write_text(
        "See `sim/devices/corelog.py`, `comms/pyon.py`, `nosuch.py`, `<mod>.py` and "
        f"`{Path(__file__).resolve()}`.\n"
    )
    assert missing(doc, project_file_names()) == [
        str(Path(__file__).resolve()),
        "nosuch.py",
        "sim/devices/corelog.py",
    ]
