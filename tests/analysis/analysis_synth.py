# SPDX-License-Identifier: LGPL-3.0-or-later
"""Synthetic ARTIQ-layout results files with known truth, for the analysis tests."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from analysis.bell import analysis_unitary, bell_state, povm, scan_unitaries

#: start times of successive files (ARTIQ's ``time.time()`` at build), 1 ms apart
_START_TIMES = itertools.count(1.7e9, 1e-3)
PATTERNS = {1: (0b0011, 0b1100), -1: (0b1001, 0b0110)}


def werner(psi: int, f: float) -> np.ndarray:
    """ρ = p|ψ⟩⟨ψ| + (1 − p)I/4 with fidelity ``f``."""
    v = bell_state(psi)
    p = (4 * f - 1) / 3
    return p * np.outer(v, v.conj()) + (1 - p) * np.eye(4) / 4


def outcome_probs(rho: np.ndarray, u_a: np.ndarray, u_b: np.ndarray) -> np.ndarray:
    p = np.real(np.einsum("oij,ji->o", povm(u_a, u_b), rho))
    p = np.clip(p, 0, None)
    return p / p.sum()


def sample_outcomes(
    rng: np.random.Generator, rho: np.ndarray, u_a, u_b, n: int, errors=(0.0, 0.0)
) -> np.ndarray:
    """Outcome indices 2·bit_a + bit_b for ``n`` shots, with readout bit flips."""
    o = rng.choice(4, size=n, p=outcome_probs(rho, u_a, u_b))
    a, b = o >> 1, o & 1
    a ^= (rng.random(n) < errors[0]).astype(a.dtype)
    b ^= (rng.random(n) < errors[1]).astype(b.dtype)
    return 2 * a + b


def scan_counts(rng, rho, phases, n_per, errors=(0.0, 0.0)):
    """(n_even, n) per phase of a parity scan (+φ on ion A, −φ on ion B)."""
    ne = []
    for ph in phases:
        ua, ub = scan_unitaries(ph)
        o = sample_outcomes(rng, rho, ua, ub, n_per, errors)
        ne.append(np.count_nonzero((o == 0) | (o == 3)))
    return np.array(ne), np.full(len(phases), n_per)


def counts4(o: np.ndarray) -> np.ndarray:
    return np.bincount(o, minlength=4)


def remote_datasets(
    rng: np.random.Generator,
    *,
    n: int = 4000,
    mode: str = "parity",
    rho: dict[int, np.ndarray] | None = None,
    p_success: float = 0.01,
    readout_errors: tuple[float, float] | None = None,
    n_phases: int = 12,
    tau_mu: float = 8.0,
) -> dict[str, Any]:
    """Per-herald datasets of a remote-entanglement run drawn from the given states."""
    rho = rho or {1: werner(1, 0.9), -1: werner(-1, 0.9)}
    psi = rng.choice([1, -1], size=n)
    pattern = np.array([PATTERNS[s][k] for s, k in zip(psi, rng.integers(0, 2, n))], dtype=np.int32)
    phase = np.zeros(n)
    if mode == "z":
        ba = bb = np.zeros(n, np.int8)
    elif mode == "tomography":
        ba, bb = rng.integers(0, 3, n).astype(np.int8), rng.integers(0, 3, n).astype(np.int8)
    else:
        scan = rng.random(n) < 2 / 3
        ba = bb = np.where(scan, 1, 0).astype(np.int8)
        phase = np.where(scan, rng.integers(0, n_phases, n) / n_phases, 0.0)
    err = readout_errors or (0.0, 0.0)
    out = np.zeros(n, np.int64)
    for s in (1, -1):
        for a in range(3):
            for b in range(3):
                for ph in np.unique(phase):
                    m = (psi == s) & (ba == a) & (bb == b) & (phase == ph)
                    if not m.any():
                        continue
                    if mode == "parity" and a:
                        ua, ub = scan_unitaries(ph)
                    else:
                        ua, ub = analysis_unitary(a), analysis_unitary(b)
                    out[m] = sample_outcomes(rng, rho[s], ua, ub, int(m.sum()), err)
    attempts = rng.geometric(p_success, n).astype(np.int64)
    t_det = np.full((n, 4), -1, np.int64)
    for i, pat in enumerate(pattern):
        for d in range(4):
            if pat >> d & 1:
                t_det[i, d] = 10 + int(rng.exponential(tau_mu))
    cycle_mu = 1000
    t_lab = np.cumsum(attempts) * cycle_mu
    d = {
        "schema_version": 1,
        "ionlink.experiment": "remote_entanglement",
        "mode": mode,
        "herald.pattern": pattern,
        "herald.psi": psi.astype(np.int8),
        "herald.t_det_mu": t_det,
        "herald.attempts": attempts,
        "herald.t_lab_mu": t_lab.astype(np.int64),
        "herald.t_wall": 1.7e9 + t_lab * 1.25e-9,
        "herald.basis_a": ba,
        "herald.basis_b": bb,
        "herald.phase": phase,
        "herald.counts_a": np.where(out >> 1, 12, 0).astype(np.int32),
        "herald.counts_b": np.where(out & 1, 12, 0).astype(np.int32),
        "herald.bit_a": (out >> 1).astype(np.int8),
        "herald.bit_b": (out & 1).astype(np.int8),
        "totals.attempts": int(attempts.sum()),
        "totals.heralds": n,
        "totals.lab_time_s": float(t_lab[-1] * 1e-9) if n else 1.0,
        "totals.wall_time_s": float(t_lab[-1] * 1.25e-9) if n else 1.25,
        "totals.duty_cycle": 0.9,
        "totals.underflows_recovered": 0,
        "totals.cycle_mu": cycle_mu,
        "readout.threshold_a": 1,
        "readout.threshold_b": 1,
    }
    if readout_errors is not None:
        d["readout.error_a"], d["readout.error_b"] = map(float, readout_errors)
    return d


def write_artiq(
    path: Path,
    datasets: dict[str, Any],
    *,
    archive: dict[str, Any] | None = None,
    rid: int = 1,
    class_name: str = "RemoteEntanglement",
    artiq_version: str = "9.0",
    expid: str | bytes | None = None,
    attrs: dict[str, dict[str, Any]] | None = None,
    start_time: float | None = None,
) -> Path:
    """Write an ARTIQ-layout results file (root datasets, ``datasets/``, ``archive/``); each file
    is a run of its own (a ``start_time`` of its own) unless ``start_time`` is given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f["artiq_version"] = artiq_version
        f["rid"] = rid
        f["start_time"] = next(_START_TIMES) if start_time is None else start_time
        f["run_time"] = f["start_time"][()] + 1
        f["expid"] = (
            expid
            if expid is not None
            else json.dumps(
                {
                    "file": "repository/remote.py",
                    "class_name": class_name,
                    "arguments": {},
                    "log_level": 30,
                }
            )
        )
        g = f.create_group("datasets")
        for k, v in datasets.items():
            g[k] = v
            for a, av in (attrs or {}).get(k, {}).items():
                g[k].attrs[a] = av
        ga = f.create_group("archive")
        for k, v in (archive or {}).items():
            ga[k] = v
    return path


