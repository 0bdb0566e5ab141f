# SPDX-License-Identifier: LGPL-3.0-or-later
"""The range of a simulation's random seed, checked where a seed enters: the ``--seed`` options
(an ``argparse`` type) and a stored hardware state; and the seed a power-up without one draws.

A seed is an integer from 0 to 2**63 - 1: ``numpy.random.default_rng`` refuses negative seeds and
the results files record it as the int64 dataset ``ionlink.sim.seed``. A session powered up
without a seed draws one from the operating system's entropy (:func:`fresh_seed`) and runs as if
it had been given: the seed recorded repeats the run."""

from __future__ import annotations

import argparse
import secrets
from typing import Any

__all__ = ["SEED_MAX", "check_seed", "fresh_seed", "generator_words", "seed_arg"]

SEED_MAX = 2**63 - 1


def check_seed(seed: object) -> str | None:
    """Why ``seed`` (None: none given) is not a valid seed, or None if it is."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        return "seed {!r} is not an integer from 0 to {} (2**63 - 1)".format(seed, SEED_MAX)
    return None


def fresh_seed() -> int:
    """A seed from the operating system's entropy (63 bits: from 0 to :data:`SEED_MAX`)."""
    return secrets.randbits(63)


def seed_arg(text: str) -> int:
    """``argparse`` type of ``--seed``: an integer from 0 to :data:`SEED_MAX`."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "'{}' is not an integer from 0 to {} (2**63 - 1)".format(text, SEED_MAX)
        ) from None
    problem = check_seed(seed)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return seed


def generator_words(rng: Any) -> list[int]:
    """Seed words that the state of the generator ``rng`` determines (its bit generator's state:
    nested dicts of integers and names), for a stream of its own that follows a simulation's
    generator without drawing from it (a stored state continued without a seed still repeats)."""
    return _state_words(rng.bit_generator.state)


def _state_words(state: Any) -> list[int]:
    """The integers of ``state`` in order; a negative one as its magnitude and sign (a seed
    sequence takes non-negative words)."""
    if isinstance(state, dict):
        return [w for key in sorted(state) for w in _state_words(state[key])]
    if isinstance(state, bool):
        return [int(state), 0]
    if isinstance(state, int) or hasattr(state, "__index__"):
        return [abs(int(state)), int(int(state) < 0)]
    if hasattr(state, "tolist"):  # an array of words
        return [w for v in state.ravel().tolist() for w in _state_words(v)]
    return []
