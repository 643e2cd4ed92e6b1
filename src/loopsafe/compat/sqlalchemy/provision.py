"""Test provisioning for SQLAlchemy's dialect suite (imported only by its plugin, through
``Dialect.load_provisioning``): SQLAlchemy's own SQLite hooks."""

import sqlalchemy.dialects.sqlite.provision  # noqa: F401  (registers the SQLite hooks)
