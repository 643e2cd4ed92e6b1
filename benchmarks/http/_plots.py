"""The benchmark's two pictures, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, NullFormatter

__all__ = ["cdfs", "health_p99"]

COLORS = {
    "blocking": "#d62728",
    "executor": "#ff7f0e",
    "threadpool": "#9467bd",
    "aiosqlite": "#8c564b",
    "loopsafe": "#2ca02c",
    "loopsafe-watch": "#98df8a",
}
_NINES = (0.0, 90.0, 99.0, 99.9, 99.99, 99.999)


def _color(mode: str) -> str:
    return COLORS.get(mode, "#7f7f7f")


def health_p99(modes: dict[str, Any], read: str, path: Path) -> Path:
    """/health p99 against the DB route's offered load, one line per mode.

    Left: offered load in requests per second (the same x for every mode).
    Right: offered load as a fraction of each mode's own capacity.
    """
    fig, (absolute, relative) = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    for mode, r in modes.items():
        runs = [r["baseline"], *r["levels"]]
        y = [m["health"]["latency"]["p99"] for m in runs]
        absolute.plot([m["offered_db"] for m in runs], y, "o-", color=_color(mode), label=mode)
        fractions = [0.0, *(m["level"] for m in r["levels"])]
        relative.plot(fractions, y, "o-", color=_color(mode), label=mode)
    absolute.set_xlabel("DB route offered load (requests/s)")
    relative.set_xlabel("DB route offered load (fraction of the mode's capacity)")
    absolute.set_ylabel("/health p99 (ms, log scale)")
    for ax in (absolute, relative):
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    relative.axvline(1.0, color="#999999", linestyle=":", linewidth=1)
    absolute.legend(title="mode")
    fig.suptitle(f"/health p99 while the DB route is loaded ({read} reads; x = 0: no DB load)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _nines(p: float) -> float:
    return -math.log10(max(1e-5, 1.0 - p / 100.0))


def cdfs(modes: dict[str, Any], read: str, path: Path) -> Path:
    """Latency CDFs: /health (top) and accepted DB requests (bottom), one column per load."""
    columns: list[float | None] = [None]
    for r in modes.values():
        columns += [m["level"] for m in r["levels"] if m["level"] not in columns]
    fig, axes = plt.subplots(
        2, len(columns), figsize=(3.6 * len(columns), 7), sharex="row", sharey=True, squeeze=False
    )
    for col, level in enumerate(columns):
        top, bottom = axes[0][col], axes[1][col]
        for mode, r in modes.items():
            run = r["baseline"] if level is None else _find(r["levels"], level)
            if run is None:
                continue
            for ax, target in ((top, run["health"]), (bottom, run["db"])):
                if target and target["cdf"]:
                    pts = [(ms, _nines(p)) for p, ms in target["cdf"] if ms > 0]
                    ax.plot(*zip(*pts, strict=True), color=_color(mode), label=mode)
        title = "no DB load" if level is None else f"{level:.0%} of capacity"
        top.set_title(f"/health, {title}")
        bottom.set_title(f"DB route (2xx), {title}")
        if level is None:
            bottom.text(0.5, 0.5, "no DB load", ha="center", transform=bottom.transAxes)
        for ax in (top, bottom):
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_yticks([_nines(p) for p in _NINES], [f"{p:g}%" for p in _NINES])
            ax.grid(True, which="both", alpha=0.3)
            ax.set_xlabel("latency (ms, log scale)")
    axes[0][0].set_ylabel("percentile")
    axes[1][0].set_ylabel("percentile")
    axes[0][0].legend(title="mode", fontsize="small")
    fig.suptitle(f"Latency distributions ({read} reads): further left is faster")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _find(levels: list[dict[str, Any]], level: float) -> dict[str, Any] | None:
    return next((m for m in levels if math.isclose(m["level"], level)), None)
