"""pytest plugin: fail a test whose event loop was blocked (opt-in)."""
