"""One shared Database per file, options and event loop, counted by its users.

A DB-API "connection" (the aiosqlite adapter's, an ORM pool's) must be cheap: it is opened
per request or per session. Each acquire of the same file with the same options gets the
same Database — one writer and one pool of readers for the process — and the last release
closes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import weakref
from typing import Any

from loopsafe import errors
from loopsafe.engine._options import Options
from loopsafe.engine.database import Database, open


class _Entry:
    __slots__ = ("key", "opening", "users")

    def __init__(self, key: Options, opening: asyncio.Future[Database]) -> None:
        self.key = key
        self.opening = opening
        self.users = 0


# Per event loop: a Database belongs to the loop that opened it.
_entries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Options, _Entry]] = (
    weakref.WeakKeyDictionary()
)
_owners: weakref.WeakKeyDictionary[Database, _Entry] = weakref.WeakKeyDictionary()
_closing: set[asyncio.Task[None]] = set()  # background closes of release_nowait


def _key(options: Options) -> Options:
    # The same file reached by two spellings is one file.
    return dataclasses.replace(options, path=os.path.realpath(os.fspath(options.path)))


async def acquire(path: str | os.PathLike[str], **options: Any) -> Database:
    """Return the open Database for ``path`` and ``options`` (those of
    :func:`loopsafe.open`) on the running event loop, opening it if needed; every call
    must be matched by one :func:`release` (or :func:`release_nowait`).

    Two acquires with the same file (however spelled) and equal options share one
    Database; different options, or another event loop, get another. ``":memory:"`` is
    never shared: each acquire opens a new, private in-memory database. Callers share
    everything that lives on the connections (TEMP tables, PRAGMAs, functions added with
    ``configure``): they are the same connections.

    Raises: ``ArgumentError`` (at once, for an option); what opening raises
    (``CannotOpenError``, ``CorruptError``, ``SetupError``, ...), to every acquire waiting
    for that open. **Cancellation** while the Database opens: this caller gives up its
    share; the open carries on for the others, and a Database nobody waits for any more is
    closed as soon as it is open.
    """
    opener = open(path, **options)
    loop = asyncio.get_running_loop()
    if opener.options.memory:
        db = await opener
        opened: asyncio.Future[Database] = loop.create_future()
        opened.set_result(db)
        own = _owners[db] = _Entry(opener.options, opened)
        own.users = 1
        return db
    key = _key(opener.options)
    entries = _entries.setdefault(loop, {})
    entry = entries.get(key)
    if entry is None or _unusable(entry):
        entry = _Entry(key, asyncio.ensure_future(opener))
        entries[key] = entry
    entry.users += 1
    try:
        db = await asyncio.shield(entry.opening)
    except BaseException:
        entry.users -= 1
        if entry.opening.done():
            if entries.get(key) is entry and _unusable(entry):
                del entries[key]
        elif entry.users == 0:
            entry.opening.add_done_callback(lambda _: _close_if_unused(loop, entry))
        raise
    _owners[db] = entry
    return db


def _unusable(entry: _Entry) -> bool:
    opening = entry.opening
    if not opening.done():
        return False
    return opening.cancelled() or opening.exception() is not None or opening.result().closed


def _close_if_unused(loop: asyncio.AbstractEventLoop, entry: _Entry) -> None:
    # Everyone who waited for this open was cancelled: nobody will release it.
    if entry.users or entry.opening.cancelled() or entry.opening.exception() is not None:
        return
    entries = _entries.get(loop, {})
    if entries.get(entry.key) is entry:
        del entries[entry.key]
    _close_later(entry.opening.result())


def _take_share(db: Database) -> bool:
    """Give up one share of ``db``; True when it was the last one."""
    entry = _owners.get(db)
    if entry is None or entry.users <= 0:
        raise errors.ArgumentError(
            "release() of a Database that acquire() did not return, or released once too often"
        )
    entry.users -= 1
    if entry.users:
        return False
    del _owners[db]
    for entries in list(_entries.values()):
        if entries.get(entry.key) is entry:
            del entries[entry.key]
    return True


async def release(db: Database) -> None:
    """Give back one share of ``db``; the last one closes it (see ``Database.close``) and
    returns when it is closed.

    Raises: ``ArgumentError`` for a Database that :func:`acquire` did not return, or one
    released more often than acquired. **Cancellation**: the share is given back at once;
    the close (if it was the last) carries on in the background.
    """
    if _take_share(db):
        await db.close()


def release_nowait(db: Database) -> None:
    """Give back one share of ``db`` without waiting (synchronous: for ``__del__`` and
    finalizers). The last share closes it: in the background on its running loop, else at
    once with ``Database.terminate``.

    Raises: ``ArgumentError`` as :func:`release`.
    """
    if _take_share(db):
        _close_later(db)


def _close_later(db: Database) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None and running is db.loop:
        task = running.create_task(db.close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)
    else:
        db.terminate()
