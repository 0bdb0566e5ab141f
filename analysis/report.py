# SPDX-License-Identifier: LGPL-3.0-or-later
"""Markdown/HTML reports with PNG plots of a :class:`FidelityReport` or a calibration summary.

Markdown is rendered to HTML by markdown-it-py; the figures are drawn by :mod:`analysis.plots`.

Plots are drawn into a staging directory and moved next to the report only when everything
succeeded, so a failure never leaves a half-written report.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import calibration as cal
from .estimate import DEFAULT_CL, Estimate
from .fidelity_report import PhotonTiming
from .folders import report_stem, staged_outputs
from .summary import FidelityReport

__all__ = ["render_calibration", "render_markdown", "to_html", "write_report"]


def _fmt(e: Estimate | None, digits: int = 4) -> str:
    if e is None:
        return "n/a"
    v = "n/a" if np.isnan(e.value) else f"{e.value:.{digits}f}"
    return f"{v} [{e.lo:.{digits}f}, {e.hi:.{digits}f}] ({e.cl:.3g} CL; {e.method})"


def _plots(rep: Any, stage: Path, stem: str, cl: float) -> dict[str, str]:
    """Draw the figures of a report into ``stage``; returns {title: PNG file name}."""
    from . import plots as pl

    plt = pl._plt()
    out: dict[str, str] = {}

    def save(fig: Any, name: str, title: str) -> None:
        fn = f"{stem}-{name}.png"
        fig.savefig(stage / fn, dpi=110)
        plt.close(fig)
        out[title] = fn

    if isinstance(rep, FidelityReport):
        _fidelity_plots(rep, save, cl)
    elif isinstance(rep, cal.SinglePhotonSummary):
        if rep.t_mu.size:
            lo, hi = int(rep.t_mu.min()), max(int(rep.t_mu.max()) + 1, rep.gate_mu[1])
            edges = np.arange(lo, hi + 1)
            save(
                pl.arrival_figure(
                    edges,
                    np.bincount(rep.t_mu - lo, minlength=hi - lo)[: hi - lo],
                    rep.lifetime,
                    "photons.t_mu",
                ),
                "arrival",
                "Photon arrival times",
            )
    elif isinstance(rep, cal.HOMSummary):
        save(pl.hom_figure(rep.delay_mu, rep.p_coinc, rep.visibility), "hom", "HOM coincidences")
    elif isinstance(rep, cal.ReadoutSummary):
        for x, r in rep.thresholds.items():
            save(
                pl.readout_figure(rep.bright[x], rep.dark[x], r.threshold, x),
                f"readout-{x}",
                f"Readout histograms, ion {x}",
            )
    elif isinstance(rep, cal.DarkCountSummary):
        save(pl.dark_figure(rep.dark, rep.background), "rates", "Dark and background count rates")
    return out


def _fidelity_plots(rep: FidelityReport, save: Any, cl: float) -> None:
    from . import plots as pl
    from .bell import bell_state

    fe, st, tm = rep.estimates, rep.stats, rep.timing
    if fe.scans and "parity" in rep.mode.split("+"):
        fits = {s: p.fit for s, p in fe.parts.items() if p.fit is not None}
        save(pl.parity_figure(fe.scans, fits, cl=cl), "parity", "Parity scan with fit")
    for s, t in fe.tomography.items():
        v = bell_state(s)
        lab = "ψ+" if s > 0 else "ψ−"
        save(
            pl.density_matrix_figure(t.rho, np.outer(v, v.conj()), f"{lab} heralds (MLE)"),
            f"rho-{'plus' if s > 0 else 'minus'}",
            f"Density matrix ({lab}) beside the ideal state",
        )
    if tm.arrival is not None:
        arr = tm.arrival
        save(
            pl.arrival_figure(
                arr.edges,
                arr.counts,
                rep.lifetime,
                tm.arrival_source or "",
                from_excitation=tm.arrival_from_excitation,
            ),
            "arrival",
            "Photon arrival times",
        )
    if st.rate_vs_time is not None:
        rvt = st.rate_vs_time
        save(
            pl.rate_figure(rvt.edges, rvt.counts, rep.rate_lab, cl=cl),
            "rate",
            "Herald rate versus lab time",
        )
    if st.attempts_distribution is not None:
        a = st.attempts_distribution
        save(pl.attempts_figure(a.edges, a.observed, a.p), "attempts", "Attempts per herald")
    pts = [w for w in (tm.window or []) if w.fidelity is not None]
    if pts:
        save(pl.window_figure(pts), "window", "Detection-window trade-off")


def render_markdown(rep: FidelityReport, plots: dict[str, str]) -> str:
    """Markdown text of the report (``plots`` maps titles to PNG file names)."""
    fe, st, tm = rep.estimates, rep.stats, rep.timing
    lines = [
        "# ionlink fidelity report",
        "",
        "Files: " + ", ".join(f"`{os.path.basename(f)}`" for f in rep.files),
        "",
    ]
    path = f", heralded by `{rep.source.heralding}`" if rep.source.heralding else ""
    lines += [
        f"- schema version {rep.source.schema_version}, experiment `{rep.source.experiment}`, "
        f"mode `{rep.mode}`{path}",
    ]
    if rep.source.labs:
        lines.append(f"- simulated lab: {'; '.join(f'`{lab}`' for lab in rep.source.labs)}")
    lines.append("")
    lines += ["## Fidelity", "", "| quantity | value [interval] |", "|---|---|"]
    rows = [
        ("F (heralded, ψ+ and ψ− combined)", rep.fidelity),
        ("F ψ+", rep.fidelity_psi_plus),
        ("F ψ−", rep.fidelity_psi_minus),
    ]
    if rep.fidelity_spam_corrected is not None:
        rows.append(("F SPAM-corrected (beside the raw value)", rep.fidelity_spam_corrected))
    if fe.p_odd is not None:
        rows.append(("P_odd (Z-basis heralds, ψ+ and ψ−)", fe.p_odd))
    for s, p in fe.parts.items():
        lab = "ψ+" if s > 0 else "ψ−"
        rows += [(f"P_odd {lab}", p.p_odd), (f"coherence C {lab}", p.coherence)]
    for s, t in fe.tomography.items():
        lab = "ψ+" if s > 0 else "ψ−"
        rows += [(f"F MLE {lab}", t.fidelity), (f"concurrence {lab}", t.concurrence)]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in rows]
    lines += ["", "## Heralds", "", "| quantity | value |", "|---|---|"]
    lines += [
        f"| attempts | {rep.attempts} |",
        f"| heralds | {rep.heralds} |",
        f"| success probability | {_fmt(rep.p_success, 6)} |",
    ]
    lines += [
        f"| rate, lab time (s⁻¹) | {_fmt(rep.rate_lab, 2)} |",
        f"| rate, wall time of the run (s⁻¹; host speed, not physics) | {_fmt(rep.rate_wall, 2)} |",
    ]
    lines += [f"| lab / wall time (s) | {st.lab_time_s:.4g} / {st.wall_time_s:.4g} |"]
    if st.duty_cycle is not None:
        lines.append(f"| duty cycle (attempt cycles' share of lab time) | {st.duty_cycle:.4f} |")
    if st.split is not None:
        lines.append(f"| ψ+ / ψ− heralds | {st.split.psi_plus} / {st.split.psi_minus} |")
        lines.append(
            "| by pattern | "
            + ", ".join(f"0b{k:04b}: {v}" for k, v in sorted(st.split.by_pattern.items()))
            + " |"
        )
    if st.attempts_distribution is not None:
        a = st.attempts_distribution
        lines.append(
            f"| attempts per herald | mean {a.mean_attempts:.4g} (geometric {1 / a.p:.4g}); "
            f"χ² = {a.chi2:.3g}, dof {a.dof}, p = {a.p_value:.3g} |"
        )
    if rep.lifetime is not None:
        lines.append(f"| lifetime τ (ns, from {tm.arrival_source}) | {_fmt(rep.lifetime.tau, 3)} |")
    if tm.window:
        lines += _window_lines(tm)
    if rep.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in rep.notes]
    lines += _plot_lines(plots)
    return "\n".join(lines) + "\n"


def _window_lines(tm: PhotonTiming) -> list[str]:
    """The detection-window trade-off's section: the gate each row keeps, in the calibrated
    gate's convention (mu from the excitation) where the runs say where it sat, beside the gate
    the runs played."""
    pts = tm.window or []
    gates = ", ".join(f"[{a}, {b})" for a, b in tm.played_gates)
    one = len(tm.played_gates) == 1 and not tm.gates_unrecorded
    if not gates:
        played = "No gate the runs played is recorded (no `calib.photon.gate_*` in the archive)."
    else:
        unrec = f"; {tm.gates_unrecorded} run(s) record none" if tm.gates_unrecorded else ""
        played = (
            f"{'Gate the run(s) played' if one else 'Gates the runs played'}: {gates} mu from "
            "the excitation (their calibration, `calib.photon.gate_start_mu`/`gate_stop_mu` "
            f"in the results file's archive{unrec})."
        )
    lines = ["", "## Detection-window trade-off", ""]
    if all(w.gate_stop_mu is not None for w in pts):
        start = tm.played_gates[0][0] if one else None
        lines += [
            "Each row keeps the heralds whose clicks all fall in a gate closing at its stop, in "
            "mu (ns) from the excitation pulse start: the convention of the calibrated gate and "
            "of `ionlink-sim budget --detection-gate START STOP`. " + played,
            "",
        ]
        if start is not None:
            head = "| gate [start, stop) (mu from the excitation) | heralds | relative rate | F |"
            cells = [f"[{start}, {w.gate_stop_mu})" for w in pts]
        else:
            head = "| gate stop (mu from the excitation) | heralds | relative rate | F |"
            cells = [str(w.gate_stop_mu) for w in pts]
    else:
        lines += [
            "Each row keeps the heralds whose clicks are all at or before the time shown, in mu "
            "from the attempt cycle's start (`herald.t_det_mu`), not the calibrated gate's "
            "convention (see the notes). " + played,
            "",
        ]
        head = "| latest click kept (mu from the cycle's start) | heralds | relative rate | F |"
        cells = [str(w.last_click_mu) for w in pts]
    lines += [head, "|---|---|---|---|"]
    lines += [
        f"| {c} | {w.heralds} | {w.fraction:.3f} | {_fmt(w.fidelity)} |" for c, w in zip(cells, pts)
    ]
    return lines


def _plot_lines(plots: dict[str, str]) -> list[str]:
    if not plots:
        return []
    lines = ["", "## Plots", ""]
    for title, fn in plots.items():
        lines += [f"### {title}", "", f"![{title}]({fn})", ""]
    return lines


def _stored_value(v: Any) -> str:
    a = np.asarray(v)
    if a.dtype.kind == "f":
        return ", ".join(f"{x:.6g}" for x in a.ravel())
    return ", ".join(str(x) for x in a.ravel()) if a.ndim else str(v)


def _fmt_measured(e: Estimate, digits: int) -> str:
    """:func:`_fmt`, or ``n/a (why)`` for an estimate of nothing measured (all NaN)."""
    if np.isnan(e.value) and np.isnan(e.lo) and np.isnan(e.hi):
        return f"n/a ({e.method})"
    return _fmt(e, digits)


def _recommended_gate(rep: cal.SinglePhotonSummary) -> str:
    """The gate the run recommended and its rule, or why there is none."""
    rule = rep.gate_rule.describe()
    if rep.gate_recommended_mu is None:
        return f"n/a (the run stored none; its rule {rule})"
    g0, g1 = rep.gate_recommended_mu
    return f"[{g0}, {g1}] (stored by the run; its rule {rule})"


def render_calibration(rep: Any, plots: dict[str, str]) -> str:
    """Markdown text of a calibration report (single photon, HOM, readout, dark counts)."""
    title = {
        "single_photon": "single-photon",
        "hom": "HOM",
        "readout_calibration": "readout-calibration",
        "dark_counts": "dark-count",
    }[rep.kind]
    lines = [f"# ionlink {title} report", "", f"File: `{os.path.basename(rep.file)}`", ""]
    if isinstance(rep, cal.SinglePhotonSummary):
        lines += ["| quantity | value [interval] |", "|---|---|"]
        lines.append(f"| gate (ns after the excitation) | [{rep.gate_mu[0]}, {rep.gate_mu[1]}) |")
        for i, (n, p) in enumerate(zip(rep.attempts, rep.click_prob)):
            node = "AB"[i] if i < 2 else i
            lines.append(
                f"| node {node}: clicks per attempt ({n} attempts) | {_fmt_measured(p, 5)} |"
            )
        if rep.lifetime is not None:
            f = rep.lifetime
            lines.append(f"| lifetime τ (ns) | {_fmt(f.tau, 3)} |")
            lines.append(
                f"| clicks fitted; background fraction | {f.clicks}; {f.background_fraction:.3g} |"
            )
            lines.append(f"| onset (ns) | {f.onset:.1f} |")
        lines.append(f"| recommended gate (ns) | {_recommended_gate(rep)} |")
        keys = [f"photon.arrival_offset{x}_mu" for x in ("", "_lo", "_hi")]
        off = [float(rep.stored[k]) for k in keys if k in rep.stored]
        if len(off) == 3 and all(math.isfinite(v) for v in off):
            lines.append(
                f"| node B's photons after node A's (mean arrival, ns) "
                f"| {off[0]:.2f} [{off[1]:.2f}, {off[2]:.2f}] (0.95 CL; stored by the run) |"
            )
        fitted = rep.gate_fitted_mu
        if fitted is not None and fitted != rep.gate_recommended_mu:
            lines.append(
                f"| gate by the run's rule from this analysis's fit (ns) "
                f"| [{fitted[0]}, {fitted[1]}] |"
            )
    elif isinstance(rep, cal.HOMSummary):
        lines += [
            "| delay (ns) | coincidences | attempts | coincidences per attempt |",
            "|---|---|---|---|",
        ]
        for d, c, a, p in zip(rep.delay_mu, rep.coincidences, rep.attempts, rep.p_coinc):
            pc = "n/a" if a == 0 else f"{p.value:.3g} [{p.lo:.3g}, {p.hi:.3g}]"
            lines.append(f"| {int(d)} | {int(c)} | {int(a)} | {pc} |")
        lines += ["", f"Visibility V = 1 − P(0)/P(ref): {_fmt(rep.visibility)}"]
    elif isinstance(rep, cal.ReadoutSummary):
        lines += [
            "| ion | shots dark, bright | threshold (> t ⇒ bright) | mean error "
            "| P(count ≤ t, bright) | P(count > t, dark) |",
            "|---|---|---|---|---|---|",
        ]
        for x in "ab":
            shots = ", ".join(str(c[x].size if x in c else 0) for c in (rep.dark, rep.bright))
            r = rep.thresholds.get(x)
            if r is None:
                lines.append(f"| {x} | {shots} | n/a | n/a | n/a | n/a |")
                continue
            lines.append(
                f"| {x} | {shots} | {r.threshold} | {_fmt(r.error)} | {_fmt(r.error_bright)} "
                f"| {_fmt(r.error_dark)} |"
            )
    elif isinstance(rep, cal.DarkCountSummary):
        lines += [
            f"Gated time per detector: {rep.duration_s:.4g} s",
            "",
            "| detector | dark rate (s⁻¹) | background rate (s⁻¹) |",
            "|---|---|---|",
        ]
        for i, d in enumerate(rep.dark):
            b = rep.background[i] if rep.background and i < len(rep.background) else None
            lines.append(f"| det{i} | {_fmt(d, 2)} | {_fmt(b, 2)} |")
    stored = getattr(rep, "stored", {})
    if stored:
        lines += ["", "## Values stored by the run", "", "| dataset | value |", "|---|---|"]
        lines += [f"| `{k}` | {_stored_value(v)} |" for k, v in stored.items()]
    if rep.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in rep.notes]
    lines += _plot_lines(plots)
    return "\n".join(lines) + "\n"


def to_html(md: str, title: str = "ionlink report") -> str:
    """HTML page of Markdown text (markdown-it-py, CommonMark with tables)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(md)
    style = (
        "body{font-family:sans-serif;max-width:62em;margin:1em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}"
        "img{max-width:100%}"
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>\n{body}</body></html>\n"
    )


