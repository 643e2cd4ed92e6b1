"""Smoke test: the HTTP benchmark end to end at tiny scale, outputs well-formed.

Two modes, point reads, one load level, sub-second steps: it checks that the
harness, servers, load generator and report keep working, never how fast.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import loopsafe.fastapi
from benchmarks.http import app, dataset
from benchmarks.http.harness import main as http_main

PNG = b"\x89PNG\r\n\x1a\n"
SUMMARY_KEYS = {"count", "mean", "p50", "p90", "p99", "p999", "max"}


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return []


def _check_target(target: dict[str, Any]) -> None:
    for key in ("latency", "ok_latency", "shed_latency", "lag"):
        assert set(target[key]) == SUMMARY_KEYS
    assert target["sent"] >= target["ok"] + target["shed"]
    assert target["cdf"], "no answered requests to draw"
    assert all(len(point) == 2 for point in target["cdf"])


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-http")
    argv = [
        *(sys.executable, "-m", "benchmarks.http", "--modes", "blocking,loopsafe"),
        *("--read", "point", "--levels", "0.5", "--duration", "0.6", "--step-duration", "0.3"),
        *("--refine", "0", "--max-rate", "100", "--rows", "2000", "--health-rate", "50"),
        *("--request-timeout", "2", "--out", str(out), "--no-progress"),
    ]
    root = Path(__file__).resolve().parents[2]  # `benchmarks` is found from the repository root
    done = subprocess.run(argv, capture_output=True, text=True, timeout=150, check=False, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_json_is_complete_and_finite(results: Path) -> None:
    data = json.loads((results / "results.json").read_text())
    assert all(math.isfinite(x) for x in _numbers(data))
    meta = data["meta"]
    assert meta["interrupted"] is False
    assert meta["finished"]
    assert meta["machine"]["cores"] >= 1
    assert meta["dataset"]["rows"] == 2000
    assert meta["loadgen_check"]["steps"]
    modes = data["reads"]["point"]["modes"]
    assert list(modes) == ["blocking", "loopsafe"]
    for mode in modes.values():
        assert mode["server"]["mode"] in ("blocking", "loopsafe")
        assert mode["baseline"]["db"] is None
        _check_target(mode["baseline"]["health"])
        assert mode["capacity"]["steps"]
        if mode["capacity"]["rate"] > 0:
            (level,) = mode["levels"]
            assert level["level"] == 0.5
            _check_target(level["db"])
            _check_target(level["health"])
            assert level["server"]["rss_max_mb"] > 0
    assert modes["loopsafe"]["server"]["read_queue"] == 0  # loopsafe.open(path), untuned
    for check in data["targets"]["point"]:
        assert set(check) == {"target", "measured", "limit", "met"}


def test_markdown_and_plots(results: Path) -> None:
    text = (results / "results.md").read_text()
    assert "| blocking | no DB load |" in text
    assert "| loopsafe |" in text
    assert "](health_p99_point.png)" in text
    for name in ("health_p99_point.png", "cdf_point.png"):
        assert (results / name).read_bytes().startswith(PNG)


def test_replot_rewrites_the_report(results: Path) -> None:
    (results / "results.md").unlink()
    assert http_main(["--replot", "--out", str(results)]) == 0
    assert (results / "results.md").read_text().startswith("# loopsafe HTTP benchmark")


def test_loopsafe_runs_untuned_and_the_tuned_variant_sizes_its_queue(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    dataset.build(db, rows=2000)
    plain = app.configure("loopsafe", "scan", str(db), 2000)
    assert (plain.readers, plain.read_queue) == (0, 0)  # loopsafe.open(path), nothing else
    tuned = app.configure("loopsafe-tuned", "scan", str(db), 2000)
    assert tuned.readers >= 1
    assert tuned.read_queue >= 1


def test_door_mode_installs_the_named_middleware_or_says_it_is_missing(tmp_path: Path) -> None:
    db = tmp_path / "bench.db"
    dataset.build(db, rows=2000)
    config = app.configure("loopsafe-door", "point", str(db), 2000)
    middleware = getattr(loopsafe.fastapi, app.DOOR_SHEDDING, None)
    if middleware is None:
        with pytest.raises(RuntimeError, match=app.DOOR_SHEDDING):
            app.create_app(config)
    else:
        served = app.create_app(config)
        assert any(m.cls is middleware for m in served.user_middleware)
