"""Cron expressions: the five standard fields, evaluated in UTC.

A small parser of our own rather than a dependency: the queue needs only "the latest tick
at or before now" for the classic five fields, and the engine's stores keep to the standard
library. Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12), day of week
(0-7, 0 and 7 are Sunday). Each field is ``*``, a number, a range ``a-b``, a step ``*/n``
or ``a-b/n``, or a comma-separated list of those. As in Vixie cron, when both day fields are
restricted a day matches if *either* matches. Names (``MON``, ``JAN``) and ``@daily``-style
macros are not supported: they raise :class:`~loopsafe.ScheduleError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loopsafe.errors import ScheduleError

__all__ = ["Cron"]

_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = ("minute", "hour", "day of month", "month", "day of week")


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed cron expression. ``Cron.parse("*/5 * * * *").latest(now)`` is the most
    recent tick at or before ``now`` (a POSIX timestamp), as a timestamp."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Monday ... 6 = Sunday (Python's weekday())
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        """Raises :class:`~loopsafe.ScheduleError` for anything but five valid fields."""
        fields = expression.split()
        if len(fields) != 5:
            raise ScheduleError(
                f"a cron expression has 5 fields (minute hour day month weekday), "
                f"not {len(fields)}: {expression!r}"
            )
        sets = [_field(f, i, expression) for i, f in enumerate(fields)]
        # cron's Sunday is 0 or 7; Python's is 6.
        weekdays = frozenset((d - 1) % 7 for d in sets[4])
        return cls(
            expression,
            sets[0],
            sets[1],
            sets[2],
            sets[3],
            weekdays,
            any_day=fields[2] == "*",
            any_weekday=fields[4] == "*",
        )

    def _day_matches(self, day: datetime) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = day.weekday() in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def latest(self, now: float) -> float | None:
        """The latest tick at or before ``now``, or ``None`` if there is none in the past
        eight years (an expression such as ``0 0 31 2 *`` never fires)."""
        moment = datetime.fromtimestamp(now, UTC).replace(second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0)
        limit = (moment.hour, moment.minute)
        for _ in range(8 * 366):
            if self._day_matches(day):
                best = _latest_time(self.hours, self.minutes, limit)
                if best is not None:
                    return day.replace(hour=best[0], minute=best[1]).timestamp()
            day -= timedelta(days=1)
            limit = (23, 59)
        return None


def _latest_time(
    hours: frozenset[int], minutes: frozenset[int], limit: tuple[int, int]
) -> tuple[int, int] | None:
    for hour in sorted((h for h in hours if h <= limit[0]), reverse=True):
        top = limit[1] if hour == limit[0] else 59
        candidates = [m for m in minutes if m <= top]
        if candidates:
            return hour, max(candidates)
    return None


def _field(text: str, index: int, expression: str) -> frozenset[int]:
    low, high = _BOUNDS[index]
    values: set[int] = set()
    for part in text.split(","):
        try:
            values.update(_part(part, low, high))
        except ValueError:
            raise ScheduleError(
                f"bad {_NAMES[index]} field {text!r} in cron expression {expression!r} "
                f"(numbers {low}-{high}, '*', 'a-b', '*/n', 'a-b/n', lists with ',')"
            ) from None
    return frozenset(values)


def _part(part: str, low: int, high: int) -> range:
    span, _, step_text = part.partition("/")
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ValueError(part)
    if span == "*":
        start, stop = low, high
    elif "-" in span:
        a, b = span.split("-", 1)
        start, stop = int(a), int(b)
    else:
        start = int(span)
        stop = high if step_text else start
    if not low <= start <= stop <= high:
        raise ValueError(part)
    return range(start, stop + 1, step)
