# SPDX-License-Identifier: LGPL-3.0-or-later
"""Slack you can trust: per-line slack over runs with drawn CPU costs, and the underflow risk."""
