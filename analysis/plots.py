# SPDX-License-Identifier: LGPL-3.0-or-later
"""Report figures (matplotlib, Agg backend): one function per figure, each returning a Figure.

Every figure states its axes with units, draws intervals from :class:`Estimate` values (never
single shots with n = 1 error bars) and can go on a slide as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .estimate import DEFAULT_CL, clopper_pearson, poisson_rate

if TYPE_CHECKING:
    from .herald_table import ParityScan

__all__ = [
    "arrival_figure",
    "attempts_figure",
    "bin_parity_scan",
    "dark_figure",
    "density_matrix_figure",
    "hom_figure",
    "parity_figure",
    "rate_figure",
    "readout_figure",
    "window_figure",
]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _psi_label(s: int) -> str:
    return "ψ+" if s > 0 else "ψ−"


def bin_parity_scan(
    phase: np.ndarray, n_even: np.ndarray, n: np.ndarray, *, bins: int = 24, cl: float = DEFAULT_CL
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Heralds of a parity scan binned in analysis phase (turns, [0, 1)).

    :return: (mean phase of the heralds in each bin, parity 2·k/n − 1, its interval's lower and
        upper bound from the Clopper–Pearson interval on k/n, heralds per bin), non-empty bins only
    """
    ph = np.mod(np.asarray(phase, dtype=float), 1.0)
    ne = np.asarray(n_even, dtype=np.int64)
    nn = np.asarray(n, dtype=np.int64)
    idx = np.minimum((ph * bins).astype(np.int64), bins - 1)
    k = np.bincount(idx, weights=ne, minlength=bins).astype(np.int64)
    m = np.bincount(idx, weights=nn, minlength=bins).astype(np.int64)
    x = np.bincount(idx, weights=ph * nn, minlength=bins).astype(float)
    keep = m > 0
    k, m, x = k[keep], m[keep], x[keep] / m[keep]
    ests = [clopper_pearson(int(a), int(b), cl=cl) for a, b in zip(k, m)]
    y = 2 * k / m - 1
    lo = np.array([2 * e.lo - 1 for e in ests])
    hi = np.array([2 * e.hi - 1 for e in ests])
    return x, y, lo, hi, m


