"""FastAPI integration: open Databases with the app, inject them, map overload to HTTP.

::

    from fastapi import FastAPI
    from loopsafe.fastapi import DatabaseDep, install_exception_handlers, lifespan

    app = FastAPI(lifespan=lifespan(default="app.db"))
    install_exception_handlers(app)

    @app.get("/items/{key}")
    async def item(key: str, db: DatabaseDep) -> dict[str, object]:
        return {"value": await db.fetchval("SELECT value FROM items WHERE key = ?", (key,))}

A call refused by a full queue answers 503 with ``Retry-After`` at once instead
of queueing without bound, and a call past its deadline answers 504.
``app.add_middleware(LoadShedding)`` answers 503 before routing while the event
loop itself cannot keep up.
"""

from loopsafe.fastapi._depends import DatabaseDep, database, get_database
from loopsafe.fastapi._errors import exception_handlers, install_exception_handlers
from loopsafe.fastapi._lifespan import Opener, lifespan
from loopsafe.fastapi._limit import LimitState
from loopsafe.fastapi._shedding import DEFAULT_EXEMPT, LoadShedding, SheddingStats

__all__ = [
    "DEFAULT_EXEMPT",
    "DatabaseDep",
    "LimitState",
    "LoadShedding",
    "Opener",
    "SheddingStats",
    "database",
    "exception_handlers",
    "get_database",
    "install_exception_handlers",
    "lifespan",
]
