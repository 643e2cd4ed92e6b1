"""The OpenFeature provider, through the real OpenFeature client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from loopsafe import Flags
from loopsafe.stores.flags.openfeature import FlagsProvider

from ..conftest import Backend


@pytest.fixture
async def flags(backend: Backend) -> AsyncIterator[Flags]:
    async with Flags(backend.target("f"), random=lambda: 0.99) as f:
        yield f


@pytest.fixture
def client(flags: Flags) -> Iterator[OpenFeatureClient]:
    api.set_provider(FlagsProvider(flags), domain="loopsafe-test")
    yield api.get_client("loopsafe-test")
    api.clear_providers()


def user(key: str | None, *groups: str) -> EvaluationContext:
    return EvaluationContext(key, {"groups": list(groups)})


async def test_values_and_reasons(flags: Flags, client: OpenFeatureClient) -> None:
    await flags.set("static", enabled=True)
    await flags.set("targeted", actors=["u1"], groups=["staff"])
    await flags.set("split", percentage_of_time=50)
    await flags.set("off", enabled=False)

    def details(name: str, ctx: EvaluationContext | None = None) -> tuple[bool, str | None]:
        d = client.get_boolean_details(name, True, ctx)
        return d.value, d.reason

    assert details("static") == (True, Reason.STATIC)
    assert details("targeted", user("u1")) == (True, Reason.TARGETING_MATCH)
    assert details("targeted", user("u2", "staff")) == (True, Reason.TARGETING_MATCH)
    assert details("targeted", user("u2")) == (False, Reason.DEFAULT)
    assert details("split", user("u2")) == (False, Reason.SPLIT)  # the draw is 0.99
    assert details("off") == (False, Reason.DISABLED)
    assert client.get_boolean_value("static", False) is True


async def test_an_unknown_flag_gives_the_default_and_flag_not_found(
    client: OpenFeatureClient,
) -> None:
    d = client.get_boolean_details("missing", True)
    assert (d.value, d.reason, d.error_code) == (True, Reason.ERROR, ErrorCode.FLAG_NOT_FOUND)


async def test_non_boolean_evaluations_are_a_type_mismatch(
    flags: Flags, client: OpenFeatureClient
) -> None:
    await flags.set("f", enabled=True)
    d = client.get_string_details("f", "fallback")
    assert (d.value, d.error_code) == ("fallback", ErrorCode.TYPE_MISMATCH)
    assert client.get_integer_value("f", 3) == 3


async def test_async_evaluation(flags: Flags, client: OpenFeatureClient) -> None:
    await flags.set("f", actors=["u1"])
    assert await client.get_boolean_value_async("f", False, user("u1")) is True
