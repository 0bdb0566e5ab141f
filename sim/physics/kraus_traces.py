# SPDX-License-Identifier: LGPL-3.0-or-later
"""The records' probabilities Tr(K_r ρ K_r†) of a round table, made with the arithmetic of the
``numpy.einsum`` calls they replaced, on real arrays (bit for bit the same values; ≈ 6× fewer
instructions for a table of ≈ 6000 records, whose Gram rows were the largest one-off cost of a
CPU-heralding run's first herald).

``einsum`` over complex operands multiplies each pair of elements as C does
(``re = a.re·b.re − a.im·b.im``, ``im = a.re·b.im + a.im·b.re``) and sums the products over the
summed index in order, from zero: so do :func:`gram_rows` and :func:`traces`, one element-wise
operation at a time (no fused multiply-add, no pairwise summation); :class:`.bsa.RoundTable`
keeps every record's trace from a state for all the patterns asked of it. Held by
``tests/physics/test_kraus_traces.py`` against ``einsum`` itself.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gram_rows", "traces"]


def gram_rows(kraus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows (K_r† K_r)ᵀ of the Kraus operators ``kraus`` (R, 4, 4), as
    ``einsum("rkj,rkm->rjm", kraus, kraus.conj()).reshape(R, 16)`` makes them: their real and
    imaginary parts, each transposed to (16, R) (element ``4j + m`` of record r at
    ``[4j + m, r]``)."""
    n = len(kraus)
    a_re = np.ascontiguousarray(kraus.real.transpose(1, 2, 0))  # (k, j, r)
    a_im = np.ascontiguousarray(kraus.imag.transpose(1, 2, 0))
    b_im = -a_im  # the conjugate's imaginary parts (exact)
    re = np.zeros((4, 4, n))
    im = np.zeros((4, 4, n))
    for k in range(4):
        # (j, m, r): the product of element (k, j) with the conjugate of element (k, m)
        ar, ai = a_re[k][:, None, :], a_im[k][:, None, :]
        br, bi = a_re[k][None, :, :], b_im[k][None, :, :]
        re += ar * br - ai * bi
        im += ar * bi + ai * br
    return re.reshape(16, n), im.reshape(16, n)


def traces(g_re: np.ndarray, g_im: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """``einsum("rj,j->r", g, rho.reshape(16)).real`` for the Gram rows ``g`` given as
    :func:`gram_rows`' parts (16, n): the real part of Σ_j g[r, j]·ρ_j, summed in order of j.

    A term whose part of ρ_j is zero is left out: its product is a zero (the rows are finite),
    and the sum, which starts from +0 and so is never −0, is unchanged by adding a zero of
    either sign (the near-pumped states of a CPU-heralding run have 4–8 of their 16 elements
    non-zero, and real)."""
    flat = rho.reshape(16)
    acc = np.zeros(g_re.shape[1])
    for j, (a, b) in enumerate(zip(flat.real.tolist(), flat.imag.tolist())):
        if b:
            acc += g_re[j] * a - g_im[j] * b
        elif a:
            acc += g_re[j] * a
    return acc
