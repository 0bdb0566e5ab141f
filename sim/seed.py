# SPDX-License-Identifier: LGPL-3.0-or-later
"""The range of a simulation's random seed, checked where a seed enters: the ``--seed`` options
(an ``argparse`` type) and a stored hardware state.

A seed is an integer from 0 to 2**63 - 1: ``numpy.random.default_rng`` refuses negative seeds and
the results files record it as the int64 dataset ``ionlink.sim.seed``."""

from __future__ import annotations

import argparse

__all__ = ["SEED_MAX", "check_seed", "seed_arg"]

SEED_MAX = 2**63 - 1


def check_seed(seed: object) -> str | None:
    """Why ``seed`` (None: fresh entropy) is not a valid seed, or None if it is."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        return "seed {!r} is not an integer from 0 to {} (2**63 - 1)".format(seed, SEED_MAX)
    return None


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
