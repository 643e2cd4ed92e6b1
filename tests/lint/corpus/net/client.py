"""Sync HTTP helpers: every function here blocks."""

import urllib.request

import httpx
import requests


def fetch_json(url: str) -> dict[str, object]:
    response = requests.get(url, timeout=5)
    return dict(response.json())


def download(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:
        return bytes(response.read())


def ping(url: str) -> int:
    with httpx.Client() as client:
        return client.head(url).status_code


class ApiClient:
    def __init__(self, base: str = "https://api.example.com") -> None:
        self.base = base
        self.session = requests.Session()

    def get(self, path: str) -> object:
        return self.session.get(self.base + path, timeout=5).json()
