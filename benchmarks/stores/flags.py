"""Flag check benchmark: ``Flags.is_enabled`` and the same check through the OpenFeature
client (the loopsafe provider), in one run.

A flag with every kind of gate set except the boolean one (20 actors, 3 groups, 30% of
actors, 0% of time), checked for actors in turn; nanoseconds per synchronous check.

Run alone with ``python -m benchmarks.stores.flags``; ``benchmarks.stores`` calls :func:`run`.
Writes ``flags.md`` and ``flags.json`` into ``results/stores/``.
"""

from __future__ import annotations

import asyncio
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import loopsafe
from benchmarks.stores._drive import write

RESULTS = Path("results/stores")
CHECKS = 200_000


def _per_check_ns(check: Callable[[int], object], n: int) -> float:
    best = float("inf")
    for _ in range(3):  # the best of three: the host takes the CPU away in gaps
        started = time.perf_counter_ns()
        for i in range(n):
            check(i)
        best = min(best, (time.perf_counter_ns() - started) / n)
    return best


async def run(out: Path = RESULTS, *, checks: int = CHECKS) -> dict[str, Any]:
    """Measure both ways of checking; write ``flags.md`` and ``flags.json`` into ``out``."""
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext

    from loopsafe.stores.flags.openfeature import FlagsProvider

    actors = [f"user-{i}" for i in range(1000)]
    with tempfile.TemporaryDirectory() as tmp:
        async with loopsafe.Flags(Path(tmp) / "flags.db") as flags:
            await flags.set(
                "new-checkout",
                actors=[f"vip-{i}" for i in range(20)],
                groups=["staff", "beta", "partners"],
                percentage_of_actors=30,
            )
            groups = ("customers",)
            direct = _per_check_ns(
                lambda i: flags.is_enabled("new-checkout", actors[i % 1000], groups), checks
            )
            api.set_provider(FlagsProvider(flags), domain="bench")
            client = api.get_client("bench")
            contexts = [EvaluationContext(a, {"groups": list(groups)}) for a in actors]
            through = _per_check_ns(
                lambda i: client.get_boolean_value("new-checkout", False, contexts[i % 1000]),
                checks // 10,
            )
            api.clear_providers()
    per_check = {"Flags.is_enabled": direct, "OpenFeature client": through}
    report: dict[str, object] = {
        "benchmark": "flag check, synchronous, from the in-process snapshot",
        "checks": checks,
        "python": platform.python_version(),
        "ns_per_check": per_check,
    }
    lines = [
        "# Flags: one check",
        "",
        "A flag with actor, group and percentage-of-actors gates, checked for 1,000 actors in "
        f"turn (best of three runs). Python {report['python']}.",
        "",
        "| way | per check | checks/s |",
        "| --- | ---: | ---: |",
    ]
    for name, ns in per_check.items():
        lines.append(f"| {name} | {ns / 1000:.2f} µs | {1e9 / ns:,.0f} |")
    write(out, "flags", report, "\n".join(lines) + "\n")
    return report


if __name__ == "__main__":
    asyncio.run(run())
    print((RESULTS / "flags.md").read_text())
