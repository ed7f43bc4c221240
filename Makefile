# citywatch: the two README commands are `make up` and `make test`.
# Everything installs itself: Python venv, Debian packages (redis, prometheus, alertmanager), Kafka jars.

PY        ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
CITYWATCH := $(BIN)/citywatch
STAMP     := $(VENV)/.installed
# Lock files for Python 3.11 on every platform (the Docker image's arm64 too), with every file's hash.
LOCK_FLAGS = --universal --python-version 3.11 --generate-hashes --quiet $(UPGRADE)

.PHONY: up down status test check bench lint typecheck unit integration faults configcheck install venv lock clean

## up: install what is missing, start the stack, the citywatch processes and the simulator; print where to look
up: install
	$(CITYWATCH) stack up --services

## down: stop everything `make up` started (state stays in .run/)
down: $(STAMP)
	$(CITYWATCH) stack down

status: $(STAMP)
	$(CITYWATCH) stack status

## test: the whole suite — linters, type checks, config checks, unit and integration tests on real servers
test: install lint typecheck configcheck
	$(BIN)/pytest -p no:cacheprovider --durations=15

## check: the fast target for day-to-day work — linters, type checks and unit tests, no servers
check: $(STAMP) lint typecheck
	$(BIN)/pytest -m "not integration" -q

## bench: the benchmark suite on the real test stack — worker on single-reading records and on gateway-shaped feed batches, each beside an empty faust agent and a bare loop; gateway, ingest→alert latency, worker memory, one vs two workers (prints tables, writes bench-results/*.json)
bench: install
	$(CITYWATCH) bench worker --shape single --out bench-results/worker.json
	$(CITYWATCH) bench worker --shape batch --out bench-results/worker-batch.json
	$(CITYWATCH) bench all

## lint: ruff, and the import contracts (pyproject.toml's [tool.importlinter]: which layer may import which)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

## configcheck: the shipped Prometheus and Alertmanager configs, checked by their own tools
configcheck: install
	$(BIN)/python -m tools.devstack.configcheck

integration: install
	$(BIN)/pytest -m integration

## faults: the fault-injection tests alone (SIGKILLed worker, Kafka or Redis down, malformed floods, auth matrix); docs/faults.md
faults: install
	$(BIN)/pytest -m faults -p no:cacheprovider --durations=10

install: $(STAMP)
	$(CITYWATCH) stack install

venv: $(STAMP)

# The locked versions, each checked against its hash; then citywatch itself, editable, adding nothing.
$(STAMP): pyproject.toml requirements/dev.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements/dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

## lock: write requirements/*.lock again from pyproject.toml (keeps each locked version that still fits; `make lock UPGRADE=--upgrade` takes the newest)
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements/service.lock

clean: down
	rm -rf .run
