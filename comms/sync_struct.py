# SPDX-License-Identifier: LGPL-3.0-or-later
"""A structure of nested dicts and lists kept in step between one owner and any number of
subscribers, on the wire as sipyco's ``sync_struct`` (ARTIQ's master publishes its ``datasets``,
``schedule``, ``devices``... this way on its notify port, 3250).

The owner changes the structure only through a :class:`Notifier`, which turns each change into a
*mod*; a :class:`Publisher` serves notifiers by name; a :class:`Subscriber` connects, receives the
whole structure once and then the mods, applying each to its copy (:func:`process_mod`).

Protocol (one line per message, PYON v2): the subscriber sends ``ARTIQ sync_struct`` and then the
notifier's name; the publisher answers ``{"action": "init", "struct": <whole structure>}`` and
then one mod per change. Mods (:class:`ModAction`) carry ``path``, the list of keys/indices from
the root to the container changed:

- ``{"action": "setitem", "path": p, "key": k, "value": v}`` — ``container[k] = v``
- ``{"action": "delitem", "path": p, "key": k}`` — ``del container[k]``
- ``{"action": "append", "path": p, "x": v}`` — ``container.append(v)``
- ``{"action": "insert", "path": p, "i": i, "x": v}`` — ``container.insert(i, v)``
- ``{"action": "pop", "path": p, "i": i}`` — ``container.pop(i)``

ARTIQ's dataset store maps each name to ``(persist, value, metadata)``, so an experiment's
``mutate_dataset(k, i, v)`` arrives as ``setitem`` with path ``[k, 1]`` and key ``i``, and
``append_to_dataset(k, v)`` as ``append`` with path ``[k, 1]``.
"""

from __future__ import annotations

import asyncio
import logging
from enum import Enum, unique
from typing import Any, Callable, Iterable

from comms import pyon
from comms.server import LINE_LIMIT, TCPServer, enable_keepalive

__all__ = [
    "ModAction",
    "Notifier",
    "Publisher",
    "Subscriber",
    "process_mod",
    "update_from_dict",
    "BANNER",
]

logger = logging.getLogger(__name__)

#: First line a subscriber sends.
BANNER = b"ARTIQ sync_struct\n"


@unique
class ModAction(Enum):
    """The kinds of message: ``init`` (the whole structure, in ``struct``) and the mods."""

    init = "init"
    append = "append"
    insert = "insert"
    pop = "pop"
    setitem = "setitem"
    delitem = "delitem"


def process_mod(target: Any, mod: dict) -> None:
    """Apply ``mod`` to ``target`` in place (``target`` is the structure's root)."""
    for key in mod["path"]:
        target = target[key]
    action = ModAction(mod["action"])
    if action is ModAction.setitem:
        target[mod["key"]] = mod["value"]
    elif action is ModAction.delitem:
        del target[mod["key"]]
    elif action is ModAction.append:
        target.append(mod["x"])
    elif action is ModAction.insert:
        target.insert(mod["i"], mod["x"])
    elif action is ModAction.pop:
        target.pop(mod["i"])
    else:
        raise ValueError("an init message is not a mod")


class Notifier:
    """Wraps a structure; every change made through it is published as a mod.

    ``n[k] = v``, ``del n[k]``, ``n.append(x)``, ``n.insert(i, x)``, ``n.pop(i)``; ``n[k]`` is a
    notifier of the nested container (so ``n["a"][1].append(3)`` publishes a mod with path
    ``["a", 1]``). Read through :attr:`raw_view`; never mutate it directly.

    :attr:`publish` (set by one :class:`Publisher`, or by the owner) receives each mod.
    """

    def __init__(self, backing_struct: Any, root: "Notifier | None" = None, path: list = []):
        #: the wrapped structure (read only)
        self.raw_view = backing_struct
        self.root: Notifier = self if root is None else root
        self.publish: Callable[[dict], None] | None = None
        self._path = list(path)

    def _emit(self, mod: dict) -> None:
        publish = self.root.publish
        if publish is not None:
            publish(mod)

    def append(self, x: Any) -> None:
        """Append ``x`` to the list."""
        self.raw_view.append(x)
        self._emit({"action": "append", "path": self._path, "x": x})

    def insert(self, i: int, x: Any) -> None:
        """Insert ``x`` at index ``i`` of the list."""
        self.raw_view.insert(i, x)
        self._emit({"action": "insert", "path": self._path, "i": i, "x": x})

    def pop(self, i: int = -1) -> Any:
        """Remove and return item ``i`` of the list (no longer tracked)."""
        r = self.raw_view.pop(i)
        self._emit({"action": "pop", "path": self._path, "i": i})
        return r

    def __setitem__(self, key: Any, value: Any) -> None:
        self.raw_view[key] = value
        self._emit({"action": "setitem", "path": self._path, "key": key, "value": value})

    def __delitem__(self, key: Any) -> None:
        del self.raw_view[key]
        self._emit({"action": "delitem", "path": self._path, "key": key})

    def __getitem__(self, key: Any) -> "Notifier":
        return Notifier(self.raw_view[key], self.root, self._path + [key])


