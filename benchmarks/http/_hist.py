"""HDR histograms of latencies in microseconds, and the numbers drawn from them."""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

__all__ = ["CDF_PERCENTILES", "cdf", "decode", "encode", "new", "record", "summary"]

HIGHEST_US = 120_000_000

# Dense in the tail, where the differences are.
CDF_PERCENTILES = (
    *(float(p) for p in range(0, 90, 5)),
    *(90.0, 92.5, 95.0, 96.0, 97.0, 98.0, 99.0, 99.5, 99.7, 99.8, 99.9),
    *(99.95, 99.97, 99.99, 99.995, 99.999, 100.0),
)


def new() -> Any:
    """An empty histogram: 1 us to 120 s, 3 significant digits."""
    return HdrHistogram(1, HIGHEST_US, 3)


def record(hist: Any, seconds: float) -> None:
    """Record one latency given in seconds (clamped into the histogram's range)."""
    hist.record_value(min(HIGHEST_US, max(1, int(seconds * 1e6))))


def encode(hist: Any) -> str:
    """The compressed, base64 form of ``hist`` (a few hundred bytes)."""
    data: bytes = hist.encode()
    return data.decode("ascii")


def decode(text: str) -> Any:
    """The histogram :func:`encode` made."""
    return HdrHistogram.decode(text.encode("ascii"))


def summary(hist: Any) -> dict[str, float]:
    """Count and latency percentiles in milliseconds (zeros when empty)."""
    count = int(hist.get_total_count())
    if count == 0:
        return {
            "count": 0,
            "mean": 0.0,
            "p50": 0.0,
            "p90": 0.0,
            "p99": 0.0,
            "p999": 0.0,
            "max": 0.0,
        }
    return {
        "count": count,
        "mean": float(hist.get_mean_value()) / 1e3,
        "p50": hist.get_value_at_percentile(50.0) / 1e3,
        "p90": hist.get_value_at_percentile(90.0) / 1e3,
        "p99": hist.get_value_at_percentile(99.0) / 1e3,
        "p999": hist.get_value_at_percentile(99.9) / 1e3,
        "max": hist.get_max_value() / 1e3,
    }


def cdf(hist: Any) -> list[list[float]]:
    """``[percentile, latency_ms]`` pairs for plotting (empty when the histogram is)."""
    if hist.get_total_count() == 0:
        return []
    return [[p, hist.get_value_at_percentile(p) / 1e3] for p in CDF_PERCENTILES]
