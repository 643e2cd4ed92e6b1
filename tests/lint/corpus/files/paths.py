"""Sync file helpers: every function here blocks."""

import json
import shutil
from pathlib import Path

CONFIG_DIR = Path("/etc/app")


def read_config(name: str) -> dict[str, object]:
    text = (CONFIG_DIR / f"{name}.json").read_text()
    return dict(json.loads(text))


def read_lines(path: str) -> list[str]:
    with open(path) as handle:
        return [line.rstrip() for line in handle]


def write_report(path: Path, body: str) -> None:
    path.write_text(body)


def backup(path: str) -> None:
    shutil.copy(path, path + ".bak")
