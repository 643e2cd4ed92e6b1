"""SQLAlchemy's third-party dialect suite, run from the installed SQLAlchemy.

This folder runs in its own pytest invocation (``make test-orm``), since SQLAlchemy's
plugin takes over collection and needs ``--dburi``::

    pytest -c tests/sqlalchemy/compliance/pytest.ini -p sqlalchemy.testing.plugin.pytestplugin \
        --dburi sqlite+loopsafe:///suite.db
"""

import pytest

pytest.register_assert_rewrite("sqlalchemy.testing.assertions")
