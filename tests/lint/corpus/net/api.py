"""API wrappers: one level above the HTTP helpers."""

from net.client import ApiClient, fetch_json


def get_weather(city: str) -> dict[str, object]:
    return fetch_json(f"https://weather.example.com/{city}")


class Service:
    client: ApiClient

    def __init__(self) -> None:
        self.client = ApiClient()

    def user(self, uid: int) -> object:
        return self.client.get(f"/users/{uid}")
