"""Gateway: two levels above the HTTP helpers."""

from net import api


def forecast(city: str) -> dict[str, object]:
    return {"city": city, "weather": api.get_weather(city)}


def profile(uid: int) -> object:
    return api.Service().user(uid)
