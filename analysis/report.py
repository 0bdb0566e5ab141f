# SPDX-License-Identifier: LGPL-3.0-or-later
"""Markdown/HTML reports with PNG plots (matplotlib, Agg backend) of a :class:`FidelityReport`.

Plots are drawn into a staging directory and moved next to the report only when everything
succeeded, so a failure never leaves a half-written report.
"""
from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np

from .estimate import Estimate
from .io import staged_outputs
from .summary import FidelityReport

__all__ = ["render_markdown", "write_report"]


def _fmt(e: Estimate | None, digits: int = 4) -> str:
    if e is None:
        return "n/a"
    v = "n/a" if np.isnan(e.value) else f"{e.value:.{digits}f}"
    return f"{v} [{e.lo:.{digits}f}, {e.hi:.{digits}f}] ({e.cl:.3g} CL; {e.method})"


def _plots(rep: FidelityReport, stage: Path, stem: str) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}

    def save(fig: object, name: str, title: str) -> None:
        fn = f"{stem}-{name}.png"
        fig.savefig(stage / fn, dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
        plt.close(fig)  # type: ignore[arg-type]
        out[title] = fn

    if rep.scans:
        fig, ax = plt.subplots(figsize=(6, 4))
        for s, (phase, ne, n) in rep.scans.items():
            y = 2 * ne / n - 1
            err = 2 * np.sqrt(np.clip((ne + 0.5) * (n - ne + 0.5), 0, None) / (n + 1) ** 3)
            lab = "ψ+" if s > 0 else "ψ−"
            ax.errorbar(phase, y, yerr=err, fmt="o", ms=3, label=f"{lab} data")
            part = rep.parts.get(s)
            if part is not None and part.fit is not None:
                x = np.linspace(0, 1, 400)
                ax.plot(x, part.fit(x), label=f"{lab} fit: {part.fit.model}")
        ax.set_xlabel("analysis phase φ (turns)")
        ax.set_ylabel("parity Π")
        ax.set_ylim(-1.1, 1.1)
        ax.legend(fontsize=7)
        save(fig, "parity", "Parity scan with fit")
    for s, t in rep.tomography.items():
        fig, axs = plt.subplots(1, 2, figsize=(9, 3.5))
        labels = ["00", "01", "10", "11"]
        for ax, part, name in ((axs[0], np.real(t.rho), "Re ρ"), (axs[1], np.imag(t.rho), "Im ρ")):
            x = np.arange(16)
            ax.bar(x, part.ravel())
            ax.set_xticks(x, [f"{a},{b}" for a in labels for b in labels], rotation=90, fontsize=6)
            ax.set_title(f"{name} ({'ψ+' if s > 0 else 'ψ−'} heralds)")
        save(fig, f"rho-{'plus' if s > 0 else 'minus'}", f"Density matrix ({'ψ+' if s > 0 else 'ψ−'})")
    if rep.arrival is not None:
        edges, counts = rep.arrival
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.stairs(counts, edges, label=rep.arrival_source or "")
        if rep.lifetime is not None:
            ax.stairs(rep.lifetime.expected(edges), edges, label=f"fit τ = {rep.lifetime.tau.value:.2f} ns")
        ax.set_yscale("log")
        ax.set_xlabel("arrival time (ns)")
        ax.set_ylabel("counts per bin")
        ax.legend(fontsize=7)
        save(fig, "arrival", "Photon arrival times")
    if rep.rate_vs_time is not None:
        e, c = rep.rate_vs_time
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.stairs(c / np.diff(e), e)
        ax.set_xlabel("wall time since first herald (s)")
        ax.set_ylabel("heralds per s (wall)")
        save(fig, "rate", "Herald rate versus time")
    if rep.attempts_distribution is not None:
        a = rep.attempts_distribution
        fig, ax = plt.subplots(figsize=(6, 3.5))
        x = np.arange(a.edges.size)
        ax.bar(x, a.observed, label="observed")
        ax.plot(x, a.expected, "k.-", label=f"geometric, p = {a.p:.3g}")
        ax.set_xticks(x[:: max(1, x.size // 10)], [str(v) for v in a.edges[:: max(1, x.size // 10)]], fontsize=7)
        ax.set_xlabel("attempts per herald (bin start; last bin = overflow)")
        ax.set_ylabel("heralds")
        ax.legend(fontsize=7)
        save(fig, "attempts", "Attempts per herald")
    pts = [w for w in (rep.window or []) if w.fidelity is not None]
    if pts:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        f = np.array([w.fidelity.value for w in pts])  # type: ignore[union-attr]
        lo = np.array([w.fidelity.lo for w in pts])  # type: ignore[union-attr]
        hi = np.array([w.fidelity.hi for w in pts])  # type: ignore[union-attr]
        x = np.array([w.fraction for w in pts])
        ax.errorbar(x, f, yerr=[f - lo, hi - f], fmt="o-")
        ax.set_xlabel("relative herald rate (gate narrowed)")
        ax.set_ylabel("fidelity")
        save(fig, "window", "Detection-window trade-off")
    return out


def render_markdown(rep: FidelityReport, plots: dict[str, str]) -> str:
    """Markdown text of the report (``plots`` maps titles to PNG file names)."""
    lines = ["# ionlink fidelity report", "", "Files: " + ", ".join(f"`{os.path.basename(f)}`" for f in rep.files), ""]
    lines += [f"- schema version {rep.schema_version}, experiment `{rep.experiment}`, mode `{rep.mode}`", ""]
    lines += ["## Fidelity", "", "| quantity | value [interval] |", "|---|---|"]
    rows = [("F (heralded, ψ+ and ψ− combined)", rep.fidelity), ("F ψ+", rep.fidelity_psi_plus), ("F ψ−", rep.fidelity_psi_minus)]
    if rep.fidelity_spam_corrected is not None:
        rows.append(("F SPAM-corrected (beside the raw value)", rep.fidelity_spam_corrected))
    for s, p in rep.parts.items():
        lab = "ψ+" if s > 0 else "ψ−"
        rows += [(f"P_odd {lab}", p.p_odd), (f"coherence C {lab}", p.coherence)]
    for s, t in rep.tomography.items():
        lab = "ψ+" if s > 0 else "ψ−"
        rows += [(f"F MLE {lab}", t.fidelity), (f"concurrence {lab}", t.concurrence)]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in rows]
    lines += ["", "## Heralds", "", "| quantity | value |", "|---|---|"]
    lines += [f"| attempts | {rep.attempts} |", f"| heralds | {rep.heralds} |", f"| success probability | {_fmt(rep.p_success, 6)} |"]
    lines += [f"| rate, lab time (s⁻¹) | {_fmt(rep.rate_lab, 2)} |", f"| rate, wall time (s⁻¹) | {_fmt(rep.rate_wall, 2)} |"]
    lines += [f"| lab / wall time (s) | {rep.lab_time_s:.4g} / {rep.wall_time_s:.4g} |"]
    if rep.duty_cycle is not None:
        lines.append(f"| duty cycle | {rep.duty_cycle:.4f} |")
    if rep.split is not None:
        lines.append(f"| ψ+ / ψ− heralds | {rep.split.psi_plus} / {rep.split.psi_minus} |")
        lines.append("| by pattern | " + ", ".join(f"0b{k:04b}: {v}" for k, v in sorted(rep.split.by_pattern.items())) + " |")
    if rep.attempts_distribution is not None:
        a = rep.attempts_distribution
        lines.append(f"| attempts per herald | mean {a.mean_attempts:.4g} (geometric {1 / a.p:.4g}); χ² = {a.chi2:.3g}, dof {a.dof}, p = {a.p_value:.3g} |")
    if rep.lifetime is not None:
        lines.append(f"| lifetime τ (ns, from {rep.arrival_source}) | {_fmt(rep.lifetime.tau, 3)} |")
    if rep.window:
        lines += ["", "## Detection-window trade-off", "", "| gate stop (mu) | heralds | relative rate | F |", "|---|---|---|---|"]
        lines += [f"| {w.gate_stop_mu} | {w.heralds} | {w.fraction:.3f} | {_fmt(w.fidelity)} |" for w in rep.window]
    if rep.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in rep.notes]
    lines += ["", "## Plots", ""]
    for title, fn in plots.items():
        lines += [f"### {title}", "", f"![{title}]({fn})", ""]
    return "\n".join(lines) + "\n"


def _to_html(md: str) -> str:
    body = []
    in_table = False
    for line in md.splitlines():
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("#"):
            n = len(line) - len(line.lstrip("#"))
            body.append(f"<h{n}>{html.escape(line[n:].strip())}</h{n}>")
        elif line.startswith("!["):
            alt, src = line[2:].split("](", 1)
            body.append(f'<img alt="{html.escape(alt)}" src="{html.escape(src.rstrip(")"))}">')
        elif line.startswith("- "):
            body.append(f"<li>{html.escape(line[2:])}</li>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    style = "body{font-family:sans-serif;max-width:60em}td{border:1px solid #ccc;padding:2px 6px}"
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>ionlink report</title><style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"


def write_report(rep: FidelityReport, output: str | os.PathLike[str], *, formats: tuple[str, ...] = ("md", "html")) -> list[Path]:
    """Write the report (``<stem>.md`` and/or ``<stem>.html``) and its PNG plots next to it.

    :param output: report path; its suffix is replaced by each format's
    :return: paths written
    """
    out = Path(output)
    stem = out.stem if out.suffix in (".md", ".html") else out.name
    parent = out.parent if str(out.parent) else Path(".")
    with staged_outputs(parent) as stage:
        plots = _plots(rep, stage, stem)
        md = render_markdown(rep, plots)
        if "md" in formats:
            (stage / f"{stem}.md").write_text(md, encoding="utf-8")
        if "html" in formats:
            (stage / f"{stem}.html").write_text(_to_html(md), encoding="utf-8")
        written = [parent / q.name for q in stage.iterdir()]
    return sorted(written)