def single_photon_datasets(
    rng: np.random.Generator,
    *,
    tau_mu: float = 7.4,
    onset_mu: int = 30,
    attempts: int = 20000,
    eta: float = 0.02,
    gate_mu: tuple[int, int] = (0, 300),
    background: float = 0.05,
) -> dict[str, Any]:
    """Datasets of a single-photon run: clicks after ``onset_mu`` with lifetime ``tau_mu`` plus a
    flat background fraction ``background`` over the gate."""
    n = [rng.binomial(attempts, eta) for _ in range(2)]
    t, node = [], []
    for i, k in enumerate(n):
        nb = rng.binomial(k, background)
        x = np.concatenate([onset_mu + rng.exponential(tau_mu, k - nb), rng.uniform(*gate_mu, nb)])
        t.append(np.floor(x).astype(np.int64))
        node.append(np.full(k, i, np.int8))
    t_all = np.concatenate(t)
    keep = t_all < gate_mu[1]
    return {
        "schema_version": 1,
        "ionlink.experiment": "single_photon",
        "photons.t_mu": t_all[keep],
        "photons.node": np.concatenate(node)[keep],
        "photons.detector": rng.integers(0, 4, int(keep.sum())).astype(np.int8),
        "photons.attempts": np.array([attempts, attempts], np.int64),
        "photons.gate_mu": np.array(gate_mu, np.int64),
        # (as the experiment stores them: analysis.arrival_offset, node B - node A)
        "photon.arrival_offset_mu": 0.41,
        "photon.arrival_offset_lo_mu": -0.57,
        "photon.arrival_offset_hi_mu": 1.39,
    }


def hom_datasets(
    rng: np.random.Generator,
    *,
    visibility: float = 1.0,
    attempts: int = 200000,
    p_ref: float = 1e-4,
    delays=(0, 8, 16, 32, 400),
    tau_mu: float = 7.4,
) -> dict[str, Any]:
    """Datasets of a HOM run: coincidence probability p_ref·(1 − V·exp(−|d|/τ))."""
    d = np.array(delays, np.int64)
    p = p_ref * (1 - visibility * np.exp(-np.abs(d) / tau_mu))
    return {
        "schema_version": 1,
        "ionlink.experiment": "hom",
        "hom.delay_mu": d,
        "hom.coincidences": rng.binomial(attempts, p).astype(np.int64),
        "hom.attempts": np.full(d.size, attempts, np.int64),
        "hom.gate_mu": np.array([29, 44 + 2 * int(np.abs(d).max())], np.int64),
    }


def readout_datasets(
    rng: np.random.Generator, *, shots: int = 500, bright: float = 18.0, dark: float = 0.3
) -> dict[str, Any]:
    """Datasets of a readout calibration: Poisson PMT counts per shot for both ions."""
    d: dict[str, Any] = {"schema_version": 1, "ionlink.experiment": "readout_calibration"}
    for x in "ab":
        d[f"readout.bright_counts_{x}"] = rng.poisson(bright, shots).astype(np.int32)
        d[f"readout.dark_counts_{x}"] = rng.poisson(dark, shots).astype(np.int32)
    return d


def dark_count_datasets(
    rng: np.random.Generator,
    *,
    rate_hz: float = 20.0,
    background_hz: float = 60.0,
    duration_s: float = 1.0,
) -> dict[str, Any]:
    """Datasets of a dark-count run: Poisson counts of four detectors."""
    return {
        "schema_version": 1,
        "ionlink.experiment": "dark_counts",
        "dark.duration_s": duration_s,
        "dark.counts": rng.poisson(rate_hz * duration_s, 4).astype(np.int64),
        "background.counts": rng.poisson(background_hz * duration_s, 4).astype(np.int64),
    }
