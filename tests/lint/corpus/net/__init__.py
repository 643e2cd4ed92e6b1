"""Outbound HTTP with requests, urllib and httpx."""
