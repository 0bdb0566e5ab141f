# SPDX-License-Identifier: LGPL-3.0-or-later
"""Dashboard applets for the remote-entanglement experiments (pyqtgraph), written against ARTIQ's
applet API (``TitleApplet``, ``data_changed(value, metadata, persist, mods, title)``). Each
module is one applet: ``python -m applets.herald_rate`` runs it standalone against a master
(ARTIQ's or ``ionlink-sim master``); ARTIQ's dashboard runs it embedded when an experiment asks
for it through the ``ccb`` device; :mod:`applets.host` shows several in one window without
ARTIQ. Which datasets they draw: :mod:`applets.datasets`.
"""
