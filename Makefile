# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: run test lint types pytest bench bench-engine bench-http bench-stores bench-compat bench-orm test-orm test-orm-memory clean

$(VENV)/.run: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[service]'
	touch $@

$(VENV)/.dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.run

run: $(VENV)/.run
	$(PY) -m loopsafe serve

test: $(VENV)/.dev lint types pytest test-orm test-orm-memory

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/loopsafe lint src

types: $(VENV)/.dev
	$(BIN)/mypy

pytest: $(VENV)/.dev
	$(BIN)/pytest

bench-engine: $(VENV)/.dev
	$(PY) -m benchmarks.engine

bench-http: $(VENV)/.dev
	$(PY) -m benchmarks.http

bench-stores: $(VENV)/.dev
	$(PY) -m benchmarks.stores

# SQLAlchemy's dialect suite (from the installed SQLAlchemy) on sqlite+loopsafe, on a file
# (test-orm) and on :memory: (test-orm-memory); each its own pytest invocation, since
# SQLAlchemy's plugin takes over collection.
ORM_SUITE := $(BIN)/pytest -c tests/sqlalchemy/compliance/pytest.ini \
	-p sqlalchemy.testing.plugin.pytestplugin tests/sqlalchemy/compliance -q
ORM_FILES := suite_loopsafe.db* loopsafe_test_schema.db*
test-orm: $(VENV)/.dev
	rm -f $(ORM_FILES)
	$(ORM_SUITE) --dburi 'sqlite+loopsafe:///suite.db'
	rm -f $(ORM_FILES)

test-orm-memory: $(VENV)/.dev
	rm -f $(ORM_FILES)
	$(ORM_SUITE) --dburi 'sqlite+loopsafe://'
	rm -f $(ORM_FILES)

bench-orm: $(VENV)/.dev
	$(PY) -m benchmarks.orm

bench-compat: $(VENV)/.dev
	$(PY) -m benchmarks.compat

bench: bench-http

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
