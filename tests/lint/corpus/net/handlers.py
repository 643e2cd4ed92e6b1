"""Async handlers that block on HTTP, directly and through 1, 2 and 3 helpers."""

from urllib.request import urlopen

import httpx
import requests

from net import gateway
from net.api import Service, get_weather
from net.client import ApiClient, download


async def direct_requests(url: str) -> object:
    requests.post(url, json={}, timeout=5)  # expect: LS401
    session = requests.Session()
    return session.get(url, timeout=5).json()  # expect: LS401


async def direct_urllib(url: str) -> bytes:
    response = urlopen(url)  # expect: LS401
    return bytes(response.read())  # expect: LS401


async def direct_httpx(url: str) -> int:
    client = httpx.Client()
    first = client.get(url).status_code  # expect: LS401
    return first + httpx.get(url).status_code  # expect: LS401


async def one_level(url: str) -> bytes:
    return download(url)  # expect: LS402(1)


async def one_level_method(path: str) -> object:
    client = ApiClient()
    return client.get(path)  # expect: LS402(1)


async def two_levels(city: str) -> object:
    return get_weather(city)  # expect: LS402(2)


async def two_levels_method(uid: int) -> object:
    return Service().user(uid)  # expect: LS402(2)


async def three_levels(city: str, uid: int) -> object:
    weather = gateway.forecast(city)  # expect: LS402(3)
    return weather, gateway.profile(uid)  # expect: LS402(3)
