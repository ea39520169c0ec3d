# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONFIG ?= gateway.toml

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Start the gateway with the development configuration (SQLite, local outbox in var/outbox).
run: $(STAMP)
	$(BIN)/asiointitili --config $(CONFIG) init
	$(BIN)/asiointitili --config $(CONFIG) serve

## Run the whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

## Benchmarks (never part of the tests): throughput and latency against a bare aiosmtpd sink,
## OpenPGP ingest against bare gpg, DKIM signing against stock dkimpy, and the outbound
## queue's delivery rate and latency.
bench: $(STAMP)
	$(BIN)/python -m bench.smtp_throughput
	$(BIN)/python -m bench.pgp_throughput
	$(BIN)/python -m bench.dkim_signing
	$(BIN)/python -m bench.outbound

clean:
	rm -rf $(VENV) var .pytest_cache
