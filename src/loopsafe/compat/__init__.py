"""Other libraries' APIs served by loopsafe: an aiosqlite-compatible module and a
SQLAlchemy dialect."""
