"""The Cache store: TTLs, namespaces, tags, bounds with eviction, single-flight fills and
stale-while-revalidate, on a SQLite file shared by every process that opens it."""

from loopsafe.stores.cache._backend import CacheBackend, Entry, Maintenance, Row
from loopsafe.stores.cache._cache import Cache
from loopsafe.stores.cache._cached import CachedFunction
from loopsafe.stores.cache._serializers import JSONSerializer, PickleSerializer, Serializer
from loopsafe.stores.cache._sqlite import SQLiteCacheBackend
from loopsafe.stores.cache._stats import CacheStats

__all__ = [
    "Cache",
    "CacheBackend",
    "CacheStats",
    "CachedFunction",
    "Entry",
    "JSONSerializer",
    "Maintenance",
    "PickleSerializer",
    "Row",
    "SQLiteCacheBackend",
    "Serializer",
]
