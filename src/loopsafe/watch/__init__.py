"""Watch tools: see a blocked event loop (monitor, pytest plugin).

``LoopMonitor`` runs a heartbeat on an asyncio or uvloop loop and a watchdog thread
beside it. It keeps a lag histogram and, when the loop stalls past a threshold,
samples the loop thread's stack and reports where and why: CPU-bound code, a
blocking call, a GC pause, or the GIL held by another thread.
"""

from loopsafe.watch._histogram import LagSnapshot
from loopsafe.watch._monitor import LoopMonitor, StallCallback, monitor
from loopsafe.watch.report import Frame, GcPauseInfo, StackGroup, StallKind, StallReport, ThreadInfo
from loopsafe.watch.tasks import labelled

__all__ = [
    "Frame",
    "GcPauseInfo",
    "LagSnapshot",
    "LoopMonitor",
    "StackGroup",
    "StallCallback",
    "StallKind",
    "StallReport",
    "ThreadInfo",
    "labelled",
    "monitor",
]
