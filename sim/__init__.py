# SPDX-License-Identifier: LGPL-3.0-or-later
"""ionlink's software timing simulator for ARTIQ experiments."""
