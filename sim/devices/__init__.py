# SPDX-License-Identifier: LGPL-3.0-or-later
"""Simulated ARTIQ device models (one per ARTIQ driver module), driving the RTIO engine via
syscalls."""
