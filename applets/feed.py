# SPDX-License-Identifier: LGPL-3.0-or-later
"""From the master's ``datasets`` notifier to an applet widget, as ARTIQ's ``SimpleApplet`` and
``TitleApplet`` do it: keep only the mods of the applet's datasets, apply them to the local copy,
and call ``widget.data_changed(value, metadata, persist, mods, title)`` with the whole current
data and the mods since the last call (``--update-delay`` batches them). ``title`` is the
``--title`` format string filled with dataset values (``/`` standing for ``.`` in names).
"""

from __future__ import annotations

import logging
import string
from typing import Any, Callable, Iterable

__all__ = ["AppletFeed", "title_datasets"]

logger = logging.getLogger(__name__)


def title_datasets(title: str | None) -> set[str]:
    """Dataset names a ``--title`` format string refers to.

    :raises ValueError: an empty field (``{}``)."""
    if title is None:
        return set()
    names = set()
    for _, field, _, _ in string.Formatter().parse(title):
        if field is None:
            continue
        if not field:
            raise ValueError("Invalid title format string")
        names.add(field.replace("/", "."))
    return names


class AppletFeed:
    """The datasets one applet widget follows.

    :param widget: has ``data_changed(value, metadata, persist, mods, title)``.
    :param datasets: names it subscribes to (its dataset arguments).
    :param title: the ``--title`` format string, or ``None``.
    :param prefixes: dataset-name prefixes it also follows.
    :param call_later: ``call_later(delay, fn)`` for ``update_delay`` > 0.
    """

    def __init__(
        self,
        widget: Any,
        datasets: Iterable[str],
        title: str | None = None,
        prefixes: Iterable[str] = (),
        update_delay: float = 0.0,
        call_later: Callable[[float, Callable[[], None]], Any] | None = None,
    ):
        self.widget = widget
        self.title_format = title
        self.title_keys = title_datasets(title)
        self.datasets = set(datasets) | self.title_keys
        self.prefixes = tuple(prefixes)
        self.update_delay = update_delay
        self.call_later = call_later
        self.data: dict = {}
        self._buffer: list[dict] | None = None

    def subscribed(self, key: Any) -> bool:
        """True if dataset ``key`` is one of the applet's."""
        return key in self.datasets or (isinstance(key, str) and key.startswith(self.prefixes))

    def wants(self, mod: dict) -> bool:
        """True if ``mod`` concerns the applet (init always does)."""
        if mod["action"] == "init":
            return True
        if mod.get("path"):
            return self.subscribed(mod["path"][0])
        if mod["action"] in ("setitem", "delitem"):
            return self.subscribed(mod["key"])
        return False

    def init(self, struct: dict) -> dict:
        """The structure received on connection becomes the local copy (a target builder)."""
        self.data = struct
        return struct

    def on_mod(self, mod: dict) -> None:
        """A mod already applied to :attr:`data` (a notify callback)."""
        if not self.wants(mod):
            return
        if self.update_delay and self.call_later is not None:
            if self._buffer is None:
                self._buffer = [mod]
                self.call_later(self.update_delay, self._flush)
            else:
                self._buffer.append(mod)
            return
        self.emit([mod])

    def _flush(self) -> None:
        mods, self._buffer = self._buffer or [], None
        self.emit(mods)

    def title(self) -> str | None:
        """The title with the current values filled in."""
        if self.title_format is None:
            return None
        values = {
            k.replace(".", "/"): self.data.get(k, (False, None, {}))[1] for k in self.title_keys
        }
        try:
            return self.title_format.format(**values)
        except (KeyError, ValueError, TypeError, IndexError):
            logger.warning("failed to format title %r", self.title_format)
            return self.title_format

    def emit(self, mods: list[dict]) -> None:
        """Call the widget with the current data and ``mods``."""
        persist, value, metadata = {}, {}, {}
        for k, entry in self.data.items():
            persist[k], value[k], metadata[k] = entry
        self.widget.data_changed(value, metadata, persist, mods, self.title())
