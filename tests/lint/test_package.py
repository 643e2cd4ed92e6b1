"""``loopsafe.lint`` stands alone: importing it starts nothing of the runtime."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import loopsafe.lint

PACKAGE = Path(loopsafe.lint.__file__).resolve().parent


def _modules_loaded_by(statement: str) -> set[str]:
    # A fresh interpreter: this test process has long imported everything.
    script = f"import sys\n{statement}\nimport json\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(done.stdout))


def test_importing_the_lint_loads_nothing_of_the_monitor() -> None:
    loaded = _modules_loaded_by("import loopsafe.lint, loopsafe.lint.cli")
    assert "loopsafe.lint.cli" in loaded
    assert not {name for name in loaded if name.startswith("loopsafe.watch")}


def test_importing_the_lint_starts_no_thread() -> None:
    script = (
        "import threading\nimport loopsafe.lint, loopsafe.lint.cli\n"
        "print(threading.active_count())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "1"


def test_the_lint_adds_only_its_own_modules_to_the_package() -> None:
    # ``import loopsafe`` itself loads the public API (the engine); the lint must add
    # nothing of loopsafe but its own modules on top of that.
    base = _modules_loaded_by("import loopsafe")
    with_lint = _modules_loaded_by("import loopsafe.lint, loopsafe.lint.cli")
    added = {name for name in with_lint - base if name.startswith("loopsafe")}
    assert added
    assert all(name == "loopsafe.lint" or name.startswith("loopsafe.lint.") for name in added)


def test_lint_sources_import_only_the_standard_library_and_the_lint() -> None:
    outside = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if name.startswith("loopsafe.lint") or top == "__future__":
                    continue
                if top == "loopsafe" or top not in sys.stdlib_module_names:
                    outside.append(f"{path.name}: {name}")
    assert outside == []
