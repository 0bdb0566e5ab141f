# SPDX-License-Identifier: LGPL-3.0-or-later
"""Kernel-side drivers of the ionlink link: entangler core, logical ion nodes, Bell-state
analyser."""
