"""Rendering a report: ruff-like text, or JSON."""

from __future__ import annotations

import json

from loopsafe.lint.findings import Finding, ParseError


def render_text(findings: list[Finding]) -> str:
    """``path:line:col: CODE message``, a ``help:`` line each, then a summary line."""
    lines = []
    for finding in findings:
        lines.append(
            f"{finding.path}:{finding.line}:{finding.col}: {finding.code} {finding.message}"
        )
        lines.append(f"  help: {finding.fix}")
    if findings:
        noun = "problem" if len(findings) == 1 else "problems"
        lines.extend(["", f"Found {len(findings)} {noun}."])
    else:
        lines.append("No problems found.")
    return "\n".join(lines) + "\n"


def render_json(findings: list[Finding]) -> str:
    """A JSON array, one object per finding, with the chain as a list of steps."""
    payload = [
        {
            "path": finding.path,
            "line": finding.line,
            "column": finding.col,
            "code": finding.code,
            "message": finding.message,
            "fix": finding.fix,
            "chain": [
                {"name": step.name, "path": step.path, "line": step.line} for step in finding.chain
            ],
        }
        for finding in findings
    ]
    return json.dumps(payload, indent=2) + "\n"


def render_error(error: ParseError) -> str:
    """How a file that could not be parsed is reported (on stderr)."""
    return f"error: failed to parse {error.path}:{error.line}:{error.col}: {error.message}"
