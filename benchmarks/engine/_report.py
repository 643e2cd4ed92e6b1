"""The engine benchmark's report: a terminal table and a Markdown file, with ratios and the
targets of the fast-path issue, each met or missed, from the numbers of the same run."""

from __future__ import annotations

from typing import Any

from rich.table import Table

NAMES = [
    "aiosqlite",
    "aiosqlite execute_fetchall",
    "executor+thread-local",
    "executor+connect-per-call",
    "loopsafe",
    "loopsafe inline=False",
]


def _by_key(report: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, dict[str, Any]]]:
    by_key: dict[tuple[str, str, int], dict[str, dict[str, Any]]] = {}
    for r in report["results"]:
        by_key.setdefault((r["kind"], r["durability"], r["tasks"]), {})[r["contender"]] = r
    return by_key


def _idle_p99(report: dict[str, Any]) -> float:
    # The quieter of the two idle measurements: the stricter baseline for loopsafe.
    return min((m["p99"] for m in report["idle_loop_lag_ms"]), default=0.0)


def _raw64(report: dict[str, Any], kind: str, durability: str) -> float:
    raw = report["raw_limit_ops_per_s"]
    return float(raw.get(f"{kind}/{durability}/64", raw[f"{kind}/{durability}"]))


def _rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    loop = report["machine"]["event_loop"]
    idle = _idle_p99(report)
    raw = report["raw_limit_ops_per_s"]
    for (kind, durability, tasks), cases in _by_key(report).items():
        limit = raw[f"{kind}/{durability}"]
        batched = _raw64(report, kind, durability)
        ceiling = report["future_round_trips_per_s"].get(f"{loop}/{tasks}", 0.0)
        ours = cases.get("loopsafe", {}).get("ops_per_s", 0.0)
        anchor = cases.get("aiosqlite", {}).get("ops_per_s", 0.0)
        fastest = max((cases[n]["ops_per_s"] for n in NAMES[:2] if n in cases), default=0.0)
        row = [f"{kind} {durability}", str(tasks), f"{limit:,.0f}"]
        row.append(f"{batched:,.0f}" if kind == "write" else "-")
        row.append(f"{ceiling:,.0f}" if ceiling else "-")
        row += [f"{cases[n]['ops_per_s']:,.0f}" if n in cases else "-" for n in NAMES]
        row.append(f"{ours / anchor:.1f}x" if anchor else "-")
        row.append(f"{ours / fastest:.1f}x" if fastest else "-")
        row.append(f"{ours / limit:.0%}" if limit else "-")
        row.append(f"{ours / batched:.0%}" if kind == "write" and batched else "-")
        row.append(f"{ours / ceiling:.0%}" if ceiling else "-")
        lag = cases.get("loopsafe")
        row.append(
            f"{lag['loop_lag_p99_ms']:.1f} / {lag['loop_lag_max_ms']:.1f} "
            f"(+{lag['loop_lag_p99_ms'] - idle:.1f})"
            if lag
            else "-"
        )
        off = cases.get("loopsafe inline=False")
        row.append(f"{off['loop_lag_p99_ms']:.1f} / {off['loop_lag_max_ms']:.1f}" if off else "-")
        rows.append(row)
    return rows


