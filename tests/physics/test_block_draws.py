# SPDX-License-Identifier: LGPL-3.0-or-later
"""The block law's batched variates (:class:`sim.devices.block_draws.Draws`): the same values in
the same order, and the generator's batches drawn at the same points, as a list refilled when
empty and popped from its end (the reference below), interleaved with the generator's other
draws."""

import random

import numpy as np

from sim.devices.block_draws import Draws


class _Popped:
    """The reference: each batch a list, popped from its end, drawn again when empty."""

    def __init__(self, rng):
        self.rng, self._u, self._z = rng, [], []

    def u(self):
        if not self._u:
            self._u = self.rng.random(256).tolist()
        return self._u.pop()

    def z(self):
        if not self._z:
            self._z = self.rng.standard_normal(64).tolist()
        return self._z.pop()


def _stream(cls, seed):
    rng, pick = np.random.default_rng(seed), random.Random(seed)
    draws = cls(rng)
    out = []
    for _ in range(3000):
        c = pick.random()
        out.append(draws.u() if c < 0.6 else draws.z() if c < 0.9 else ("world", rng.random()))
    return out, rng.random()


def test_draws_as_popped_batches():
    for seed in range(4):
        assert _stream(Draws, seed) == _stream(_Popped, seed)