def write_report(
    rep: Any,
    output: str | os.PathLike[str],
    *,
    formats: tuple[str, ...] = ("md", "html"),
    cl: float | None = None,
) -> list[Path]:
    """Write the report (``<stem>.md`` and/or ``<stem>.html``) and its PNG plots next to it.

    :param rep: a :class:`FidelityReport` or a summary of :mod:`analysis.calibration`
    :param output: report path; its suffix is replaced by each format's; missing folders are created
        (a folder is refused: :func:`~analysis.folders.report_stem`)
    :return: paths written
    """
    parent, stem = report_stem(output)
    parent.mkdir(parents=True, exist_ok=True)
    if cl is None:
        cl = rep.fidelity.cl if isinstance(rep, FidelityReport) else DEFAULT_CL
    with staged_outputs(parent) as stage:
        plots = _plots(rep, stage, stem, cl)
        md = (
            render_markdown(rep, plots)
            if isinstance(rep, FidelityReport)
            else render_calibration(rep, plots)
        )
        if "md" in formats:
            (stage / f"{stem}.md").write_text(md, encoding="utf-8")
        if "html" in formats:
            (stage / f"{stem}.html").write_text(
                to_html(md, md.splitlines()[0].lstrip("# ")), encoding="utf-8"
            )
        written = [parent / q.name for q in stage.iterdir()]
    return sorted(written)
