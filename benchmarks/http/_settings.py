"""The command line of ``python -m benchmarks.http``."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast, get_args

from benchmarks.http.app import ALL_MODES, DEFAULT_MODES, Mode
from benchmarks.http.dataset import ROWS, SCAN_MS, Read

__all__ = ["Settings", "parse_args"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything one run is told."""

    modes: tuple[Mode, ...]
    reads: tuple[Read, ...]
    write_share: float
    levels: tuple[float, ...]
    duration: float
    step_duration: float
    health_rate: float
    seed: int
    rows: int
    scan_ms: float
    request_timeout: float
    capacity: float | None
    refine: int
    max_rate: float
    loadgen_check: bool
    out: Path
    progress: bool
    quick: bool
    replot: bool

    def as_json(self) -> dict[str, Any]:
        """JSON-ready, for the results' metadata."""
        return {**asdict(self), "out": str(self.out)}


def _choices(allowed: tuple[str, ...]) -> Any:
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
        wrong = [x for x in items if x not in allowed]
        if wrong or not items:
            raise argparse.ArgumentTypeError(f"choose from {','.join(allowed)}")
        return items

    return parse


def _levels(text: str) -> tuple[float, ...]:
    try:
        levels = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("levels are fractions, e.g. 0.5,0.9,1.5") from None
    if not levels or any(not 0 < x <= 10 for x in levels):
        raise argparse.ArgumentTypeError("levels must be in (0, 10]")
    return levels


def parse_args(argv: list[str]) -> Settings:
    """Parse the command line; ``--quick`` changes the defaults of the others."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.http",
        description="Unrelated-route tail latency under SQLite load, five ways.",
    )
    p.add_argument("--quick", action="store_true", help="short run (about two minutes)")
    p.add_argument(
        "--modes",
        type=_choices(ALL_MODES),
        default=DEFAULT_MODES,
        help="comma list (default: the five ways, loopsafe-door, loopsafe-tuned,"
        " loopsafe-watch and loopsafe-no-inline)",
    )
    p.add_argument(
        "--read",
        dest="reads",
        type=_choices(get_args(Read)),
        default=None,
        help="scan (un-indexed, ~6 ms: see --scan-ms), point (indexed) or both: scan,point"
        " (full run: both; --quick: scan)",
    )
    p.add_argument("--write-share", type=float, default=0.0, help="share of DB requests that write")
    p.add_argument(
        "--levels", type=_levels, default=(0.5, 0.9, 1.5, 2.0), help="fractions of capacity"
    )
    p.add_argument("--duration", type=float, help="seconds per load level (10; --quick: 2)")
    p.add_argument("--step-duration", type=float, help="seconds per capacity step (3; quick: 1)")
    p.add_argument("--health-rate", type=float, default=100.0, help="/health requests per second")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rows", type=int, default=ROWS, help="rows in the cache table")
    p.add_argument(
        "--scan-ms",
        type=float,
        default=SCAN_MS,
        help="grow the table until a scan costs about this much here (0: keep --rows)",
    )
    p.add_argument("--request-timeout", type=float, default=5.0, help="client gives up after (s)")
    p.add_argument("--capacity", type=float, help="skip the search: use this DB rate for all modes")
    p.add_argument(
        "--refine", type=int, help="bisection steps of the capacity search (3; quick: 2)"
    )
    p.add_argument("--max-rate", type=float, default=32000.0, help="highest rate ever tried")
    p.add_argument("--no-loadgen-check", dest="loadgen_check", action="store_false")
    p.add_argument("--out", type=Path, default=Path("results/http"), help="results folder")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.add_argument("--replot", action="store_true", help="rewrite report from --out/results.json")
    a = p.parse_args(argv)
    if not 0.0 <= a.write_share <= 1.0:
        p.error("--write-share must be between 0 and 1")
    quick = bool(a.quick)
    return Settings(
        modes=cast(tuple[Mode, ...], a.modes),
        reads=cast(tuple[Read, ...], a.reads or (("scan",) if quick else ("scan", "point"))),
        write_share=a.write_share,
        levels=a.levels,
        duration=a.duration or (2.0 if quick else 10.0),
        step_duration=a.step_duration or (1.0 if quick else 3.0),
        health_rate=a.health_rate,
        seed=a.seed,
        rows=a.rows,
        scan_ms=a.scan_ms if "scan" in (a.reads or ("scan",)) else 0.0,
        request_timeout=a.request_timeout,
        capacity=a.capacity,
        refine=a.refine if a.refine is not None else (2 if quick else 3),
        max_rate=a.max_rate,
        loadgen_check=a.loadgen_check,
        out=a.out,
        progress=a.progress,
        quick=quick,
        replot=a.replot,
    )
