"""Standard Webhooks verification, signed by the reference `standardwebhooks` package."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from loopsafe.service.settings import decode_secret
from loopsafe.service.webhooks import SignatureError, sign, verify

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
OTHER = "whsec_" + base64.b64encode(os.urandom(32)).decode()
NOW = 1_700_000_000
BODY = b'{"event": "push", "n": 1}'


def signed(secret: str, msg_id: str = "msg_1", ts: int = NOW, body: bytes = BODY) -> dict[str, str]:
    when = datetime.fromtimestamp(ts, tz=UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
    }


def check(headers: dict[str, str], body: bytes = BODY, secret: str = SECRET) -> str:
    return verify(decode_secret(secret), headers, body, now=NOW, tolerance=300).id


def test_a_delivery_signed_by_the_reference_library_verifies() -> None:
    assert check(signed(SECRET)) == "msg_1"


def test_our_signature_matches_the_reference_library() -> None:
    headers = signed(SECRET)
    assert sign(decode_secret(SECRET), "msg_1", NOW, BODY) == headers["webhook-signature"]


def test_any_of_several_signatures_verifies_during_key_rotation() -> None:
    old, new = signed(OTHER), signed(SECRET)
    rotated = dict(
        new, **{"webhook-signature": f"{old['webhook-signature']} {new['webhook-signature']}"}
    )
    assert check(rotated) == "msg_1"


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-signature": "v1,AAAA"},
        {"webhook-signature": "v1a,whatever"},
        {"webhook-signature": "v1,not base64!"},
        {"webhook-signature": ""},
        {"webhook-id": "msg_2"},
        {"webhook-timestamp": str(NOW + 1)},
    ],
)
def test_a_tampered_delivery_is_refused(change: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        check(dict(signed(SECRET), **change))


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(SignatureError, match="signature"):
        check(signed(SECRET), body=BODY.replace(b"1", b"2"))


def test_a_body_re_serialised_is_refused() -> None:
    with pytest.raises(SignatureError):
        check(signed(SECRET), body=b'{"event":"push","n":1}')


@pytest.mark.parametrize("skew", [-301, 301, -10_000, 10_000])
def test_timestamps_outside_the_tolerance_either_way_are_refused(skew: int) -> None:
    with pytest.raises(SignatureError, match="tolerance"):
        check(signed(SECRET, ts=NOW + skew))


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamps_inside_the_tolerance_are_accepted(skew: int) -> None:
    assert check(signed(SECRET, ts=NOW + skew)) == "msg_1"


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_refused(missing: str) -> None:
    headers = signed(SECRET)
    del headers[missing]
    with pytest.raises(SignatureError, match="missing"):
        check(headers)


@pytest.mark.parametrize("stamp", ["12.5", "-5", "soon", "1" * 20])
def test_a_malformed_timestamp_is_refused(stamp: str) -> None:
    with pytest.raises(SignatureError, match="timestamp"):
        check(dict(signed(SECRET), **{"webhook-timestamp": stamp}))


@pytest.mark.parametrize(
    "secret", ["whsec_", "whsec_not*base64", "whsec_" + base64.b64encode(b"short").decode()]
)
def test_bad_secrets_are_refused_without_showing_them(secret: str) -> None:
    with pytest.raises(ValueError, match="secret") as info:
        decode_secret(secret)
    assert secret.removeprefix("whsec_") not in str(info.value) or secret == "whsec_"
