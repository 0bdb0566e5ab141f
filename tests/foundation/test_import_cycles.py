# SPDX-License-Identifier: LGPL-3.0-or-later
"""No import cycles: a static walk of every import statement (module level, inside functions and
under ``TYPE_CHECKING`` alike) of ``sim/`` (the ARTIQ stand-in under its ``artiq.*`` names) and
``analysis/``: no module lies on an import cycle, and the stand-in's language core imports nothing
from the simulator (the simulator installs its hooks there while a kernel runs).
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
STANDIN = ROOT / "sim" / "standin"


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(STANDIN if STANDIN in path.parents else ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
    files = [p for top in ("sim", "analysis", "comms") for p in (ROOT / top).rglob("*.py")]
    return {_module_name(p): p for p in files}


def _imports(name: str, path: pathlib.Path, known: set[str]) -> set[str]:
    """Project modules that ``name`` imports anywhere in its source."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name`` mod
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        out.update(t for t in targets if t in known and t != name)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    return {name: _imports(name, path, known) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_walker_finds_a_cycle():
    """The walker sees function-level and relative imports (a planted cycle is found)."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    src = ast.parse("def f():\n    from . import world\n")
    assert isinstance(src.body[0].body[0], ast.ImportFrom)  # type: ignore[attr-defined]


def test_graph_has_function_level_imports():
    graph = import_graph()
    # sim.rtio.views imports the DDS timeline inside a function
    assert "sim.rtio.phy.dds_timeline" in graph["sim.rtio.views"]
    assert "sim.physics.bsa" in graph["sim.physics.attempts"]  # relative import


def test_no_import_cycles():
    graph = import_graph()
    assert any(m.startswith("analysis.") for m in graph) and "sim.runner" in graph
    assert cycles(graph) == []


def test_standin_language_core_imports_nothing_from_sim():
    graph = import_graph()
    assert "sim.kernel" in graph["sim.devices.core"]
    assert not [m for m in graph["artiq.language.core"] if m.split(".")[0] == "sim"]


def test_analysis_imports_nothing_from_sim():
    """``analysis`` reads results files from any lab: no module of it imports the simulator (or the
    ARTIQ stand-in), at module level, in a function or for type checking; it may use ``comms``
    (the PYON codec)."""
    graph = import_graph()
    assert "analysis.io" in graph and "comms.pyon" in graph["analysis.io"]  # the walker sees both
    bad = {
        m: sorted(t for t in targets if t.split(".")[0] not in ("analysis", "comms"))
        for m, targets in graph.items()
        if m == "analysis" or m.startswith("analysis.")
    }
    assert not {m: t for m, t in bad.items() if t}, bad


def test_every_project_import_names_an_existing_module():
    """A function-level import of a project module that no longer exists (after a move or a
    rename) fails only when that function runs: name every such import here."""
    mods = _modules()
    missing = []
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                target = node.module
            elif isinstance(node, ast.Import):
                target = node.names[0].name
            else:
                continue
            if target.split(".")[0] in ("sim", "analysis") and target not in mods:
                missing.append(f"{name}: {target}")
    assert missing == []
