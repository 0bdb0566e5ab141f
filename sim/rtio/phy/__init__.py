# SPDX-License-Identifier: LGPL-3.0-or-later
"""Per-channel PHY models: TTL, SPI (+ Urukul decoder), edge counter, clock generator, entangler."""
