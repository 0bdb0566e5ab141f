# SPDX-License-Identifier: LGPL-3.0-or-later
"""What a simulated run was made with: lab, device database, seed and where its random stream
comes from, ionlink version and commit.

Recorded in every results file as ``ionlink.sim.provenance.*`` datasets (docs/datasets.md), so a
file says which lab description (preset or TOML file, with its SHA-256) and which device
database were simulated, by which code, and what repeats it: the seed of a power-up (given, or
drawn from the operating system's entropy and recorded), or the hardware-state file it continued
(:func:`random_stream`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "NO_LAB",
    "Provenance",
    "lab_file",
    "random_stream",
    "sha256_of",
    "git_commit",
    "ionlink_version",
]

#: the ``--lab`` value that asks for no lab description: the experiment's timing alone, nothing
#: physical simulated (no photons, fluorescence or clicks)
NO_LAB = "none"

PACKAGE_DIR = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Provenance:
    """Provenance of a simulation; strings are empty where unknown, ``seed`` -1 without one;
    ``random_stream`` as :func:`random_stream` says."""

    lab_name: str
    lab_path: str
    lab_sha256: str
    lab_overrides: str
    device_db_path: str
    device_db_sha256: str
    seed: int
    random_stream: str
    ionlink_version: str
    git_commit: str

    def datasets(self, prefix: str) -> dict[str, Any]:
        """``{prefix + field: value}`` (str or int)."""
        return {prefix + key: value for key, value in asdict(self).items()}

    @classmethod
    def of(
        cls,
        *,
        lab: Any,
        lab_path: Path | None,
        device_db_path: Path | None,
        seed: int | None,
        random_stream: str = "",
    ) -> "Provenance":
        """Collect the provenance of a simulation of ``lab`` (a loaded lab or ``None``) read from
        ``lab_path``, with the device database at ``device_db_path``, its random stream seeded
        with ``seed`` as ``random_stream`` says."""
        return cls(
            lab_name=str(getattr(lab, "name", "") or ""),
            lab_path="" if lab_path is None else str(lab_path.resolve()),
            lab_sha256=sha256_of(lab_path),
            lab_overrides=str(getattr(lab, "overrides", "") or ""),
            device_db_path="" if device_db_path is None else str(device_db_path.resolve()),
            device_db_sha256=sha256_of(device_db_path),
            seed=-1 if seed is None else int(seed),
            random_stream=random_stream,
            ionlink_version=ionlink_version(),
            git_commit=git_commit(PACKAGE_DIR),
        )


def random_stream(
    seed: int | None, state: Any, state_path: Path | None, *, reseeded: bool = False
) -> str:
    """Where a simulation's random stream comes from, and so what repeats it:

    - ``"seed"``: a power-up with the seed given (``--seed``);
    - ``"entropy"``: a power-up without one: its seed was drawn from the operating system's
      entropy (``--seed`` with the recorded seed repeats it);
    - ``"state PATH (N experiments since power-up)"``: it continued the stored hardware state
      ``state`` (a :class:`~sim.hwstate.HardwareState`) read from ``PATH``: that file as it was
      (it is rewritten after each run) repeats it, as does the recorded power-up seed with the
      same N experiments before; ``, re-seeded`` appended when ``reseeded`` (another seed was
      given: the hardware of the file, the stream of the seed).
    """
    if state is None:
        return "seed" if seed is not None else "entropy"
    where = "state {} ({} experiments since power-up)".format(
        "" if state_path is None else state_path, state.experiments
    )
    return where + (", re-seeded" if reseeded else "")


def lab_file(lab: Any, device_db_path: Path | None) -> Path | None:
    """The TOML file a lab argument designates: a path, a preset's packaged file, the file a
    loaded lab was read from, or the ``lab.toml`` next to the device database; ``None`` if
    there is no lab or no file."""
    if lab == NO_LAB:
        return None
    if lab is None:
        if device_db_path is None:
            return None
        candidate = device_db_path.resolve().parent / "lab.toml"
        return candidate if candidate.is_file() else None
    if not isinstance(lab, (str, os.PathLike)):
        source = getattr(lab, "source", "")  # a loaded sim.physics.lab.Lab
        return Path(source) if source else None
    path = Path(lab)
    if not path.suffix and not path.exists():
        from sim.presets import LABS_DIR

        return LABS_DIR / "{}.toml".format(lab)
    return path


def sha256_of(path: Path | None) -> str:
    """Hex SHA-256 of the file's bytes (``""`` if no path or unreadable)."""
    if path is None:
        return ""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""


def git_commit(directory: Path) -> str:
    """``git rev-parse HEAD`` if ``directory`` is the top of a git checkout, with ``+dirty`` when
    tracked files differ from that commit (``""`` if it is not, e.g. an installed package, or git
    is missing)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()

    try:
        top, commit = git("rev-parse", "--show-toplevel", "HEAD").splitlines()
        if Path(top).resolve() != Path(directory).resolve():
            return ""
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, ValueError, subprocess.SubprocessError):
        return ""
    return commit + ("+dirty" if dirty else "")


def ionlink_version() -> str:
    """The installed ionlink distribution's version (``""`` if not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ionlink")
    except PackageNotFoundError:
        return ""
