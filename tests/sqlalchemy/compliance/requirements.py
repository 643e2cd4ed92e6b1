"""What ``sqlite+loopsafe`` supports, for SQLAlchemy's dialect suite.

Each property says yes (``open``) or no (``closed``, with the reason) for one feature the
suite asks about; a test whose requirement is closed is skipped with that reason, so every
skip in the run is a statement made here. The SQL is SQLite's (what SQLAlchemy's SQLite
dialect emits); the driver is loopsafe's adapter. Features of SQLite that the suite's
defaults leave closed are opened; features SQLite lacks stay closed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.testing import exclusions
from sqlalchemy.testing.requirements import SuiteRequirements

Rule = Any  # sqlalchemy.testing.exclusions' compound predicates are untyped


def _version(at_least: tuple[int, int, int]) -> bool:
    import sqlite3

    return sqlite3.sqlite_version_info >= at_least


class Requirements(SuiteRequirements):  # type: ignore[misc]
    # -- DDL ---------------------------------------------------------------------------

    @property
    def create_table_as(self) -> Rule:
        return exclusions.open()

    @property
    def create_temp_table_as(self) -> Rule:
        return exclusions.open()

    @property
    def table_ddl_if_exists(self) -> Rule:
        return exclusions.open()

    @property
    def index_ddl_if_exists(self) -> Rule:
        return exclusions.open()

    @property
    def computed_columns(self) -> Rule:
        return exclusions.only_if(lambda: _version((3, 31, 0)), "SQLite 3.31 needed")

    @property
    def computed_columns_stored(self) -> Rule:
        return self.computed_columns

    @property
    def computed_columns_virtual(self) -> Rule:
        return self.computed_columns

    @property
    def computed_columns_default_persisted(self) -> Rule:
        return exclusions.closed()  # SQLite's default is VIRTUAL

    @property
    def implicitly_named_constraints(self) -> Rule:
        return exclusions.closed()  # SQLite doesn't name unnamed constraints

    @property
    def on_update_cascade(self) -> Rule:
        # SQLite enforces foreign keys only with PRAGMA foreign_keys=ON, which SQLAlchemy's
        # SQLite dialect doesn't turn on.
        return exclusions.closed()

    @property
    def non_updating_cascade(self) -> Rule:
        return exclusions.open()

    # -- SQL ---------------------------------------------------------------------------

    @property
    def ctes(self) -> Rule:
        return exclusions.open()

    @property
    def ctes_with_update_delete(self) -> Rule:
        return exclusions.open()

    @property
    def ctes_with_values(self) -> Rule:
        return exclusions.open()

    @property
    def intersect(self) -> Rule:
        return exclusions.open()

    @property
    def except_(self) -> Rule:
        return exclusions.open()

    @property
    def window_functions(self) -> Rule:
        return exclusions.only_if(lambda: _version((3, 25, 0)), "SQLite 3.25 needed")

    @property
    def nullsordering(self) -> Rule:
        return exclusions.only_if(lambda: _version((3, 30, 0)), "SQLite 3.30 needed")

    @property
    def tuple_in(self) -> Rule:
        return exclusions.open()

    @property
    def tuple_in_w_empty(self) -> Rule:
        return exclusions.open()

    @property
    def update_from(self) -> Rule:
        return exclusions.only_if(lambda: _version((3, 33, 0)), "SQLite 3.33 needed")

    @property
    def regexp_match(self) -> Rule:
        # the dialect installs regexp() on every connection through the setup hook
        return exclusions.open()

    @property
    def supports_is_distinct_from(self) -> Rule:
        return exclusions.open()

    @property
    def supports_bitwise_or(self) -> Rule:
        return exclusions.open()

    @property
    def supports_bitwise_and(self) -> Rule:
        return exclusions.open()

    @property
    def supports_bitwise_not(self) -> Rule:
        return exclusions.open()

    @property
    def supports_bitwise_shift(self) -> Rule:
        return exclusions.open()

    @property
    def order_by_label_with_expression(self) -> Rule:
        return exclusions.open()

    @property
    def mod_operator_as_percent_sign(self) -> Rule:
        return exclusions.open()

    @property
    def json_type(self) -> Rule:
        return exclusions.open()

    @property
    def savepoints(self) -> Rule:
        return exclusions.open()

    @property
    def views(self) -> Rule:
        return exclusions.open()

    # -- types -------------------------------------------------------------------------

    @property
    def datetime_historic(self) -> Rule:
        return exclusions.open()

    @property
    def date_historic(self) -> Rule:
        return exclusions.open()

    @property
    def precision_numerics_enotation_small(self) -> Rule:
        return exclusions.open()

    @property
    def precision_numerics_enotation_large(self) -> Rule:
        # SQLite keeps NUMERIC as a float: large exponents lose digits
        return exclusions.closed()

    @property
    def precision_numerics_many_significant_digits(self) -> Rule:
        return exclusions.closed()  # SQLite keeps NUMERIC as a float

    @property
    def implicit_decimal_binds(self) -> Rule:
        return exclusions.closed()  # SQLite returns a bound Decimal as a float

    # -- transactions and connections --------------------------------------------------

    @property
    def isolation_level(self) -> Rule:
        return exclusions.open()

    def get_isolation_levels(self, config: Any) -> dict[str, Any]:
        return {
            "default": "SERIALIZABLE",
            "supported": ["SERIALIZABLE", "READ UNCOMMITTED", "AUTOCOMMIT"],
        }

    @property
    def autocommit(self) -> Rule:
        return exclusions.open()

    @property
    def independent_connections(self) -> Rule:
        return exclusions.open()

    # -- reflection --------------------------------------------------------------------

    @property
    def schemas(self) -> Rule:
        return exclusions.open()  # the suite ATTACHes a test_schema database

    # TEMP tables and views live on the connection that made them: the writer. A
    # reflection query outside a transaction runs on a reader, which doesn't see them.
    # (SQLAlchemy's own requirements skip these on SQLite file databases too.)
    @property
    def temporary_tables(self) -> Rule:
        return exclusions.closed()

    @property
    def temp_table_reflection(self) -> Rule:
        return exclusions.closed()

    @property
    def temporary_views(self) -> Rule:
        return exclusions.closed()

    @property
    def check_constraint_reflection(self) -> Rule:
        return exclusions.open()

    @property
    def reflects_pk_names(self) -> Rule:
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_ondelete(self) -> Rule:
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_ondelete_restrict(self) -> Rule:
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_ondelete_noaction(self) -> Rule:
        return exclusions.open()

    @property
    def foreign_key_constraint_option_reflection_onupdate(self) -> Rule:
        return exclusions.open()

    @property
    def fk_constraint_option_reflection_onupdate_restrict(self) -> Rule:
        return exclusions.open()

    @property
    def foreign_key_constraint_name_reflection(self) -> Rule:
        return exclusions.open()

    @property
    def unique_constraint_reflection(self) -> Rule:
        return exclusions.open()

    @property
    def indexes_with_expressions(self) -> Rule:
        return exclusions.open()

    @property
    def reflect_indexes_with_expressions(self) -> Rule:
        # SQLAlchemy's SQLite dialect skips expression indexes when reflecting, with a warning
        return exclusions.closed()
