# SPDX-License-Identifier: LGPL-3.0-or-later
"""The hardware state file that carries the simulated lab from one ``ionlink-sim run`` to the next.

One file per device database and lab, next to the dataset store:
``<dir of dataset_db.mdb>/sim_state/<key>.state``, ``key`` = the first 16 hex digits of the SHA-256
of the device database's resolved path and the lab's identity (preset name or resolved TOML path).
The file is one line of JSON (format, :data:`~sim.hwstate.STATE_VERSION`, SHA-256 of the payload,
device database and lab with the SHA-256 of their contents, power-up seed, experiments since
power-up, time saved) followed by the payload: a pickle of the :class:`~sim.hwstate.HardwareState`
records (plain dataclasses, ints, lists, numpy arrays; loaded with an unpickler that accepts nothing
else). It is written atomically (temporary file, then rename).

A state saved for another device database or lab content, or by another version of the records, is
discarded with one warning (:class:`StateDiscarded`): the next run is a cold start. A file that
cannot be read or fails its checksum raises :class:`StateFileError`.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import os
import pathlib
import pickle
from typing import Any

from sim.hwstate import STATE_VERSION, HardwareState
from sim.lab_lock import LabLock
from sim.seed import check_seed

__all__ = [
    "FORMAT",
    "HardwareStore",
    "StateDiscarded",
    "StateFileError",
    "fingerprint",
    "load_state",
    "save_state",
    "state_path",
    "store_for",
]

logger = logging.getLogger(__name__)

FORMAT = "ionlink-sim hardware state"
_ALLOWED = {
    "builtins": {
        "dict",
        "list",
        "tuple",
        "set",
        "frozenset",
        "int",
        "float",
        "complex",
        "bool",
        "str",
        "bytes",
        "NoneType",
    },
    "collections": {"deque", "OrderedDict"},
    "numpy": {"ndarray", "dtype"},
    "numpy.core.multiarray": {"_reconstruct", "scalar"},
    "numpy._core.multiarray": {"_reconstruct", "scalar"},
    "numpy.core.numeric": {"_frombuffer"},
    "numpy._core.numeric": {"_frombuffer"},
    "sim.hwstate": None,
    "sim.physics.world": {"WorldRecord"},
    "sim.physics.polarisation": {"PolarisationRecord"},
    "sim.physics.circuit": {"CircuitRecord"},
    "sim.physics.detectors": {"ClickRecord"},
    "sim.physics.view": {"DDSState"},
    "sim.rtio.phy.urukul": {"DDSState"},
    "sim.rtio.phy.ad9910_serial": {"SerialPort"},
    "sim.rtio.phy.ad9910_ram": {"RamProfile"},
}


class StateFileError(Exception):
    """The state file exists but cannot be read (corrupt, truncated, not a state file)."""


class StateDiscarded(Exception):
    """The stored state does not apply (changed device database or lab, other version)."""


def fingerprint(obj: Any) -> str:
    """SHA-256 (hex) of ``repr(obj)`` (a device_db dict, a frozen ``Lab`` dataclass)."""
    return hashlib.sha256(repr(obj).encode()).hexdigest()


def state_path(directory: str | os.PathLike, device_db: str, lab: str) -> pathlib.Path:
    """``directory/sim_state/<key>.state`` for a device database identity and a lab identity."""
    key = hashlib.sha256(f"{device_db}\0{lab}".encode()).hexdigest()[:16]
    return pathlib.Path(directory) / "sim_state" / f"{key}.state"


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED.get(module, set())
        if allowed is None or name in allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in a state file")


def save_state(path: str | os.PathLike, state: HardwareState, *, identity: dict) -> None:
    """Write ``state`` to ``path`` atomically. ``identity``: header entries (``device_db``,
    ``device_db_sha256``, ``lab``, ``lab_sha256``)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    header = {
        "format": FORMAT,
        "version": STATE_VERSION,
        "sha256": hashlib.sha256(payload).hexdigest(),
        **identity,
        "seed": state.seed,
        "experiments": state.experiments,
        "saved_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(json.dumps(header).encode() + b"\n")
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_state(path: str | os.PathLike, *, identity: dict) -> HardwareState:
    """Read the state at ``path`` saved for ``identity`` (see :func:`save_state`).

    :raises FileNotFoundError: there is no state file.
    :raises StateDiscarded: the state is for another device database / lab content or version
        (the message says which).
    :raises StateFileError: the file is unreadable or corrupt.
    """
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StateFileError(f"hardware state file {path}: {exc.strerror}") from exc
    line, _, payload = data.partition(b"\n")
    try:
        header = json.loads(line)
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"not an {FORMAT} file")
    except ValueError as exc:
        raise StateFileError(
            "hardware state file {} is unreadable ({})".format(path, " ".join(str(exc).split()))
        ) from exc
    if header.get("version") != STATE_VERSION:
        raise StateDiscarded(
            "it was saved by another version of the simulator (state version "
            "{}, this one reads {})".format(header.get("version"), STATE_VERSION)
        )
    for key, what in (("device_db_sha256", "device database {}"), ("lab_sha256", "lab {}")):
        if header.get(key) != identity.get(key):
            name = identity.get(key.replace("_sha256", ""))
            raise StateDiscarded(f"the {what.format(name)} changed since it was saved")
    if hashlib.sha256(payload).hexdigest() != header.get("sha256"):
        raise StateFileError(f"hardware state file {path} is corrupt (checksum mismatch)")
    try:
        state = _Unpickler(io.BytesIO(payload)).load()
    except Exception as exc:
        raise StateFileError(
            f"hardware state file {path} is unreadable ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(state, HardwareState) or state.version != STATE_VERSION:
        raise StateFileError(f"hardware state file {path} holds no hardware state")
    bad_seed = check_seed(state.seed)
    if bad_seed is not None:  # written by a simulator that did not check --seed
        raise StateFileError(f"hardware state file {path}: its {bad_seed}")
    return state


class HardwareStore:
    """Where a simulation keeps its hardware state between ``ionlink-sim run`` processes.

    :param path: the state file (see :func:`state_path`); None keeps nothing on disk.
    :param identity: ``device_db``, ``device_db_sha256``, ``lab``, ``lab_sha256``.
    """

    def __init__(self, path: pathlib.Path | None, identity: dict) -> None:
        self.path = path
        self.identity = identity
        self._lock: LabLock | None = None
        #: the state file as this store last saw it (:func:`_file_version`), from :meth:`claim`
        self._seen: tuple[int, int, int] | None = None

    @property
    def held(self) -> bool:
        """This process holds the simulated lab (:meth:`claim`)."""
        return self._lock is not None

    def claim(self) -> None:
        """Hold the simulated lab whose state this is for this process until :meth:`release`
        (:class:`~sim.lab_lock.LabLock`; nothing without a file).

        :raises LabInUse: another process holds it.
        """
        if self.path is None or self._lock is not None:
            return
        lock = LabLock(self.path)
        lock.acquire()
        self._lock = lock
        self._seen = _file_version(self.path)

    def release(self) -> None:
        """Give the simulated lab back (idempotent)."""
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def load(self) -> HardwareState | None:
        """The stored state, or None (no file; or discarded, with one warning).

        :raises StateFileError: the file is unreadable or corrupt.
        """
        if self.path is None:
            return None
        try:
            state = load_state(self.path, identity=self.identity)
        except FileNotFoundError:
            return None
        except StateDiscarded as exc:
            logger.warning(
                "stored hardware state discarded: %s; the simulated lab starts "
                "as after power-up (run Startup)",
                exc,
            )
            return None
        logger.debug(  # every experiment of a lab day: not worth a line
            "continuing the hardware state in %s (%d experiments since power-up)",
            self.path,
            state.experiments,
        )
        return state

    def save(self, state: HardwareState | None) -> None:
        """Store ``state`` (None: remove the stored state, the next run starts cold).

        A held store whose file was removed or replaced since it was claimed or last saved (its
        ``sim_state/`` deleted for a power-up while this process ran, and perhaps another
        process on the lab since, whose lock is a new file) is left as it is, with one warning:
        the power-up, or the other process's state, stands."""
        if self.path is None:
            return
        if self._lock is not None and _file_version(self.path) != self._seen:
            logger.warning(
                "hardware state file %s was removed or replaced while this process held the "
                "simulated lab (its folder deleted for a power-up, or another process since): "
                "this run's hardware state is not stored, the next run starts from what is there",
                self.path,
            )
            return
        if state is None:
            self.path.unlink(missing_ok=True)
        else:
            save_state(self.path, state, identity=self.identity)
        self._seen = _file_version(self.path)


def _file_version(path: pathlib.Path) -> tuple[int, int, int] | None:
    """(device, inode, modification time in ns) of the file at ``path``, None if there is none:
    an atomic save (a rename) or a removal changes it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns)


def store_for(
    state: bool | str | os.PathLike | None,
    directory: pathlib.Path,
    device_db_path: pathlib.Path | None,
    lab_arg: Any,
    device_db: dict,
    lab: Any,
) -> HardwareStore:
    """The :class:`HardwareStore` of ``Simulation(state=...)``: ``state`` True → the file of
    :func:`state_path` in ``directory``, a path → that file, falsy → none. ``lab_arg``: the lab
    as given (None: ``lab.toml`` next to the device database); ``device_db``, ``lab``: the
    loaded contents, fingerprinted."""
    if device_db_path is not None:
        ddb_id = str(device_db_path.resolve())
    else:
        ddb_id = "<device_db dict>"
    if lab_arg is None:
        candidate = device_db_path.resolve().parent / "lab.toml" if device_db_path else None
        lab_id = str(candidate) if candidate is not None and candidate.is_file() else "none"
    elif isinstance(lab_arg, (str, os.PathLike)):
        p = pathlib.Path(lab_arg)
        lab_id = str(p.resolve()) if p.is_file() else f"preset:{lab_arg}"
    else:
        lab_id = "lab:" + str(getattr(lab_arg, "name", type(lab_arg).__name__))
    identity = {
        "device_db": ddb_id,
        "device_db_sha256": fingerprint(device_db),
        "lab": lab_id,
        "lab_sha256": fingerprint(lab),
    }
    if not state:
        path = None
    elif state is True:
        path = state_path(directory, ddb_id, lab_id)
    else:
        path = pathlib.Path(state)
    return HardwareStore(path, identity)
