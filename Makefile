# citywatch: the two README commands are `make up` and `make test`.
# Everything installs itself: Python venv, Debian packages (redis, prometheus, alertmanager), Kafka jars.

PY        ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
CITYWATCH := $(BIN)/citywatch
STAMP     := $(VENV)/.installed

.PHONY: up down status test check bench lint typecheck unit integration faults configcheck install venv clean

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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## configcheck: the shipped Prometheus and Alertmanager configs, checked by their own tools
configcheck: install
	$(BIN)/python -m citywatch.devstack.configcheck

integration: install
	$(BIN)/pytest -m integration

## faults: the fault-injection tests alone (SIGKILLed worker, Kafka or Redis down, malformed floods, auth matrix); docs/faults.md
faults: install
	$(BIN)/pytest -m faults -p no:cacheprovider --durations=10

install: $(STAMP)
	$(CITYWATCH) stack install

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

clean: down
	rm -rf .run