def update_from_dict(target: Notifier, source: dict) -> None:
    """Make the dict behind ``target`` equal to ``source`` with as few top-level mods as
    possible (removed keys deleted, changed or new keys set)."""
    current = target.raw_view
    for key in [k for k in current if k not in source]:
        del target[key]
    for key, value in source.items():
        if key not in current or not _equal(current[key], value):
            target[key] = value


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except ValueError:  # numpy arrays: element-wise comparison
        return pyon.encode(a) == pyon.encode(b)


class Publisher(TCPServer):
    """Serve ``{name: Notifier}``: each subscriber gets the structure, then every mod.

    Each subscriber has its own queue, so a slow one delays nobody else; a mod is encoded once,
    when it is made.
    """

    def __init__(self, notifiers: dict[str, Notifier]):
        super().__init__()
        self.notifiers = notifiers
        self._queues: dict[str, set[asyncio.Queue]] = {name: set() for name in notifiers}
        for name, notifier in notifiers.items():
            notifier.publish = self._publisher_of(name)

    def _publisher_of(self, name: str) -> Callable[[dict], None]:
        def publish(mod: dict) -> None:
            line = (pyon.encode(mod) + "\n").encode()
            for queue in self._queues[name]:
                queue.put_nowait(line)

        return publish

    async def _handle_connection_cr(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if await reader.readline() != BANNER:
            return
        line = await reader.readline()
        if not line.endswith(b"\n"):
            return
        name = line.decode()[:-1]
        notifier = self.notifiers.get(name)
        if notifier is None:
            return
        writer.write((pyon.encode({"action": "init", "struct": notifier.raw_view}) + "\n").encode())
        queue: asyncio.Queue = asyncio.Queue()
        self._queues[name].add(queue)
        try:
            while True:
                writer.write(await queue.get())
                await writer.drain()
        finally:
            self._queues[name].discard(queue)


class Subscriber:
    """Receive a published structure.

    :param notifier_name: which of the publisher's notifiers.
    :param target_builder: called with the structure received at connection; returns the local
        structure that mods are then applied to.
    :param notify_cb: called with every message (``init`` included) after it was applied; a
        function or a list of them. An exception in it ends the subscription (logged).
    :param disconnect_cb: called when the connection ends other than by :meth:`close`.
    """

    def __init__(
        self,
        notifier_name: str,
        target_builder: Callable[[Any], Any],
        notify_cb: Callable[[dict], Any] | Iterable[Callable[[dict], Any]] | None = None,
        disconnect_cb: Callable[[], Any] | None = None,
    ):
        self.notifier_name = notifier_name
        self.target_builder = target_builder
        if notify_cb is None:
            self.notify_cbs: list[Callable[[dict], Any]] = []
        elif callable(notify_cb):
            self.notify_cbs = [notify_cb]
        else:
            self.notify_cbs = list(notify_cb)
        self.disconnect_cb = disconnect_cb
        self.receive_task: asyncio.Task | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(
        self, host: str, port: int, before_receive_cb: Callable[[], Any] | None = None
    ) -> None:
        """Connect and start receiving in a task (``before_receive_cb`` runs just before)."""
        reader, writer = await asyncio.open_connection(host, port, limit=LINE_LIMIT)
        enable_keepalive(writer.get_extra_info("socket"))
        try:
            if before_receive_cb is not None:
                before_receive_cb()
            writer.write(BANNER)
            writer.write((self.notifier_name + "\n").encode())
        except BaseException:
            writer.close()
            raise
        self._writer = writer
        self.receive_task = asyncio.ensure_future(self._receive(reader))

    async def close(self) -> None:
        """End the subscription (``disconnect_cb`` is not called)."""
        self.disconnect_cb = None
        try:
            if self.receive_task is not None:
                self.receive_task.cancel()
                try:
                    await self.receive_task
                except asyncio.CancelledError:
                    pass
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    async def _receive(self, reader: asyncio.StreamReader) -> None:
        target: Any = None
        try:
            while True:
                line = await reader.readline()
                if not line.endswith(b"\n"):
                    return
                mod = pyon.decode(line, v1_fallback=False)
                if mod["action"] == "init":
                    target = self.target_builder(mod["struct"])
                else:
                    process_mod(target, mod)
                try:
                    for cb in self.notify_cbs:
                        cb(mod)
                except Exception:
                    logger.error("Exception in notifier callback", exc_info=True)
                    return
        except (ConnectionError, ValueError, KeyError, TypeError) as exc:
            if not isinstance(exc, ConnectionError):
                logger.error("sync_struct: bad message from the publisher: %s", exc)
        finally:
            if self.disconnect_cb is not None:
                self.disconnect_cb()
