"""``loopsafe lint`` on the command line: exit codes, formats, suppression, config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from loopsafe.cli import main as loopsafe_main
from loopsafe.lint.cli import main
from loopsafe.lint.rules import RULES

from ._project import line_of, write_project

FIX = {rule.code: rule.fix for rule in RULES}
FINDING_LINE = re.compile(r"^(?P<path>[^:\s]+):(?P<line>\d+):(?P<col>\d+): (?P<code>LS\d{3}) ")

APP = {
    "app/__init__.py": "",
    "app/helpers.py": """
        import time


        def slow() -> None:
            time.sleep(1)
    """,
    "app/main.py": """
        import asyncio
        import time

        from app.helpers import slow


        async def handler() -> None:
            time.sleep(1)  # direct
            slow()  # indirect
            await asyncio.sleep(1)
    """,
    "app/quiet.py": """
        import asyncio


        async def fine() -> None:
            await asyncio.sleep(1)
    """,
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write_project(tmp_path, APP)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def findings_in(output: str) -> list[tuple[str, int, str]]:
    return [
        (match["path"], int(match["line"]), match["code"])
        for match in map(FINDING_LINE.match, output.splitlines())
        if match
    ]


def test_findings_exit_1_with_ruff_like_lines_help_and_summary(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "app")
    main_py = project / "app" / "main.py"
    assert status == 1
    assert findings_in(out) == [
        ("app/main.py", line_of(main_py, "# direct"), "LS301"),
        ("app/main.py", line_of(main_py, "# indirect"), "LS302"),
    ]
    lines = out.splitlines()
    assert lines[1] == f"  help: {FIX['LS301']}"
    assert lines[3] == f"  help: {FIX['LS302']}"
    assert "handler -> app.helpers.slow (app/helpers.py:5) -> time.sleep" in lines[2]
    assert lines[-1] == "Found 2 problems."


def test_clean_path_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "app/quiet.py")
    assert status == 0
    assert out == "No problems found.\n"


def test_top_level_dispatch(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert loopsafe_main(["lint", "app/quiet.py"]) == 0
    assert loopsafe_main(["lint", "app"]) == 1
    capsys.readouterr()


def test_json_format_carries_the_same_findings(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, text, _ = run(capsys, "app")
    status, out, _ = run(capsys, "--format", "json", "app")
    assert status == 1
    payload = json.loads(out)
    assert [(item["path"], item["line"], item["code"]) for item in payload] == findings_in(text)
    indirect = payload[1]
    assert indirect["fix"] == FIX["LS302"]
    assert [step["name"] for step in indirect["chain"]] == [
        "app.main.handler",
        "app.helpers.slow",
        "time.sleep",
    ]
    assert indirect["chain"][1] == {
        "name": "app.helpers.slow",
        "path": "app/helpers.py",
        "line": line_of(project / "app" / "helpers.py", "time.sleep"),
    }
    assert set(indirect) == {"path", "line", "column", "code", "message", "fix", "chain"}


def test_json_format_when_clean(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--format", "json", "app/quiet.py")
    assert (status, json.loads(out)) == (0, [])


@pytest.mark.parametrize(
    ("comment", "reported"),
    [
        ("# noqa: LS301", set()),
        ("# noqa: LS301, LS302", set()),
        ("# noqa:LS301", set()),
        ("# NOQA", set()),
        ("# noqa", set()),
        ("# noqa: LS302", {"LS301"}),
        ("# noqa: E501", {"LS301"}),
        ("# no qa", {"LS301"}),
    ],
)
def test_noqa_on_the_call_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    comment: str,
    reported: set[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    write_project(
        tmp_path,
        {
            "job.py": f"""
                import time


                async def tick() -> None:
                    time.sleep(1)  {comment}
            """
        },
    )
    status, out, _ = run(capsys, "job.py")
    assert {code for _, _, code in findings_in(out)} == reported
    assert status == (1 if reported else 0)


@pytest.mark.parametrize(
    ("allow", "remaining"),
    [
        ("app.helpers.slow", {"LS301"}),
        ("app.helpers", {"LS301"}),
        ("time.sleep", set()),
        ("time", set()),
        ("app.main.handler", set()),
        ("app.helper", {"LS301", "LS302"}),
    ],
)
def test_allow_on_the_command_line(
    project: Path, capsys: pytest.CaptureFixture[str], allow: str, remaining: set[str]
) -> None:
    status, out, _ = run(capsys, "--allow", allow, "app")
    assert {code for _, _, code in findings_in(out)} == remaining
    assert status == (1 if remaining else 0)


def test_allow_list_in_pyproject(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.loopsafe.lint]\nallow = ["app.helpers.slow"]\n'
    )
    status, out, _ = run(capsys, "app")
    assert (status, [code for _, _, code in findings_in(out)]) == (1, ["LS301"])
    _, isolated, _ = run(capsys, "--isolated", "app")
    assert [code for _, _, code in findings_in(isolated)] == ["LS301", "LS302"]


def test_nearest_pyproject_with_the_table_wins(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text('[tool.loopsafe.lint]\nallow = ["time"]\n')
    (project / "app" / "pyproject.toml").write_text('[tool.loopsafe.lint]\nignore = ["LS301"]\n')
    status, out, _ = run(capsys, "app")
    assert (status, [code for _, _, code in findings_in(out)]) == (1, ["LS302"])
    (project / "app" / "pyproject.toml").write_text('[project]\nname = "app"\n')
    assert run(capsys, "app")[0] == 0


@pytest.mark.parametrize(
    "table",
    ['allow = "app"', "max-depth = 0", 'colour = "red"', "allow = [", "select = [1]"],
)
def test_bad_pyproject_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str], table: str
) -> None:
    (project / "pyproject.toml").write_text(f"[tool.loopsafe.lint]\n{table}\n")
    status, out, err = run(capsys, "app")
    assert (status, out) == (2, "")
    assert "pyproject.toml" in err


@pytest.mark.parametrize(
    ("options", "codes"),
    [
        (["--select", "LS3"], ["LS301", "LS302"]),
        (["--select", "LS301"], ["LS301"]),
        (["--select", "LS1,LS302"], ["LS302"]),
        (["--ignore", "LS301"], ["LS302"]),
        (["--ignore", "LS3"], []),
        (["--select", "LS1"], []),
    ],
)
def test_select_and_ignore(
    project: Path, capsys: pytest.CaptureFixture[str], options: list[str], codes: list[str]
) -> None:
    status, out, _ = run(capsys, *options, "app")
    assert [code for _, _, code in findings_in(out)] == codes
    assert status == (1 if codes else 0)


def test_unknown_code_is_a_usage_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "--select", "XYZ1", "app")
    assert status == 2
    assert "XYZ1" in err


def test_max_depth_limits_how_far_calls_are_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_project(
        tmp_path,
        {
            "deep.py": """
                import time


                def one() -> None:
                    two()


                def two() -> None:
                    three()


                def three() -> None:
                    time.sleep(1)


                async def handler() -> None:
                    one()
            """
        },
    )
    assert run(capsys, "deep.py")[0] == 1
    assert run(capsys, "--max-depth", "3", "deep.py")[0] == 1
    assert run(capsys, "--max-depth", "2", "deep.py")[0] == 0
    assert run(capsys, "--max-depth", "0", "deep.py")[0] == 2


def test_syntax_error_is_reported_and_the_rest_is_linted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "app" / "broken.py").write_text("def ok():\n    pass\n\ndef broken(:\n")
    status, out, err = run(capsys, "app")
    assert status == 2
    assert "app/broken.py:4:" in err
    assert "SyntaxError" in err
    assert [code for _, _, code in findings_in(out)] == ["LS301", "LS302"]


def test_nonexistent_path_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "app", "missing_dir")
    assert (status, out) == (2, "")
    assert "missing_dir: no such file or directory" in err


def test_no_arguments_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys)
    assert status == 2
    assert "usage: loopsafe lint" in err


def test_help_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for rule in RULES:
        assert rule.code in out
