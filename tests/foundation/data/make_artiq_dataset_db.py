# SPDX-License-Identifier: LGPL-3.0-or-later
"""Write ``artiq9_dataset_db.mdb`` with ARTIQ's own ``DatasetDB`` (run with a Python that has
ARTIQ).

Reference for ``test_datasets.py::test_reads_artiq_written_dataset_db``:
``/opt/artiq-venv/bin/python tests/foundation/data/make_artiq_dataset_db.py``.
"""

import os

import numpy as np
from artiq.master.databases import DatasetDB


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artiq9_dataset_db.mdb")
    for p in (path, path + "-lock"):
        if os.path.exists(p):
            os.remove(p)
    db = DatasetDB(path)
    db.set("calib.readout.threshold_a", 3, persist=True, metadata={})
    db.set("calib.freq", 1.5e6, persist=True, metadata={"unit": "MHz", "precision": 4})
    db.set("calib.array", np.array([1, 2, 3], dtype=np.int32), persist=True)
    db.set("calib.tuple", (1, "a"), persist=True)
    db.set("not_persisted", 1, persist=False)
    db.save()
    db.close_db()
    os.remove(path + "-lock")


if __name__ == "__main__":
    main()
