"""A dead man's switch: a kernel timer the heartbeat keeps pushing back.

The watchdog thread must not wake up on a schedule: every wake-up takes the GIL
from a busy loop thread, and on a loaded machine each one costs the loop
hundreds of microseconds (measured: a thread waking every 10 ms slowed a
saturated asyncio loop by 7%). Instead the heartbeat re-arms a Linux timerfd on
every beat (one syscall, GIL kept) and the watchdog sleeps on it without the
GIL: it wakes only when the heartbeat is late, that is when the loop stalls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import select
import sys
from collections.abc import Callable

_CLOCK_MONOTONIC = 1
_TFD_CLOEXEC = 0o2000000
_TFD_NONBLOCK = 0o4000


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _spec(seconds: float) -> _Itimerspec:
    spec = _Itimerspec()
    ns = max(1, round(seconds * 1e9))
    spec.it_value.tv_sec, spec.it_value.tv_nsec = divmod(ns, 1_000_000_000)
    return spec


class Alarm:
    """A one-shot timer on a file descriptor; ``Alarm.create()`` is None off Linux."""

    def __init__(self, fd: int, settime: Callable[..., int], delay: float) -> None:
        self._fd = fd
        self._settime = settime
        self._delay_spec = _spec(delay)
        self._now_spec = _spec(1e-9)
        self._poller = select.poll()
        self._poller.register(fd, select.POLLIN)
        delay_ref = ctypes.byref(self._delay_spec)
        # Bound once: the heartbeat calls this on every beat.
        self.arm: Callable[[], object] = lambda: settime(fd, 0, delay_ref, None)

    @classmethod
    def create(cls, delay: float) -> Alarm | None:
        """An alarm that goes off ``delay`` seconds after each :attr:`arm` call."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            # PyDLL keeps the GIL across the call: a syscall this short must not
            # hand the GIL to another thread on every beat.
            libc = ctypes.PyDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            create = libc.timerfd_create
            settime = libc.timerfd_settime
        except (OSError, AttributeError):
            return None
        create.argtypes = [ctypes.c_int, ctypes.c_int]
        create.restype = ctypes.c_int
        settime.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.c_void_p,
        ]
        settime.restype = ctypes.c_int
        fd = create(_CLOCK_MONOTONIC, _TFD_CLOEXEC | _TFD_NONBLOCK)
        if fd < 0:
            return None
        return cls(fd, settime, delay)

    def fire(self) -> None:
        """Go off now (to wake the waiter)."""
        self._settime(self._fd, 0, ctypes.byref(self._now_spec), None)

    def wait(self, timeout: float) -> bool:
        """Sleep, without the GIL, until the alarm goes off or ``timeout`` passes."""
        if not self._poller.poll(max(0, round(timeout * 1000))):
            return False
        try:
            os.read(self._fd, 8)
        except OSError as e:  # re-armed between the poll and the read
            if e.errno != errno.EAGAIN:
                raise
        return True

    def close(self) -> None:
        """Release the file descriptor."""
        try:
            self._poller.unregister(self._fd)
        finally:
            os.close(self._fd)
