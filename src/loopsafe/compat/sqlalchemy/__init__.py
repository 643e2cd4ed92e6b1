"""SQLAlchemy on loopsafe: the ``sqlite+loopsafe://`` dialect and its pool.

``create_async_engine("sqlite+loopsafe:///app.db")`` finds the dialect through its entry
point; nothing needs importing from here unless you name the pool or the dialect.
"""

from loopsafe.compat.sqlalchemy._pool import LoopsafePool
from loopsafe.compat.sqlalchemy.dialect import LoopsafeDialect, install_functions

__all__ = ["LoopsafeDialect", "LoopsafePool", "install_functions"]
