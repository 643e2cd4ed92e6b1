"""Schemathesis against the service's own OpenAPI, served by a real process: no 5xx, and
every response (problem documents included) as the schema declares it."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.service.server import TOKEN, Server

EXAMPLES = 50


def test_the_api_conforms_to_its_openapi(server: Server) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    failures: dict[str, str] = {}
    tested = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # a part of the schema schemathesis can't read
            failures[str(result.err())] = "invalid schema"
            continue
        operation = result.ok()
        tested += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), admin=st.booleans())
        def run(case: schemathesis.Case[Any], admin: bool) -> None:
            # Mutating routes are exercised past the token check too, not only refused.
            headers = {"Authorization": f"Bearer {TOKEN}"} if admin else None
            # A cursor is opaque: the schema can only say "a string", and a string this
            # service did not make is refused (400), so schema-valid is not always valid.
            case.call_and_validate(
                base_url=server.url, headers=headers, excluded_checks=[positive_data_acceptance]
            )

        # Every operation is tried, so that all failures are shown at once.
        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:
            failures[operation.label] = str(exc)[:3000]
    assert tested >= 12
    if failures:
        pytest.fail("\n\n".join(f"{label}:\n{text}" for label, text in failures.items()))
