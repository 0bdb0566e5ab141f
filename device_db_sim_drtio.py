# SPDX-License-Identifier: LGPL-3.0-or-later
"""The two-chassis ``device_db_drtio.py`` transformed for the ionlink simulator.

Use it with ARTIQ's own tools to drive the simulator instead of hardware, e.g. ``artiq_run
--device-db device_db_sim_drtio.py repository/remote_entanglement.py`` or ``artiq_master
--device-db device_db_sim_drtio.py``. Devices with a simulated model (``sim.devices``) replace
ARTIQ's drivers; the others raise a clear error when an experiment requests them.
"""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)

from sim.device_manager import load_device_db, transform_device_db  # noqa: E402

device_db = transform_device_db(load_device_db(os.path.join(_here, "device_db_drtio.py")))
# ARTIQ runs each experiment in a process of its own: the simulated core carries the hardware state
# (Urukuls, TTLs, entangler, ions, clocks) from one to the next in sim_state/ of the working
# directory, next to the master's dataset_db.mdb (sim/state_file.py; delete it for a power-up).
device_db["core"]["arguments"]["sim_state"] = True
