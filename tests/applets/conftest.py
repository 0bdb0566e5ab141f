# SPDX-License-Identifier: LGPL-3.0-or-later
"""The applet tests draw offscreen (``QT_QPA_PLATFORM=offscreen``, set before pytest-qt makes
the QApplication) and replay a recorded run (:mod:`replay`)."""

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
