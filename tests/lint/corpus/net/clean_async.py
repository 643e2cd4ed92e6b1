"""Clean: async HTTP clients, and sync clients used from threads."""

import asyncio

import aiohttp
import httpx
import requests

from net import gateway
from net.client import fetch_json


async def with_httpx(url: str) -> int:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    other = httpx.AsyncClient()
    await other.post(url)
    await other.aclose()
    return response.status_code


async def with_aiohttp(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return str(await response.text())


async def in_threads(url: str) -> object:
    first = await asyncio.to_thread(requests.get, url, timeout=5)
    second = await asyncio.to_thread(fetch_json, url)
    loop = asyncio.get_running_loop()
    third = await loop.run_in_executor(None, gateway.forecast, "oslo")
    return first, second, third
