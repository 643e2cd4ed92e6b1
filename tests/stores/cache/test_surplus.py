"""How many rows an eviction pass takes next, on either backend (cache._backend.surplus)."""

from __future__ import annotations

from loopsafe.stores.cache._backend import surplus


def test_nothing_is_evicted_within_the_bounds() -> None:
    assert surplus(10, 1000, 10, 1000) == 0
    assert surplus(10, 1000, None, None) == 0


def test_the_entries_over_the_bound_are_evicted() -> None:
    assert surplus(15, 100, 10, None) == 5


def test_bytes_over_the_bound_are_guessed_from_the_mean_size_rounding_up() -> None:
    # 10 rows of 100 bytes, 150 bytes over: two rows, not one and a half.
    assert surplus(10, 1000, None, 850) == 2
    # The larger of the two needs wins; at least one row once over.
    assert surplus(12, 1200, 10, 1190) == 2
    assert surplus(1, 10, None, 9) == 1
