"""Background jobs: shell commands and retries with sleeps."""
