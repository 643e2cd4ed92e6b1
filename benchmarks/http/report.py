"""The benchmark's results: ``results.json``, ``results.md`` and PNG plots."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from benchmarks.http import _plots

if TYPE_CHECKING:
    from benchmarks.http._settings import Settings

__all__ = ["load", "markdown", "new_results", "targets", "write"]

READ_TITLES = {
    "scan": "Un-indexed scan",
    "point": "Indexed point read",
}


def new_results(settings: Settings, started: datetime) -> dict[str, Any]:
    """The skeleton the harness fills in."""
    return {
        "schema": 1,
        "meta": {
            "started": started.isoformat(timespec="seconds"),
            "finished": None,
            "interrupted": False,
            "settings": settings.as_json(),
            "machine": _machine(),
            "versions": _versions(),
            "dataset": None,
            "loadgen_check": None,
        },
        "reads": {},
    }


def load(out: Path) -> dict[str, Any]:
    """The results a previous run wrote to ``out``."""
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


def write(results: dict[str, Any], out: Path) -> list[Path]:
    """Write JSON, Markdown and plots to ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    results["targets"] = targets(results)
    paths = [out / "results.json", out / "results.md"]
    paths[0].write_text(json.dumps(results, indent=1, allow_nan=False) + "\n")
    for read, data in results["reads"].items():
        if data["modes"]:
            paths.append(_plots.health_p99(data["modes"], read, out / f"health_p99_{read}.png"))
            paths.append(_plots.cdfs(data["modes"], read, out / f"cdf_{read}.png"))
    paths[1].write_text(markdown(results))
    return paths


def _level(mode: dict[str, Any], level: float) -> dict[str, Any] | None:
    found: dict[str, Any] | None = next(
        (m for m in mode["levels"] if math.isclose(m["level"], level)), None
    )
    return found


def _check(name: str, measured: str, limit: str, met: bool) -> dict[str, Any]:
    return {"target": name, "measured": measured, "limit": limit, "met": met}