HEADER = [
    "case",
    "tasks",
    "raw sqlite3 (1 thread)",
    "raw, 64 rows per tx",
    "asyncio futures (ceiling)",
    *NAMES,
    "loopsafe / aiosqlite",
    "loopsafe / fastest aiosqlite",
    "loopsafe / raw",
    "loopsafe / raw x64",
    "loopsafe / futures",
    "loop lag p99 / max ms, loopsafe (p99 above idle)",
    "loop lag p99 / max ms, inline=False",
]


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and whether it was met."""
    by_key = _by_key(report)
    found: list[dict[str, Any]] = []

    def rate(kind: str, durability: str, tasks: int, name: str) -> float | None:
        case = by_key.get((kind, durability, tasks), {}).get(name)
        return None if case is None else float(case["ops_per_s"])

    def add(name: str, value: float | None, goal: float, unit: str) -> None:
        if value is not None:
            found.append({"target": name, "value": round(value, 3), "goal": goal, "unit": unit})

    ours1 = rate("read", "NORMAL", 1, "loopsafe")
    cursor1 = rate("read", "NORMAL", 1, "aiosqlite")
    fetchall1 = rate("read", "NORMAL", 1, "aiosqlite execute_fetchall")
    if ours1 is not None and cursor1:
        add("point reads, 1 task, vs aiosqlite's cursor idiom", ours1 / cursor1, 10.0, "x")
    if ours1 is not None and fetchall1:
        add("point reads, 1 task, vs aiosqlite execute_fetchall", ours1 / fetchall1, 3.0, "x")
    ours64 = rate("read", "NORMAL", 64, "loopsafe")
    if ours64 is not None:
        raw = report["raw_limit_ops_per_s"]["read/NORMAL"]
        add("point reads, 64 tasks, vs raw sqlite3 in one thread", ours64 / raw, 0.5, "of raw")
    for durability in ("NORMAL", "FULL"):
        w64 = rate("write", durability, 64, "loopsafe")
        if w64 is not None:
            add(
                f"one-row writes, 64 tasks, {durability}, vs raw at 64 rows per transaction",
                w64 / _raw64(report, "write", durability),
                0.4,
                "of raw",
            )
    idle = _idle_p99(report)
    lags = [r["loop_lag_p99_ms"] for r in report["results"] if r["contender"] == "loopsafe"]
    if lags:
        add("loop lag p99 above idle, worst loopsafe case", max(lags) - idle, 1.0, "ms at most")
    for t in found:
        t["met"] = t["value"] <= t["goal"] if t["unit"] == "ms at most" else t["value"] >= t["goal"]
    return found


def render_table(report: dict[str, Any]) -> Table:
    table = Table(title="operations per second (higher is better)")
    for name in HEADER:
        table.add_column(name, justify="right")
    for row in _rows(report):
        table.add_row(*row)
    return table


def _fmt(t: dict[str, Any]) -> str:
    if t["unit"] == "x":
        return f"{t['value']:.1f}x (target >= {t['goal']:g}x)"
    if t["unit"] == "of raw":
        return f"{t['value']:.0%} (target >= {t['goal']:.0%})"
    return f"{t['value']:+.2f} ms (target <= {t['goal']:g} ms)"


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    idle = report["idle_loop_lag_ms"]
    ceilings = report["future_round_trips_per_s"]
    lines = [
        "# Engine benchmark",
        "",
        f"`{report['command']}` — {report['when']}, Python {m['python']}, SQLite {m['sqlite']}, "
        f"{m['cpus']} CPUs, {m['event_loop']} loop, {report['seconds_per_case']:g} s per case.",
    ]
    if report.get("note"):
        lines += ["", f"Note: {report['note']}."]
    lines += [
        "",
        "Point reads by primary key (20k rows) and one-row INSERTs, each await returning after "
        "its commit. Operations per second; `raw` is synchronous sqlite3 in one thread "
        "(reads: one statement after another; writes: one transaction per row, and 64 rows "
        "per transaction beside it). aiosqlite reads use its documented cursor idiom; "
        "`aiosqlite execute_fetchall` is its fastest (one hop) read; its writes run in "
        "autocommit, its fastest one-row write. `loopsafe` runs at its defaults (the inline "
        "fast path on); `loopsafe inline=False` is the same with the fast path off. `asyncio "
        "futures` is the loop's own round-trip rate at that concurrency (a future resolved by "
        "a callback and awaited): the ceiling of any bridge that answers a future per call.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(report)]
    raw = report["raw_limit_ops_per_s"]
    lines += ["", "Limits measured in the same run:", ""]
    lines += [
        f"- raw sqlite3 `{key}` (kind/synchronous[/rows per transaction]): {value:,.0f}/s"
        for key, value in raw.items()
    ]
    lines += [
        f"- future round trips `{key}` (loop/tasks): {value:,.0f}/s"
        for key, value in ceilings.items()
    ]
    lines += [
        "- idle loop lag (before, after the cases): "
        + ", ".join(f"p99 {i['p99']:.2f} ms / max {i['max']:.2f} ms" for i in idle)
    ]
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [
        f"| {t['target']} | {_fmt(t)} | {'yes' if t['met'] else 'no'} |"
        for t in report.get("targets", [])
    ]
    errors = [r for r in report["results"] if r["errors"]]
    if errors:
        lines += ["", "Errors during the run:", ""]
        lines += [
            f"- {r['contender']} {r['kind']} {r['durability']} {r['tasks']} tasks: {r['errors']}"
            for r in errors
        ]
    return "\n".join(lines) + "\n"
