"""Turning live frames into stacks, and finding the frame to blame in them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import CodeType, FrameType

from loopsafe.watch._files import (
    CALLBACK_DISPATCH,
    THREADING_FILE,
    WATCH_DIR,
    is_debugger_file,
    is_loop_internal,
)
from loopsafe.watch.report import Frame, Stack, StackGroup

MAX_DEPTH = 64
"""Frames kept per stack, innermost first (deeper stacks lose their outer frames)."""


def is_debugger_frame(frame: Frame) -> bool:
    """True for frames of pdb, bdb and the common IDE debuggers."""
    return is_debugger_file(frame.filename)


def outer_to_inner(frame: FrameType | None) -> list[FrameType]:
    """All frames of a stack, outermost first."""
    frames: list[FrameType] = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    frames.reverse()
    return frames


def summarize(frames: Sequence[FrameType], limit: int = MAX_DEPTH) -> Stack:
    """Plain (file, line, function) records for the innermost ``limit`` frames."""
    return tuple(
        Frame(f.f_code.co_filename, f.f_lineno or f.f_code.co_firstlineno, f.f_code.co_name)
        for f in frames[-limit:]
    )


def trim_own(stack: Stack) -> Stack:
    """Drop the frames of loopsafe.watch itself (its gc hook, the pytest plugin's
    test wrapper): they are never the cause."""
    return tuple(f for f in stack if not f.filename.startswith(WATCH_DIR))


def thread_stack(frame: FrameType | None) -> Stack:
    """The stack of a thread other than the loop's, without thread bootstrap frames."""
    frames = outer_to_inner(frame)
    while frames and frames[0].f_code.co_filename == THREADING_FILE:
        frames.pop(0)
    return trim_own(summarize(frames))


@dataclass(frozen=True, slots=True)
class LoopBase:
    """The outermost frame that stays put while the loop runs (``run_forever``, or
    under uvloop the Python frame that called it) and its depth in the stack."""

    code: CodeType
    depth: int

    @classmethod
    def from_callback_caller(cls, caller: FrameType | None) -> LoopBase | None:
        """Find the base from the frame that called a loop callback."""
        frame = caller
        while frame is not None and (frame.f_code.co_filename, frame.f_code.co_name) in (
            CALLBACK_DISPATCH
        ):
            frame = frame.f_back
        if frame is None:
            return None
        return cls(frame.f_code, len(outer_to_inner(frame)))

    def split(self, frames: Sequence[FrameType]) -> tuple[Sequence[FrameType], bool]:
        """The frames deeper than the base, and whether the base was found."""
        i = self.depth - 1
        if 0 <= i < len(frames) and frames[i].f_code is self.code:
            return frames[self.depth :], True
        return frames, False


def without_dispatch(frames: Sequence[FrameType]) -> Sequence[FrameType]:
    """Drop the loop's own outer frames (``_run_once``, ``Handle._run``) from a stack
    that runs a callback: they say nothing about which callback it is."""
    start = 0
    while start < len(frames) and (
        (frames[start].f_code.co_filename, frames[start].f_code.co_name) in CALLBACK_DISPATCH
    ):
        start += 1
    return frames[start:] if start < len(frames) else frames


def is_idle(inner: Iterable[FrameType]) -> bool:
    """Whether the frames deeper than the loop base are only the loop's own."""
    return all(is_loop_internal(f.f_code.co_filename) for f in inner)


def user_frame(stack: Stack, is_user_file: Callable[[str], bool]) -> Frame | None:
    """The innermost frame of user code; failing that (an app installed in
    site-packages), the innermost frame that is neither loop machinery nor ours."""
    for frame in reversed(stack):
        if is_user_file(frame.filename):
            return frame
    for frame in reversed(stack):
        name = frame.filename
        if not (name.startswith(("<", WATCH_DIR)) or is_loop_internal(name)):
            return frame
    return None


def group(stacks: Iterable[Stack]) -> tuple[StackGroup, ...]:
    """Identical stacks counted, most frequent first (ties: first seen first)."""
    counts = Counter(stacks)
    return tuple(StackGroup(s, n) for s, n in counts.most_common())


def most_common_user_frame(
    stacks: Sequence[Stack], is_user_file: Callable[[str], bool]
) -> Frame | None:
    """The user frame seen in the most samples (ties: the first seen)."""
    counts: Counter[Frame] = Counter()
    for stack in stacks:
        frame = user_frame(stack, is_user_file)
        if frame is not None:
            counts[frame] += 1
    if not counts:
        return None
    return counts.most_common(1)[0][0]
