"""The engine benchmark's report: a terminal table and a Markdown file, with ratios."""

from __future__ import annotations

from typing import Any

from rich.table import Table

NAMES = [
    "aiosqlite",
    "aiosqlite execute_fetchall",
    "executor+thread-local",
    "executor+connect-per-call",
    "loopsafe",
]


def _rows(report: dict[str, Any]) -> list[list[str]]:
    by_key: dict[tuple[str, str, int], dict[str, dict[str, Any]]] = {}
    for r in report["results"]:
        by_key.setdefault((r["kind"], r["durability"], r["tasks"]), {})[r["contender"]] = r
    rows = []
    for (kind, durability, tasks), cases in by_key.items():
        raw = report["raw_limit_ops_per_s"][f"{kind}/{durability}"]
        ours = cases.get("loopsafe", {}).get("ops_per_s", 0.0)
        anchor = cases.get("aiosqlite", {}).get("ops_per_s", 0.0)
        fastest = max((cases[n]["ops_per_s"] for n in NAMES[:2] if n in cases), default=0.0)
        row = [f"{kind} {durability}", str(tasks), f"{raw:,.0f}"]
        row += [f"{cases[n]['ops_per_s']:,.0f}" if n in cases else "-" for n in NAMES]
        row.append(f"{ours / anchor:.1f}x" if anchor else "-")
        row.append(f"{ours / fastest:.1f}x" if fastest else "-")
        row.append(f"{ours / raw:.0%}" if raw else "-")
        lag = cases.get("loopsafe")
        row.append(f"{lag['loop_lag_p99_ms']:.1f} / {lag['loop_lag_max_ms']:.1f}" if lag else "-")
        rows.append(row)
    return rows


HEADER = [
    "case",
    "tasks",
    "raw sqlite3 (1 thread)",
    *NAMES,
    "loopsafe / aiosqlite",
    "loopsafe / fastest aiosqlite",
    "loopsafe / raw",
    "loop lag p99 / max ms (loopsafe)",
]


def render_table(report: dict[str, Any]) -> Table:
    table = Table(title="operations per second (higher is better)")
    for name in HEADER:
        table.add_column(name, justify="right")
    for row in _rows(report):
        table.add_row(*row)
    return table


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Engine benchmark",
        "",
        f"`{report['command']}` — {report['when']}, Python {m['python']}, SQLite {m['sqlite']}, "
        f"{m['cpus']} CPUs, {m['event_loop']} loop, {report['seconds_per_case']:g} s per case.",
        "",
        "Point reads by primary key (20k rows) and one-row INSERTs, each await returning after "
        "its commit. Operations per second; `raw` is synchronous sqlite3 in one thread "
        "(reads: one statement after another; writes: one transaction per row). aiosqlite "
        "reads use its documented cursor idiom; `aiosqlite execute_fetchall` is its fastest "
        "(one hop) read; its writes run in autocommit, its fastest one-row write.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(report)]
    errors = [r for r in report["results"] if r["errors"]]
    if errors:
        lines += ["", "Errors during the run:", ""]
        lines += [
            f"- {r['contender']} {r['kind']} {r['durability']} {r['tasks']} tasks: {r['errors']}"
            for r in errors
        ]
    return "\n".join(lines) + "\n"
