"""The aiosqlite adapter against aiosqlite itself (``make bench-compat``)."""
