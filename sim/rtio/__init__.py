# SPDX-License-Identifier: LGPL-3.0-or-later
"""The simulated RTIO core: clocks, output lanes, input FIFOs and PHYs."""
