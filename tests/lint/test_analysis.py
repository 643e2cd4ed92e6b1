"""Import resolution, cycles and type tracking of the lint analysis."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from loopsafe.lint import lint_paths
from loopsafe.lint._imports import (
    import_bindings,
    module_imports,
    module_name,
    package_root,
    resolve_relative,
)
from loopsafe.lint._noqa import is_suppressed, parse_noqa

from ._project import line_of, write_project


def _statement(source: str) -> ast.Import | ast.ImportFrom:
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.Import | ast.ImportFrom)
    return node


def test_module_names_follow_package_init_files(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {"src/shop/__init__.py": "", "src/shop/api/__init__.py": "", "src/shop/api/v1.py": ""},
    )
    (tmp_path / "tool.py").write_text("")
    api = tmp_path / "src" / "shop" / "api"
    assert module_name(api / "v1.py") == ("shop.api.v1", False)
    assert module_name(api / "__init__.py") == ("shop.api", True)
    assert module_name(tmp_path / "tool.py") == ("tool", False)
    assert package_root(api / "v1.py") == (tmp_path / "src" / "shop").resolve()
    assert package_root(tmp_path / "tool.py") is None


@pytest.mark.parametrize(
    ("module", "is_package", "level", "target", "resolved"),
    [
        ("a.b.c", False, 0, "x.y", "x.y"),
        ("a.b.c", False, 1, "d", "a.b.d"),
        ("a.b.c", False, 1, None, "a.b"),
        ("a.b.c", False, 2, "d", "a.d"),
        ("a.b", True, 1, "d", "a.b.d"),
        ("a.b", True, 2, None, "a"),
        ("a.b.c", False, 4, "d", None),
    ],
)
def test_relative_imports(
    module: str, is_package: bool, level: int, target: str | None, resolved: str | None
) -> None:
    assert resolve_relative(module, is_package, level, target) == resolved


@pytest.mark.parametrize(
    ("source", "bindings"),
    [
        ("import sqlite3", [("sqlite3", "sqlite3")]),
        ("import sqlite3 as sq", [("sq", "sqlite3")]),
        ("import urllib.request", [("urllib", "urllib")]),
        ("import urllib.request as ur", [("ur", "urllib.request")]),
        ("from time import sleep", [("sleep", "time.sleep")]),
        ("from time import sleep as nap, time", [("nap", "time.sleep"), ("time", "time.time")]),
        ("from . import db", [("db", "shop.db")]),
        ("from .db import query as q", [("q", "shop.db.query")]),
        ("from ..util import x", [("x", "util.x")]),
        ("from os import *", []),
    ],
)
def test_import_bindings(source: str, bindings: list[tuple[str, str]]) -> None:
    assert import_bindings(_statement(source), "shop.routes", False) == bindings


def test_module_imports_look_into_if_and_try() -> None:
    tree = ast.parse(
        "try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
        "if True:\n    from time import sleep\n"
        "def f():\n    import sqlite3\n"
    )
    assert module_imports(tree, "m", False) == {"json": "json", "sleep": "time.sleep"}


def _codes_by_line(root: Path, module: str) -> dict[int, str]:
    found = lint_paths([root])
    return {f.line: f.code for f in found if Path(f.path).resolve() == (root / module).resolve()}


def test_names_resolve_through_every_import_form(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.core.db import load as load_all\n",
            "pkg/core/__init__.py": "",
            "pkg/core/db.py": """
                import sqlite3


                def load() -> list[object]:
                    return sqlite3.connect("x").execute("select 1").fetchall()
            """,
            "pkg/core/views.py": """
                import os as operating_system
                import sqlite3 as sq
                import urllib.request
                from subprocess import run as run_it
                from time import sleep
                from time import sleep as nap

                import pkg
                from . import db
                from .db import load
                from ..core import db as same_db


                async def view() -> None:
                    sq.connect("x")  # A
                    sleep(1)  # B
                    nap(1)  # C
                    urllib.request.urlopen("http://x")  # D
                    run_it(["ls"])  # E
                    operating_system.system("ls")  # F
                    db.load()  # G
                    load()  # H
                    same_db.load()  # I
                    pkg.load_all()  # J
            """,
        },
    )
    views = tmp_path / "pkg" / "core" / "views.py"
    expected = {
        "# A": "LS101",
        "# B": "LS301",
        "# C": "LS301",
        "# D": "LS401",
        "# E": "LS501",
        "# F": "LS501",
        "# G": "LS102",
        "# H": "LS102",
        "# I": "LS102",
        "# J": "LS102",
    }
    assert _codes_by_line(tmp_path, "pkg/core/views.py") == {
        line_of(views, marker): code for marker, code in expected.items()
    }


def test_local_names_shadow_imports(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "m.py": """
                import time
                from sqlite3 import connect


                async def handler(time: object, connect: object) -> None:
                    time.sleep(1)
                    connect("x")


                async def rebound() -> None:
                    sleep = print
                    sleep(1)
            """
        },
    )
    assert lint_paths([tmp_path]) == []


@pytest.mark.timeout(10)
def test_cycles_terminate_and_keep_the_shortest_chain(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "loop/__init__.py": "from loop.b import g\n",
            "loop/a.py": """
                import time

                from loop import b


                def f(n: int) -> object:
                    if n:
                        return b.g(n - 1)
                    time.sleep(1)
                    return f(n)


                def pure(n: int) -> object:
                    return b.pure_too(n)
            """,
            "loop/b.py": """
                from loop import a, g as again


                def g(n: int) -> object:
                    return again(n) if n > 5 else a.f(n)


                def pure_too(n: int) -> object:
                    return a.pure(n) if n else pure_too(n)


                class One(Two):
                    def run(self) -> object:
                        return self.go()


                class Two(One):
                    def go(self) -> object:
                        return self.run()


                async def handler() -> None:
                    g(3)  # two helpers: g -> a.f -> time.sleep
                    a.pure(3)
                    One().run()
            """,
        },
    )
    found = lint_paths([tmp_path])
    assert [(f.code, [hop.name for hop in f.chain]) for f in found] == [
        ("LS302", ["loop.b.handler", "loop.b.g", "loop.a.f", "time.sleep"])
    ]


def test_blocking_helpers_passed_by_reference_are_fine(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "m.py": """
                import asyncio
                import functools
                import time


                def slow() -> None:
                    time.sleep(1)


                async def handler() -> None:
                    loop = asyncio.get_running_loop()
                    await asyncio.to_thread(slow)
                    await loop.run_in_executor(None, slow)
                    await loop.run_in_executor(None, functools.partial(slow))
                    await loop.run_in_executor(None, lambda: slow())
                    await asyncio.to_thread(slow())  # called on the loop
            """
        },
    )
    found = lint_paths([tmp_path])
    assert [(f.line, f.code) for f in found] == [
        (line_of(tmp_path / "m.py", "# called on the loop"), "LS302")
    ]


def test_only_given_files_are_reported_but_their_package_is_followed(tmp_path: Path) -> None:
    write_project(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/slow.py": """
                import time


                def wait() -> None:
                    time.sleep(1)


                async def also_blocking() -> None:
                    time.sleep(1)
            """,
            "app/view.py": """
                from app.slow import wait


                async def view() -> None:
                    wait()
            """,
        },
    )
    found = lint_paths([tmp_path / "app" / "view.py"])
    assert [(Path(f.path).name, f.code) for f in found] == [("view.py", "LS302")]


def test_noqa_comments_are_read_from_comments_only(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        'a = 1  # noqa: LS101,LS302\nb = "# noqa"\nc = 3  # expect: LS101  # noqa: E501\n'
        "d = 4  # NoQA\n"
    )
    suppressions = parse_noqa(path)
    assert is_suppressed(suppressions, 1, "LS302")
    assert not is_suppressed(suppressions, 1, "LS201")
    assert not is_suppressed(suppressions, 2, "LS101")
    assert not is_suppressed(suppressions, 3, "LS101")
    assert is_suppressed(suppressions, 4, "LS501")


def test_a_lambda_stored_and_called_on_the_loop_is_followed(tmp_path: Path) -> None:
    path = (
        write_project(
            tmp_path,
            {
                "m.py": """
                import asyncio
                import time


                async def handler() -> None:
                    nap = lambda: time.sleep(1)
                    nap()
                    await asyncio.to_thread(nap)
            """,
            },
        )
        / "m.py"
    )
    found = lint_paths([path])
    assert [(f.code, f.line) for f in found] == [("LS302", line_of(path, "nap()"))]


def test_thread_side_findings_follow_the_noqa_and_allow_rules(tmp_path: Path) -> None:
    path = (
        write_project(
            tmp_path,
            {
                "m.py": """
                import asyncio


                def finish(fut: asyncio.Future[int]) -> None:
                    fut.set_result(1)


                async def handler() -> None:
                    fut = asyncio.get_running_loop().create_future()
                    await asyncio.to_thread(finish, fut)  # reported
                    await asyncio.to_thread(finish, fut)  # noqa: LS601
            """,
            },
        )
        / "m.py"
    )
    found = lint_paths([path])
    assert [(f.code, f.line) for f in found] == [("LS601", line_of(path, "# reported"))]
    assert [hop.name for hop in found[0].chain] == [
        "m.handler",
        "m.finish",
        "asyncio.Future.set_result",
    ]
    assert lint_paths([path], allow=["m.finish"]) == []
    assert lint_paths([path], allow=["asyncio.Future.set_result"]) == []


def test_database_read_is_a_thread_hand_off_also_when_loopsafe_is_linted(
    tmp_path: Path,
) -> None:
    # Linting loopsafe itself, ``Database`` is a project class, not a library type.
    write_project(
        tmp_path,
        {
            "loopsafe/__init__.py": "from loopsafe.engine import Database\n",
            "loopsafe/engine.py": """
                class Database:
                    async def read(self, fn: object) -> object:
                        return fn

                    async def fetchall(self, fn: object) -> object:
                        return fn
            """,
            "loopsafe/use.py": """
                import asyncio

                import loopsafe


                async def handler(db: loopsafe.Database) -> None:
                    loop = asyncio.get_running_loop()
                    await db.read(lambda conn: loop.call_soon(print))  # reported
                    await db.fetchall(lambda conn: loop.call_soon(print))
            """,
        },
    )
    use = tmp_path / "loopsafe" / "use.py"
    found = lint_paths([tmp_path])
    assert [(f.code, f.line) for f in found] == [("LS601", line_of(use, "# reported"))]
