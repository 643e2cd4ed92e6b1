"""Fixtures: real server processes, each stopped by its pid on teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.service.server import Server

MakeServer = Callable[..., Server]


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    """A factory: ``make_server(env={...}, args=[...])`` builds an unstarted Server on a
    fresh data dir; every server it built is stopped (SIGTERM, then SIGKILL) on teardown."""
    built: list[Server] = []

    def make(env: dict[str, str] | None = None, args: list[str] | None = None) -> Server:
        server = Server(tmp_path / f"data{len(built)}", dict(env or {}), list(args or []))
        server.data_dir.mkdir()
        built.append(server)
        return server

    yield make
    for server in built:
        server.stop()


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    """A started server with the default settings (a secret for `github`, an admin token)."""
    return make_server().start()
