"""Watch tools: see a blocked event loop (monitor, pytest plugin, lint)."""
