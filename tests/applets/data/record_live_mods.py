# SPDX-License-Identifier: LGPL-3.0-or-later
"""Record the ``live.*`` dataset mods of a simulated remote-entanglement run as a client of the
simulated master receives them, into ``live_mods.pyon`` (the applet tests replay it).

    PYTHONPATH=. python tests/applets/data/record_live_mods.py

(Startup, single-photon calibration, then a parity-scan run at oxford2020, seed 7.)
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from comms import pyon, sync_struct  # noqa: E402
from sim.master.service import Master, MasterPorts  # noqa: E402
from sim.runner import Simulation  # noqa: E402


def _live(key: object) -> bool:
    return isinstance(key, str) and key.startswith("live.")


async def record(tmp: pathlib.Path) -> list[str]:
    sim = Simulation(ROOT / "device_db.py", seed=7, lab="oxford2020", results_dir=tmp / "results")
    master = Master(sim, ROOT / "repository", ports=MasterPorts(14250, 14251, 14067, 14066))
    await master.start()
    lines: list[str] = []

    def on_mod(mod: dict) -> None:
        # encoded at once: the subscriber's copy shares list objects with the mods it applied
        if mod["action"] == "init":
            mod = {"action": "init", "struct": {k: v for k, v in mod["struct"].items() if _live(k)}}
        elif not _live(mod["path"][0] if mod["path"] else mod.get("key")):
            return
        lines.append(pyon.encode(mod) + "\n")

    sub = sync_struct.Subscriber("datasets", lambda x: x, on_mod)
    await sub.connect("::1", 14250)
    loop = asyncio.get_running_loop()
    for file, arguments in (
        ("startup.py", {}),
        ("single_photon.py", {}),
        ("remote_entanglement.py", {"mode": "parity", "heralds_per_setting": 120}),
    ):
        rid = master.schedule.submit("main", {"file": file, "arguments": arguments})
        await loop.run_in_executor(None, master.schedule.wait_outcome, rid)
    await asyncio.sleep(0.3)
    await sub.close()
    await master.stop()
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lines = asyncio.run(record(pathlib.Path(tmp)))
    out = pathlib.Path(__file__).with_name("live_mods.pyon")
    out.write_text("".join(lines))
    print("{} mods -> {}".format(len(lines), out))


if __name__ == "__main__":
    main()
