# Tether's two commands: `make demo` and `make test`. Both set up everything they need on a fresh
# machine: the virtual environment (.venv), Python dependencies, and the local cluster's Kubernetes
# binaries (built from Go modules into ${XDG_CACHE_HOME:-~/.cache}/tether/kube, outside the repo).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv kube demo serve test test-postgres lint typecheck layers unit integration cluster e2e bench clean

help:
	@echo "make demo    - set up, then run the main scenario on the embedded default and exit"
	@echo "make test    - set up, then run lint, type checks, layer contracts and every test"
	@echo "make serve   - run a server in .tether-data until Ctrl-C"
	@echo "make bench   - run the benchmarks in bench/ (prints figures)"
	@echo "make test-postgres - the integration tests on PostgreSQL (installs Debian's postgresql if missing)"
	@echo "make kube    - build the local cluster's binaries (no-op when cached)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,postgres]'
	touch $(STAMP)

venv: $(STAMP)

# The real node (kubelet, containerd, runc, CNI loopback) and its locally built images come with it.
kube: venv
	@tools/kube/build.sh >/dev/null
	@tools/kube/build_node.sh >/dev/null
	@PYTHON=$(BIN)/python tools/images/build.sh >/dev/null

demo: venv kube
	$(BIN)/tether demo

serve: venv
	$(BIN)/tether server --data-dir .tether-data

lint: venv
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

typecheck: venv
	$(BIN)/mypy

layers: venv
	$(BIN)/lint-imports

unit: venv
	$(BIN)/pytest tests/unit -q

integration: venv
	$(BIN)/pytest tests/integration -q

cluster: venv kube
	$(BIN)/pytest tests/cluster -q

e2e: venv kube
	$(BIN)/pytest tests/e2e -q

test: venv kube lint typecheck layers
	$(BIN)/pytest -q || [ $$? -eq 5 ]

# The integration tests again on PostgreSQL (Debian's package, a throwaway cluster on port 54329).
test-postgres: venv
	@url=$$(tools/postgres.sh start $${TMPDIR:-/tmp}/tether-postgres 54329) && \
	  TETHER_TEST_POSTGRES_URL=$$url $(BIN)/pytest tests/integration -q; status=$$?; \
	  tools/postgres.sh stop $${TMPDIR:-/tmp}/tether-postgres; exit $$status

bench: venv kube
	$(BIN)/python bench/api.py
	$(BIN)/python bench/authz.py
	$(BIN)/python bench/relay.py
	$(BIN)/python bench/attach.py
	$(BIN)/python bench/dispatch.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .tether-data