def targets(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The issue's targets for loopsafe, per read kind, with what was measured."""
    found: dict[str, list[dict[str, Any]]] = {}
    for read, data in results["reads"].items():
        modes = data["modes"]
        rows: list[dict[str, Any]] = []
        ls = modes.get("loopsafe")
        if ls is not None:
            base = ls["baseline"]["health"]["latency"]["p99"]
            for level, factor in ((0.5, 1.5), (0.9, 1.5), (1.5, 2.0)):
                m = _level(ls, level)
                if m is None:
                    continue
                p99 = m["health"]["latency"]["p99"]
                ratio = p99 / base if base > 0 else math.inf
                rows.append(
                    _check(
                        f"/health p99 at {level:.0%} of capacity",
                        f"{p99:.2f} ms = {ratio:.2f}x baseline ({base:.2f} ms)",
                        f"<= {factor:g}x",
                        ratio <= factor,
                    )
                )
            over = _level(ls, 1.5)
            if over is not None:
                db = over["db"]
                shed_p99 = db["shed_latency"]["p99"]
                rows.append(
                    _check(
                        "503 answers at 150%",
                        f"p99 {shed_p99:.2f} ms ({db['shed']} shed of {db['sent']})",
                        "<= 5 ms",
                        shed_p99 <= 5.0,
                    )
                )
                acc = db["ok_latency"]["p99"]
                rows.append(
                    _check("accepted DB p99 at 150%", f"{acc:.1f} ms", "<= 50 ms", acc <= 50.0)
                )
                worst = max(db["latency"]["max"], over["health"]["latency"]["max"])
                rows.append(
                    _check("slowest request at 150%", f"{worst:.0f} ms", "< 1 s", worst < 1000)
                )
                srv = over["server"]
                grew = srv["rss_max_mb"] - srv["rss_start_mb"]
                rows.append(
                    _check(
                        "server RSS growth during 150%",
                        f"{grew:+.1f} MiB (max {srv['rss_max_mb']:.0f} MiB)",
                        "<= 32 MiB",
                        grew <= 32.0,
                    )
                )
            others = {
                k: v["capacity"]["rate"] for k, v in modes.items() if not k.startswith("loopsafe")
            }
            if read == "point" and others:
                best = max(others, key=lambda k: others[k])
                cap = ls["capacity"]["rate"]
                rows.append(
                    _check(
                        "point-read capacity vs best other mode",
                        f"{cap:g} req/s vs {best} {others[best]:g} req/s",
                        ">=",
                        cap >= others[best],
                    )
                )
        for name in ("loopsafe", "loopsafe-door"):
            if name in modes:
                rows += _overload_checks(name, modes[name])
        watched = modes.get("loopsafe-watch")
        if ls is not None and watched is not None:
            rows += _monitor_overhead(ls, watched)
        found[read] = rows
    return found


def _overload_checks(name: str, run: dict[str, Any], level: float = 2.0) -> list[dict[str, Any]]:
    """Overload without tuning: the defaults at twice the capacity (the targets of the
    issue that made loopsafe's defaults shed by time)."""
    m = _level(run, level)
    if m is None:
        return []
    at = f"at {level:.0%} ({name})"
    base = run["baseline"]["health"]["latency"]["p99"]
    health = m["health"]["latency"]["p99"]
    ratio = health / base if base > 0 else math.inf
    db = m["db"]
    accepted = db["ok_latency"]["p99"]
    shed = db["shed_latency"]["p99"]
    failed = sum(t[k] for t in (db, m["health"]) for k in ("errors", "timeouts", "connect_errors"))
    srv = m["server"]
    grew = srv["rss_max_mb"] - srv["rss_start_mb"]
    return [
        _check(
            f"/health p99 {at}",
            f"{health:.2f} ms = {ratio:.2f}x baseline ({base:.2f} ms)",
            "<= 1.5x",
            ratio <= 1.5,
        ),
        _check(f"accepted DB p99 {at}", f"{accepted:.1f} ms", "<= 100 ms", accepted <= 100.0),
        _check(
            f"503 answers p99 {at}",
            f"{shed:.2f} ms ({db['shed']} shed of {db['sent']})",
            "<= 10 ms",
            shed <= 10.0,
        ),
        _check(f"client errors and time-outs {at}", f"{failed}", "0", failed == 0),
        _check(f"server RSS growth {at}", f"{grew:+.1f} MiB", "<= 32 MiB", grew <= 32.0),
    ]


def _monitor_overhead(plain: dict[str, Any], watched: dict[str, Any]) -> list[dict[str, Any]]:
    """The loop monitor's cost: the same rates with it off and on, side by side."""
    rows = []
    for m in plain["levels"]:
        w = _level(watched, m["level"])
        if w is None:
            continue
        ok_plain = m["db"]["ok"] / m["duration"]
        ok_watch = w["db"]["ok"] / w["duration"]
        if m["level"] > 1.0:
            change = ok_watch / ok_plain - 1 if ok_plain else 0.0
            rows.append(
                _check(
                    f"monitor cost: DB throughput at {m['level']:.0%} (saturated)",
                    f"{ok_watch:.0f} vs {ok_plain:.0f} req/s without ({change:+.1%})",
                    ">= -1%",
                    change >= -0.01,
                )
            )
        else:
            cpu_plain = m["server"]["cpu"] / max(ok_plain, 1e-9)
            cpu_watch = w["server"]["cpu"] / max(ok_watch, 1e-9)
            change = cpu_watch / cpu_plain - 1 if cpu_plain else 0.0
            rows.append(
                _check(
                    f"monitor cost: server CPU per request at {m['level']:.0%}",
                    f"{cpu_watch * 1e6:.0f} vs {cpu_plain * 1e6:.0f} us without ({change:+.1%})",
                    "<= +1%",
                    change <= 0.01,
                )
            )
    return rows


def _ms(x: float) -> str:
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def markdown(results: dict[str, Any]) -> str:
    """The report as Markdown (tables, targets, plots)."""
    meta = results["meta"]
    s = meta["settings"]
    lines = ["# loopsafe HTTP benchmark: unrelated-route latency under SQLite load", ""]
    if meta.get("interrupted"):
        lines += ["**This run was interrupted; the results are partial.**", ""]
    lines += [f"- Machine: {_machine_line(meta)}"]
    lines += [
        f"- Run: {meta['started']}{' (--quick)' if s['quick'] else ''}, seed {s['seed']},"
        f" /health at {s['health_rate']:g} req/s, {s['duration']:g} s per level,"
        f" capacity steps of {s['step_duration']:g} s, write share {s['write_share']:.0%}"
    ]
    ds = meta.get("dataset")
    if ds:
        lines += [
            f"- Data: {ds['rows']:,} rows ({ds['size_bytes'] / 2**20:.1f} MiB); one un-indexed"
            f" scan {ds['scan_ms']:.2f} ms, one point read {ds['point_ms'] * 1e3:.0f} us"
        ]
    lg = meta.get("loadgen_check")
    if lg and lg.get("at_max"):
        at = lg["at_max"]
        line = (
            f"- Load generator: sustained /health alone at {lg['max_rate']:g} req/s (p99"
            f" {_ms(at['p99'])} ms), using {at['loadgen_cpu']:.0%} of a core"
            f" ({at['loadgen_us_per_request']:.0f} us per request, kernel included)"
        )
        last = lg["steps"][-1]
        if last["rate"] != at["rate"]:
            line += (
                f"; at {last['rate']:g} req/s the pair no longer kept up (p99"
                f" {_ms(last['p99'])} ms), with the generator at {last['loadgen_cpu']:.0%}"
                f" of a core and the server at {last['server_cpu']:.0%}"
            )
        lines += [line]
    lines += [""]
    for read, data in results["reads"].items():
        lines += _read_section(read, data["modes"], results.get("targets", {}).get(read, []))
    return "\n".join(lines) + "\n"


def _read_section(read: str, modes: dict[str, Any], checks: list[dict[str, Any]]) -> list[str]:
    lines = [f"## {READ_TITLES.get(read, read)} (`--read {read}`)", ""]
    lines += [
        "| mode | capacity (req/s) | first rate that failed | CPU at capacity: server,"
        " load generator (cores) |",
        "|---|--:|--:|--:|",
    ]
    for mode, r in modes.items():
        cap = r["capacity"]
        failed = cap["first_failed"]
        why = next((st["why"] for st in cap["steps"] if st["rate"] == failed), "")
        at = next((st for st in cap["steps"] if st["rate"] == cap["rate"]), None)
        cpu = f"{at['server_cpu']:.2f}, {at['loadgen_cpu']:.2f}" if at else "-"
        shown = f"{failed:g} ({why})" if failed is not None else "-"
        lines.append(f"| {mode} | {cap['rate']:g} | {shown} | {cpu} |")
    lines += [
        "",
        "Latencies in ms, from each request's intended send time. DB latencies are of 2xx"
        " answers; 503 are requests shed by the server; errors include client timeouts.",
        "",
        "| mode | load | DB offered | DB 2xx/s | /health p50 | /health p99 | /health max |"
        " p99 vs baseline | DB p50 | DB p99 | DB max | 503 | 503 p99 | errors | RSS MiB |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for mode, r in modes.items():
        base = r["baseline"]["health"]["latency"]["p99"]
        for m in [r["baseline"], *r["levels"]]:
            h = m["health"]["latency"]
            load = "no DB load" if m["db"] is None else f"{m['level']:.0%}"
            ratio = f"{h['p99'] / base:.2f}x" if base > 0 else "-"
            row = [mode, load]
            db = m["db"]
            if db is None:
                row += ["0", "-"]
            else:
                row += [f"{m['offered_db']:g}", f"{db['achieved']:.0f}"]
            row += [_ms(h["p50"]), _ms(h["p99"]), _ms(h["max"]), ratio]
            if db is None:
                row += ["-"] * 6
            else:
                ok, shed = db["ok_latency"], db["shed_latency"]
                row += [_ms(ok["p50"]), _ms(ok["p99"]), _ms(db["latency"]["max"])]
                row += [str(db["shed"]), _ms(shed["p99"]) if db["shed"] else "-"]
                row += [str(db["errors"] + db["timeouts"])]
            row += [f"{m['server']['rss_max_mb']:.0f}"]
            lines.append("| " + " | ".join(row) + " |")
    if checks:
        lines += ["", "Targets (loopsafe):", "", "| target | measured | limit | met |"]
        lines += ["|---|---|---|---|"]
        for c in checks:
            met = "yes" if c["met"] else "NO"
            lines.append(f"| {c['target']} | {c['measured']} | {c['limit']} | {met} |")
    lines += [
        "",
        f"![/health p99 against offered load]({_png('health_p99', read)})",
        "",
        f"![latency CDFs]({_png('cdf', read)})",
        "",
    ]
    return lines


def _png(kind: str, read: str) -> str:
    return f"{kind}_{read}.png"


def _machine_line(meta: dict[str, Any]) -> str:
    m, v = meta["machine"], meta["versions"]
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']:.0f} GiB, {m['platform']};"
        f" load average {m['loadavg'][0]:.2f} at start; Python {v['python']}, SQLite"
        f" {v['sqlite']}, uvicorn {v.get('uvicorn')} (uvloop {v.get('uvloop')}, httptools"
        f" {v.get('httptools')}), FastAPI {v.get('fastapi')}, aiosqlite {v.get('aiosqlite')};"
        f" loopsafe {v.get('loopsafe')} {v.get('commit') or ''}".rstrip()
    )


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": psutil.virtual_memory().total / 2**30,
        "platform": platform.platform(),
        "loadavg": list(os.getloadavg()),
    }


def _versions() -> dict[str, Any]:
    found: dict[str, Any] = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    for name in ("loopsafe", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "aiosqlite"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    try:
        found["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        found["commit"] = None
    return found
