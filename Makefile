# The two commands of the Quickstart: `make run` and `make test`.
# Each creates the virtual environment on first use (torch's CPU build first,
# so the project's torch range is already satisfied) and installs the project.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest worker processes (pytest-xdist); each has its own PostgreSQL database and temp dirs.
PYTEST_WORKERS ?= 2

.PHONY: run test protos protos-check clean

$(STAMP): pyproject.toml requirements/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c requirements/constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/warmstart quickstart

test: $(STAMP) protos-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Generated gRPC code is committed; these regenerate it and check it is current.
# Compiled through the warmstart/protos link, so the generated imports say warmstart.protos.
PROTO := warmstart/protos/warmstart/v1/warmstart.proto
GENERATED := warmstart_pb2.py warmstart_pb2.pyi warmstart_pb2_grpc.py warmstart_pb2_grpc.pyi
PROTOC := PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m grpc_tools.protoc -I .

protos: $(STAMP)
	$(PROTOC) --python_out=. --grpc_python_out=. --mypy_out=. --mypy_grpc_out=. $(PROTO)

protos-check: $(STAMP)
	rm -rf .protos-check && mkdir -p .protos-check
	$(PROTOC) --python_out=.protos-check --grpc_python_out=.protos-check \
		--mypy_out=.protos-check --mypy_grpc_out=.protos-check $(PROTO)
	@for f in $(GENERATED); do \
		diff -u protos/warmstart/v1/$$f .protos-check/warmstart/protos/warmstart/v1/$$f >/dev/null || { \
			echo "protos/warmstart/v1/$$f is not what $(PROTO) generates: run 'make protos'"; \
			rm -rf .protos-check; exit 1; }; \
	done
	rm -rf .protos-check
	@echo "generated gRPC code is current"

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
