# SPDX-License-Identifier: LGPL-3.0-or-later
"""Write ``artiq9_reference.h5`` with ARTIQ's own ``DatasetManager`` (run with a Python that has
ARTIQ).

The root datasets are written as ARTIQ's master worker writes them. The file is the reference for
``test_results.py::test_layout_matches_artiq_reference``:
``/opt/artiq-venv/bin/python tests/foundation/data/make_artiq_reference.py``.
"""

import os

import h5py
import numpy as np
from artiq import __version__ as artiq_version
from artiq.master.worker_db import DatasetManager
from sipyco import pyon


class _DB:
    def __init__(self):
        self.data = {"calib.f": (True, 1.5e6, {"unit": "MHz"})}

    def update(self, mod):
        pass

    def get(self, key):
        return self.data[key][1]

    def get_metadata(self, key):
        return self.data[key][2]


def main():
    mgr = DatasetManager(_DB())
    mgr.set("scalar.int", 3, {}, False, False, True)
    mgr.set("scalar.float", 2.5, {"unit": "us", "scale": 1e-6, "precision": 3}, False, False, True)
    mgr.set("flag", True, {}, False, False, True)
    mgr.set("text", "hello", {}, False, False, True)
    mgr.set("array", np.arange(6, dtype=np.int64).reshape(2, 3), {}, True, False, True)
    mgr.set("list", [1.0, 2.0], {}, False, False, True)
    mgr.get("calib.f", archive=True)
    expid = {"log_level": 30, "file": "exp.py", "class_name": "Exp", "arguments": {"n": 1}}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artiq9_reference.h5")
    with h5py.File(path, "w") as f:
        mgr.write_hdf5(f)
        f["artiq_version"] = artiq_version
        f["rid"] = 7
        f["start_time"] = 1.7e9
        f["run_time"] = 1.7e9 + 1
        f["expid"] = pyon.encode(expid)


if __name__ == "__main__":
    main()
