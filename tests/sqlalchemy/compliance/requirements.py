"""What ``sqlite+loopsafe`` supports, for SQLAlchemy's dialect suite.

Each property says yes (``open``) or no (``closed``, with the reason) for one feature the
suite asks about; a test whose requirement is closed is skipped with that reason, so every
skip in the run is a statement made here. The SQL is SQLite's (what SQLAlchemy's SQLite
dialect emits); the driver is loopsafe's adapter. Features of SQLite that the suite's
defaults leave closed are opened; features SQLite lacks stay closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements

Rule = Any  # sqlalchemy.testing.exclusions' compound predicates are untyped

_yes: Callable[[], Rule] = exclusions.open
_no: Callable[[], Rule] = exclusions.closed
_only_if: Callable[..., Rule] = exclusions.only_if
_skip_if: Callable[..., Rule] = exclusions.skip_if


def _version(at_least: tuple[int, int, int]) -> bool:
    import sqlite3

    return sqlite3.sqlite_version_info >= at_least


def _memory(config: Any) -> bool:
    return not config.db.dialect._is_url_file_db(config.db.url)


class Requirements(SuiteRequirements):
    # -- DDL ---------------------------------------------------------------------------

    @property
    def create_table_as(self) -> Rule:
        return _yes()

    @property
    def create_temp_table_as(self) -> Rule:
        return _no()  # TEMP tables: see temporary_tables

    @property
    def table_ddl_if_exists(self) -> Rule:
        return _yes()

    @property
    def index_ddl_if_exists(self) -> Rule:
        return _yes()

    @property
    def computed_columns(self) -> Rule:
        return _only_if(lambda: _version((3, 31, 0)), "SQLite 3.31 needed")

    @property
    def computed_columns_stored(self) -> Rule:
        return self.computed_columns

    @property
    def computed_columns_virtual(self) -> Rule:
        return self.computed_columns

    @property
    def computed_columns_reflect_persisted(self) -> Rule:
        return self.computed_columns

    @property
    def computed_columns_default_persisted(self) -> Rule:
        return _no()  # SQLite's default is VIRTUAL

    @property
    def implicitly_named_constraints(self) -> Rule:
        return _no()  # SQLite doesn't name unnamed constraints

    @property
    def on_update_cascade(self) -> Rule:
        # SQLite enforces foreign keys only with PRAGMA foreign_keys=ON, which SQLAlchemy's
        # SQLite dialect doesn't turn on.
        return _no()

    @property
    def non_updating_cascade(self) -> Rule:
        return _yes()

    # -- SQL ---------------------------------------------------------------------------

    @property
    def parens_in_union_contained_select_w_limit_offset(self) -> Rule:
        return _no()  # SQLite's grammar has no parenthesized SELECT in UNION

    @property
    def parens_in_union_contained_select_wo_limit_offset(self) -> Rule:
        return _no()  # as above

    @property
    def ctes(self) -> Rule:
        return _yes()

    @property
    def ctes_with_update_delete(self) -> Rule:
        return _yes()

    @property
    def ctes_with_values(self) -> Rule:
        return _yes()

    @property
    def intersect(self) -> Rule:
        return _yes()

    @property
    def except_(self) -> Rule:
        return _yes()

    @property
    def window_functions(self) -> Rule:
        return _only_if(lambda: _version((3, 25, 0)), "SQLite 3.25 needed")

    @property
    def nullsordering(self) -> Rule:
        return _only_if(lambda: _version((3, 30, 0)), "SQLite 3.30 needed")

    @property
    def tuple_in(self) -> Rule:
        return _yes()

    @property
    def tuple_in_w_empty(self) -> Rule:
        return _yes()

    @property
    def update_from(self) -> Rule:
        return _only_if(lambda: _version((3, 33, 0)), "SQLite 3.33 needed")

    @property
    def regexp_match(self) -> Rule:
        # the dialect installs regexp() on every connection through the setup hook
        return _yes()

    @property
    def supports_is_distinct_from(self) -> Rule:
        return _yes()

    @property
    def supports_bitwise_or(self) -> Rule:
        return _yes()

    @property
    def supports_bitwise_and(self) -> Rule:
        return _yes()

    @property
    def supports_bitwise_not(self) -> Rule:
        return _yes()

    @property
    def supports_bitwise_shift(self) -> Rule:
        return _yes()

    @property
    def order_by_label_with_expression(self) -> Rule:
        return _yes()

    @property
    def mod_operator_as_percent_sign(self) -> Rule:
        return _yes()

    @property
    def json_type(self) -> Rule:
        return _yes()

    @property
    def savepoints(self) -> Rule:
        return _yes()

    @property
    def views(self) -> Rule:
        return _yes()

    # -- types -------------------------------------------------------------------------

    @property
    def datetime_historic(self) -> Rule:
        return _yes()

    @property
    def date_historic(self) -> Rule:
        return _yes()

    @property
    def precision_numerics_enotation_small(self) -> Rule:
        return _yes()

    @property
    def precision_numerics_enotation_large(self) -> Rule:
        # SQLite keeps NUMERIC as a float: large exponents lose digits
        return _no()

    @property
    def precision_numerics_many_significant_digits(self) -> Rule:
        return _no()  # SQLite keeps NUMERIC as a float

    @property
    def implicit_decimal_binds(self) -> Rule:
        return _no()  # SQLite returns a bound Decimal as a float

    # -- transactions and connections --------------------------------------------------

    @property
    def isolation_level(self) -> Rule:
        # SQLite's READ UNCOMMITTED is PRAGMA read_uncommitted, a setting of one SQLite
        # connection (and meaningful only in shared-cache mode). A loopsafe DB-API
        # connection is a handle on connections shared by every handle: a per-handle
        # PRAGMA can't be set or read back. AUTOCOMMIT (isolation_level=None) is per
        # handle and supported; see autocommit.
        return _no()

    @property
    def autocommit(self) -> Rule:
        return _yes()

    def get_isolation_levels(self, config: Any) -> dict[str, Any]:
        return {
            "default": "SERIALIZABLE",
            "supported": list(config.db.dialect._isolation_lookup),
        }

    @property
    def server_side_cursors(self) -> Rule:
        # The suite's ServerSideCursorsTest recognizes a server-side cursor only for the
        # drivers it names (its _is_server_side), and loopsafe isn't one of them.
        # stream() and yield_per work (tests/sqlalchemy/test_dialect.py).
        return _no()

    @property
    def reflect_table_options(self) -> Rule:
        return _yes()

    # A ``:memory:`` database belongs to the engine that opened it (its StaticPool holds
    # the one adapter connection); another engine on ``sqlite+loopsafe://``, like the
    # suite's testing_engine(), opens its own, empty database, as with sqlite3 and
    # aiosqlite. So on ``:memory:`` no second engine sees the suite's tables.
    # (SQLAlchemy's own requirements say the same of SQLite ``:memory:``.)
    @property
    def independent_connections(self) -> Rule:
        return _skip_if(_memory, "a :memory: database is private to its engine")

    @property
    def independent_readonly_connections(self) -> Rule:
        return self.independent_connections

    # -- reflection --------------------------------------------------------------------

    @property
    def schemas(self) -> Rule:
        return _yes()  # the suite ATTACHes a test_schema database

    # TEMP tables and views live on the connection that made them: the writer. A
    # reflection query outside a transaction runs on a reader, which doesn't see them.
    # (SQLAlchemy's own requirements skip these on SQLite file databases too.)
    @property
    def temporary_tables(self) -> Rule:
        return _no()

    @property
    def temp_table_reflection(self) -> Rule:
        return _no()

    @property
    def temporary_views(self) -> Rule:
        return _no()

    @property
    def check_constraint_reflection(self) -> Rule:
        return _yes()

    @property
    def reflects_pk_names(self) -> Rule:
        return _yes()

    @property
    def foreign_key_constraint_option_reflection_ondelete(self) -> Rule:
        return _yes()

    @property
    def fk_constraint_option_reflection_ondelete_restrict(self) -> Rule:
        return _yes()

    @property
    def fk_constraint_option_reflection_ondelete_noaction(self) -> Rule:
        return _yes()

    @property
    def foreign_key_constraint_option_reflection_onupdate(self) -> Rule:
        return _yes()

    @property
    def fk_constraint_option_reflection_onupdate_restrict(self) -> Rule:
        return _yes()

    @property
    def foreign_key_constraint_name_reflection(self) -> Rule:
        return _yes()

    @property
    def unique_constraint_reflection(self) -> Rule:
        return _yes()

    @property
    def indexes_with_expressions(self) -> Rule:
        return _yes()

    @property
    def reflect_indexes_with_expressions(self) -> Rule:
        # SQLAlchemy's SQLite dialect skips expression indexes when reflecting, with a warning
        return _no()
