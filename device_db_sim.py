# SPDX-License-Identifier: LGPL-3.0-or-later
"""The lab's ``device_db.py`` transformed for the ionlink simulator.

Use it with ARTIQ's own tools to drive the simulator instead of hardware, e.g. ``artiq_run
--device-db device_db_sim.py repository/remote_entanglement.py`` or ``artiq_master --device-db
device_db_sim.py``. Devices with a simulated model (``sim.devices``) replace ARTIQ's drivers; the
others raise a clear error when an experiment requests them.
"""

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
if _here not in sys.path:
    sys.path.insert(0, _here)

from sim.device_manager import load_device_db, transform_device_db  # noqa: E402

device_db = transform_device_db(load_device_db(os.path.join(_here, "device_db.py")))
# ARTIQ runs each experiment in a process of its own: the simulated core carries the hardware state
# (Urukuls, TTLs, entangler, ions, clocks) from one to the next in sim_state/ of the directory this
# file is read in (artiq_run's working directory; the master's, next to its dataset_db.mdb, while
# its workers run in the results folders) (sim/state_file.py; delete it for a power-up).
device_db["core"]["arguments"]["sim_state"] = os.getcwd()
# the physics of the lab next to the device database, as `ionlink-sim run` takes it by default
if os.path.isfile(os.path.join(_here, "lab.toml")):
    device_db["core"]["arguments"]["lab"] = os.path.join(_here, "lab.toml")
