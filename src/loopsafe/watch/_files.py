"""Which source files are user code, library code, the loop's own or a debugger's.

Decided from file names alone, so that both the monitor (which line to blame) and
a report (which frames to fold when printed) can ask without knowing each other.
"""

from __future__ import annotations

import asyncio
import os
import selectors
import sys
import sysconfig
import threading

WATCH_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
"""loopsafe.watch's own directory: its frames are never the cause of a stall."""
_LOOPSAFE_DIR = os.path.dirname(os.path.dirname(WATCH_DIR.rstrip(os.sep))) + os.sep
_FASTAPI_WATCH = os.path.join(_LOOPSAFE_DIR, "fastapi", "watch.py")
THREADING_FILE = os.path.abspath(threading.__file__)


def _library_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        dirs.add(os.path.join(prefix, "lib"))
    return tuple(sorted(os.path.abspath(d) + os.sep for d in dirs))


_LIBRARY_PREFIXES = _library_prefixes()
_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))
# Frames in these files, deeper than the loop's base frame, mean the loop is between
# callbacks (polling, dispatching): events.py is absent because Handle._run is a callback.
_LOOP_INTERNAL_FILES = frozenset(
    os.path.join(_ASYNCIO_DIR, name)
    for name in (
        "base_events.py",
        "selector_events.py",
        "unix_events.py",
        "proactor_events.py",
        "windows_events.py",
    )
) | {os.path.abspath(selectors.__file__)}
CALLBACK_DISPATCH = frozenset(
    {
        (os.path.join(_ASYNCIO_DIR, "events.py"), "_run"),
        (os.path.join(_ASYNCIO_DIR, "base_events.py"), "_run_once"),
    }
)
"""(file, function) of the loop's frames that run one callback."""
_DEBUGGER_MARKERS = ("/bdb.py", "/pdb.py", "pydevd", "debugpy", "/pudb/", "/ipdb/")


def default_is_user_file(filename: str) -> bool:
    """True for code outside the standard library, site-packages and loopsafe.watch."""
    if not filename or filename.startswith("<"):
        return False
    if "site-packages" in filename or "dist-packages" in filename:
        return False
    if filename.startswith(WATCH_DIR) or filename == _FASTAPI_WATCH:
        return False
    return not filename.startswith(_LIBRARY_PREFIXES)


def is_loop_internal(filename: str) -> bool:
    """True for the event loop's own polling and dispatch code."""
    return filename in _LOOP_INTERNAL_FILES


def is_debugger_file(filename: str) -> bool:
    """True for the files of pdb, bdb and the common IDE debuggers."""
    name = filename.replace(os.sep, "/")
    return any(marker in name for marker in _DEBUGGER_MARKERS)
