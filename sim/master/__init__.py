# SPDX-License-Identifier: LGPL-3.0-or-later
"""A simulated ARTIQ master: the simulator's experiments run one after the other in a worker
thread while the parts of the master's protocol that dashboards, applets and clients use are
served on ARTIQ's ports (:mod:`sim.master.service`)."""
