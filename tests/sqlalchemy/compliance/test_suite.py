"""Every test of SQLAlchemy's dialect suite, as installed (never copied here)."""

from sqlalchemy.testing.suite import *  # noqa: F403