def parity_figure(
    scans: dict[int, ParityScan],
    fits: dict[int, Any],
    *,
    cl: float = DEFAULT_CL,
) -> Any:
    """Parity against analysis phase, heralds binned in phase (after the detection-time correction
    each herald has its own phase), Clopper–Pearson error bars, with the fitted fringe."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
    for s, sc in sorted(scans.items(), reverse=True):
        x, y, lo, hi, m = bin_parity_scan(sc.phase_turns, sc.n_even, sc.n, cl=cl)
        lab = _psi_label(s)
        pts = ax.errorbar(
            x,
            y,
            yerr=[y - lo, hi - y],
            fmt="o",
            ms=4,
            capsize=2,
            label=f"{lab}: {int(m.sum())} heralds in {x.size} phase bins",
        )
        fit = fits.get(s)
        if fit is not None:
            xf = np.linspace(0, 1, 400)
            ax.plot(xf, fit(xf), color=pts[0].get_color(), lw=1.2, label=f"{lab} fit {fit.model}")
    ax.axhline(0, color="0.7", lw=0.6)
    ax.set_xlim(0, 1)
    ax.set_xlabel("analysis phase φ (turns; +φ on ion A, −φ on ion B)")
    ax.set_ylabel("parity Π = P(even) − P(odd)")
    ax.set_ylim(-1.1, 1.75)
    ax.set_yticks([-1, -0.5, 0, 0.5, 1])
    ax.set_title(
        f"Parity scan, heralds binned in phase ({cl:.0%} Clopper–Pearson intervals)", fontsize=10
    )
    ax.legend(fontsize=7, loc="upper center", ncol=2, frameon=False)
    return fig


def density_matrix_figure(rho: np.ndarray, ideal: np.ndarray, title: str) -> Any:
    """Re ρ and Im ρ as heatmap panels (values written in the cells), the reconstructed state
    in the top row and the ideal Bell state beneath it, on one colour scale."""
    plt = _plt()
    fig, axs = plt.subplots(2, 2, figsize=(8, 7.2), layout="constrained")
    labels = [f"|{s}⟩" for s in ("00", "01", "10", "11")]
    panels = [
        (np.real(rho), f"Re ρ, {title}"),
        (np.imag(rho), f"Im ρ, {title}"),
        (np.real(ideal), "Re ρ, ideal"),
        (np.imag(ideal), "Im ρ, ideal"),
    ]
    im = None
    for ax, (z, name) in zip(axs.ravel(), panels):
        im = ax.imshow(z, cmap="RdBu_r", vmin=-0.5, vmax=0.5)
        for (i, j), v in np.ndenumerate(z):
            ax.text(
                j,
                i,
                f"{v if abs(v) >= 0.005 else 0.0:+.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if abs(v) > 0.3 else "black",
            )
        ax.set_xticks(range(4), labels, fontsize=8)
        ax.set_yticks(range(4), labels, fontsize=8)
        ax.set_title(name, fontsize=9)
    fig.colorbar(im, ax=axs, shrink=0.6, label="matrix element")
    return fig


def arrival_figure(
    edges: np.ndarray, counts: np.ndarray, fit: Any, source: str, *, from_excitation: bool = False
) -> Any:
    """Arrival-time histogram (log scale) with the fitted decay over its fit range; its times
    from the excitation pulse (``photons.t_mu``, or ``from_excitation``) or from the cycle's
    gate reference (``herald.t_det_mu`` as recorded)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
    ax.stairs(counts, edges, label=f"clicks ({source})", color="0.3", baseline=None)
    nz = np.flatnonzero(np.asarray(counts))
    if nz.size:  # the occupied range, not the whole gate
        ax.set_xlim(float(edges[nz[0]]) - 3, float(edges[nz[-1] + 1]) + 3)
    if fit is not None:
        m = (edges[:-1] >= fit.start) & (edges[1:] <= fit.stop)
        sel = np.append(edges[:-1][m], edges[1:][m][-1:]) if m.any() else edges
        ax.stairs(
            fit.expected(sel),
            sel,
            color="tab:red",
            lw=1.5,
            baseline=None,
            label=f"fit: τ = {fit.tau.value:.2f} ns [{fit.tau.lo:.2f}, {fit.tau.hi:.2f}]",
        )
        ax.axvspan(fit.start, fit.stop, color="tab:red", alpha=0.06, label="fit range")
    ax.set_yscale("log")
    pos = np.asarray(counts)[np.asarray(counts) > 0]
    ax.set_ylim(bottom=max(0.5, float(pos.min()) / 3) if pos.size else 0.5)
    ref = (
        "the cycle's gate reference"
        if source == "herald.t_det_mu" and not from_excitation
        else "the excitation pulse"
    )
    ax.set_xlabel(f"click time after {ref} (ns)")
    widths = np.diff(np.asarray(edges, dtype=float))
    ax.set_ylabel(
        f"clicks per {widths[0]:g} ns bin"
        if widths.size and np.allclose(widths, widths[0])
        else "clicks per bin"
    )
    ax.set_title(f"Photon arrival times: {int(np.sum(counts))} clicks", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def rate_figure(
    edges_s: np.ndarray, counts: np.ndarray, mean_rate: Any, *, cl: float = DEFAULT_CL
) -> Any:
    """Herald rate against lab time (RTIO timeline), Garwood intervals per bin, mean rate band."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    w = np.diff(edges_s)
    c = 0.5 * (edges_s[:-1] + edges_s[1:])
    ests = [poisson_rate(int(k), float(dt), cl=cl) for k, dt in zip(counts, w)]
    y = np.array([e.value for e in ests])
    ax.errorbar(
        c,
        y,
        yerr=[y - [e.lo for e in ests], np.array([e.hi for e in ests]) - y],
        fmt="o",
        ms=3,
        capsize=2,
        label=f"per bin ({cl:.0%} Garwood)",
    )
    if mean_rate is not None:
        ax.axhline(mean_rate.value, color="k", lw=1, label=f"mean {mean_rate.value:.4g} s⁻¹")
        ax.axhspan(
            mean_rate.lo,
            mean_rate.hi,
            color="k",
            alpha=0.1,
            label=f"mean, {mean_rate.cl:.0%} interval",
        )
    ax.set_xlabel("lab time since the first herald (s)")
    ax.set_ylabel("heralds per second of lab time")
    ax.set_title(f"Herald rate against lab (RTIO) time: {int(np.sum(counts))} heralds", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    return fig


def attempts_figure(edges: np.ndarray, observed: np.ndarray, p: float) -> Any:
    """Attempts per herald: each bin drawn with its real width as a density, the geometric law
    as a curve, and the overflow bin (beyond the last edge) stated beside the plot."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    e = np.asarray(edges, dtype=float)
    obs = np.asarray(observed, dtype=float)
    n = obs.sum()
    w = np.diff(e)
    dens = obs[:-1] / (n * w)
    ax.stairs(dens, e, color="tab:blue", baseline=None, label=f"observed ({int(n)} heralds)")
    err = np.sqrt(np.maximum(obs[:-1], 1)) / (n * w)
    ax.errorbar(0.5 * (e[:-1] + e[1:]), dens, yerr=err, fmt="none", ecolor="tab:blue", lw=0.8)
    k = np.linspace(1, e[-1], 600)
    ax.plot(k, p * (1 - p) ** (k - 1), "k-", lw=1, label=f"geometric, p = {p:.3g}")
    surv = (1 - p) ** (e - 1)
    ax.stairs(
        (surv[:-1] - surv[1:]) / w,
        e,
        color="k",
        ls=":",
        lw=0.8,
        baseline=None,
        label="geometric, bin average",
    )
    pos = dens[dens > 0]
    if pos.size:
        ax.set_ylim(bottom=float(pos.min()) / 5)
    over_exp = n * surv[-1]
    ax.set_title(
        f"Attempts per herald (quantile bins drawn as a density)\nbeyond {int(e[-1])} "
        f"attempts: {int(obs[-1])} heralds observed, {over_exp:.2g} expected",
        fontsize=9,
    )
    ax.set_yscale("log")
    ax.set_xlabel("attempts per herald")
    ax.set_ylabel("probability per attempt")
    ax.legend(fontsize=7)
    return fig


def window_figure(points: list[Any]) -> Any:
    """Fidelity against relative herald rate as the detection gate closes earlier; points
    labelled with the gate's stop in ns from the excitation (the calibrated gate's convention),
    or the latest click kept in ns from the cycle's start where the runs do not say where their
    excitation sat (:class:`~analysis.photons.WindowPoint`)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    f = np.array([w.fidelity.value for w in points])
    lo = np.array([w.fidelity.lo for w in points])
    hi = np.array([w.fidelity.hi for w in points])
    x = np.array([w.fraction for w in points])
    cl = points[0].fidelity.cl if points else DEFAULT_CL
    ax.errorbar(
        x, f, yerr=[f - lo, hi - f], fmt="o-", capsize=2, label=f"fidelity, {cl:.0%} interval"
    )
    from_excitation = all(w.gate_stop_mu is not None for w in points)
    for w, xi, fi in zip(points, x, f):
        label = w.gate_stop_mu if from_excitation else w.last_click_mu
        ax.annotate(f"{label}", (xi, fi), textcoords="offset points", xytext=(3, -10), fontsize=6)
    ax.set_xlabel(
        "herald rate relative to the full gate\n(point labels: "
        + (
            "gate stop, ns from the excitation, as calib.photon.gate_stop_mu)"
            if from_excitation
            else "latest click kept, ns from the attempt cycle's start)"
        )
    )
    ax.set_ylabel("Bell-state fidelity F")
    ax.set_title("Fidelity against herald rate as the detection gate closes earlier", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def hom_figure(delay_mu: np.ndarray, p_coinc: list[Any], visibility: Any) -> Any:
    """Coincidence probability per attempt for each delay of node B (one column per setting, in
    the run's order), Clopper–Pearson intervals; the dashed line is the reference (largest
    delay)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    d = np.asarray(delay_mu)
    x = np.arange(d.size)
    y = np.array([e.value for e in p_coinc])
    lo = np.array([e.lo for e in p_coinc])
    hi = np.array([e.hi for e in p_coinc])
    ax.errorbar(x, y, yerr=[y - lo, hi - y], fmt="o", capsize=3, label="coincidences per attempt")
    ref = int(np.argmax(np.abs(d)))
    ax.axhline(y[ref], color="0.4", ls="--", lw=1, label=f"reference ({int(d[ref])} ns)")
    ax.set_xticks(x, [str(int(v)) for v in d])
    ax.set_xlabel("delay of node B's excitation (ns)")
    ax.set_ylabel("coincidences per attempt")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    if visibility is not None:
        ax.set_title(
            f"V = {visibility.value:.3f} [{visibility.lo:.3f}, {visibility.hi:.3f}] "
            f"({visibility.cl:.0%} CL)",
            fontsize=9,
        )
    return fig


def readout_figure(bright: np.ndarray, dark: np.ndarray, threshold: int, ion: str) -> Any:
    """PMT count histograms of bright and dark shots with the threshold (count > t ⇒ bright)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    top = int(max(bright.max(), dark.max())) + 1
    e = np.arange(top + 1) - 0.5
    ax.stairs(
        np.bincount(dark, minlength=top) / dark.size, e, label=f"dark |0⟩ ({dark.size} shots)"
    )
    ax.stairs(
        np.bincount(bright, minlength=top) / bright.size,
        e,
        label=f"bright |1⟩ ({bright.size} shots)",
    )
    ax.axvline(
        threshold + 0.5, color="k", ls="--", lw=1, label=f"threshold: > {threshold} ⇒ bright"
    )
    ax.set_xlabel("PMT counts per detection")
    ax.set_ylabel("fraction of shots")
    ax.set_title(f"ion {ion.upper()}", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def dark_figure(dark: list[Any], background: list[Any] | None) -> Any:
    """Count rate per detector, dark and with the cooling light on, with Garwood intervals."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    x = np.arange(len(dark))
    sets = [("dark (beams off)", dark, -0.15)] + (
        [("background (cooling on)", background, 0.15)] if background else []
    )
    for name, ests, dx in sets:
        y = np.array([e.value for e in ests])
        ax.errorbar(
            x + dx,
            y,
            yerr=[y - [e.lo for e in ests], np.array([e.hi for e in ests]) - y],
            fmt="o",
            capsize=3,
            label=name,
        )
    ax.set_xticks(x, [f"det{i}" for i in x])
    ax.set_ylabel("counts per second")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)
    return fig
