# Tether's two commands: `make demo` and `make test`. Both set up everything they need on a fresh
# machine: the virtual environment (.venv), Python dependencies, and the local cluster's Kubernetes
# binaries (built from Go modules into ${XDG_CACHE_HOME:-~/.cache}/tether/kube, outside the repo).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Playwright drives Debian's chromium (make browser); it never downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: help venv lock kube az azure-ai-ml browser azurite registry demo serve test test-postgres lint typecheck layers unit integration cluster e2e bench clean

help:
	@echo "make demo    - set up, then run the main scenario on the embedded default and exit"
	@echo "make test    - set up, then run lint, type checks, layer contracts and every test"
	@echo "make serve   - run a server in .tether-data until Ctrl-C"
	@echo "make bench   - run the benchmarks in bench/: figures to bench/results/, chart and README table"
	@echo "make test-postgres - the integration tests on PostgreSQL (installs Debian's postgresql if missing)"
	@echo "make lock    - re-resolve requirements.lock after changing pyproject.toml's dependencies"
	@echo "make kube    - build the local cluster's binaries (no-op when cached)"

# Python dependencies are locked (requirements.lock, with hashes): a fresh clone installs exactly what CI
# tested. uv installs them (decision 0015); it comes from PyPI into the cache, pinned, outside the repo.
UV_VERSION := 0.13.9
UV_HOME    := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tether/uv/$(UV_VERSION)
UV         := $(UV_HOME)/bin/uv
export UV_PYTHON_DOWNLOADS := never

$(UV):
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install -q uv==$(UV_VERSION)

$(STAMP): pyproject.toml requirements.lock | $(UV)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(UV) pip install -q --python $(BIN)/python --require-hashes -r requirements.lock
	$(UV) pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# Re-resolve the lock after changing pyproject.toml's dependencies (newest versions that satisfy them).
lock: | $(UV)
	$(UV) pip compile pyproject.toml --all-extras --python-version 3.11 --generate-hashes --no-annotate \
	  --custom-compile-command "make lock" -o requirements.lock

venv: $(STAMP)

# The real node (kubelet, containerd, runc, CNI loopback) and its locally built images come with it.
kube: venv
	@tools/kube/build.sh >/dev/null
	@tools/kube/build_node.sh >/dev/null
	@PYTHON=$(BIN)/python tools/images/build.sh >/dev/null

# The unmodified azure-cli for the az e2e tier, in its own venv under ~/.cache/tether/az/<version>.
az:
	@tools/az.sh >/dev/null

# The unmodified azure-ai-ml for the SDK job-loop e2e test, in its own venv under ~/.cache/tether/azure-ai-ml/<version>.
azure-ai-ml:
	@tools/azure-ai-ml.sh >/dev/null

# Debian's chromium, for the Studio's browser tests (tests/cluster/test_studio_browser.py).
browser:
	@command -v chromium >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# Azurite (the blob engine behind Tether's blob endpoint), pinned, from npm into ~/.cache/tether/azurite.
azurite:
	@tools/azurite/install.sh >/dev/null

# The registry behind each container registry (Debian's docker-registry, CNCF Distribution 2.8) and skopeo.
registry:
	@tools/registry/install.sh >/dev/null

demo: venv kube azurite registry
	$(BIN)/tether demo

serve: venv azurite registry
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

integration: venv azurite registry
	$(BIN)/pytest tests/integration -q

cluster: venv kube browser azurite registry
	$(BIN)/pytest tests/cluster -q

e2e: venv kube az azurite registry
	$(BIN)/pytest tests/e2e -q

# pytest exits 5 when it collects no tests: that fails the target, as any other failure does.
# Every tier on SQLite (tests/cluster/test_two_servers.py starts a PostgreSQL of its own), then the
# integration tier again on PostgreSQL.
test: venv kube az azure-ai-ml browser azurite registry lint typecheck layers
	$(BIN)/pytest -q
	@$(MAKE) --no-print-directory test-postgres

# The integration tests on PostgreSQL: Debian's package (installed if missing), a throwaway cluster on a
# free loopback port, stopped however the tests end.
test-postgres: venv registry
	@dir=$$(mktemp -d $${TMPDIR:-/tmp}/tether-postgres.XXXXXX) && chmod 755 $$dir; \
	  port=$$($(BIN)/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	  trap 'tools/postgres.sh stop $$dir/cluster || true; rm -rf $$dir' EXIT INT TERM; \
	  url=$$(tools/postgres.sh start $$dir/cluster $$port) || exit 1; \
	  started=$$(date +%s); \
	  TETHER_TEST_POSTGRES_URL=$$url $(BIN)/pytest tests/integration -q; status=$$?; \
	  echo "[test-postgres] the integration tier on PostgreSQL took $$(( $$(date +%s) - started )) s"; \
	  exit $$status

# Each benchmark appends its figures to one result file (JSON); bench/report.py then draws the chart and
# regenerates the README's figures table from it. matplotlib comes with the `bench` extra (in the lock).
BENCH_RESULTS ?= bench/results/latest.json

bench: venv kube azurite registry
	rm -f $(BENCH_RESULTS)
	$(BIN)/python bench/api.py --json-out $(BENCH_RESULTS)
	$(BIN)/python bench/authz.py --json-out $(BENCH_RESULTS)
	$(BIN)/python bench/relay.py --json-out $(BENCH_RESULTS)
	$(BIN)/python bench/attach.py --json-out $(BENCH_RESULTS)
	$(BIN)/python bench/dispatch.py --json-out $(BENCH_RESULTS)
	$(BIN)/python bench/studio.py --json-out $(BENCH_RESULTS)
	$(BIN)/python bench/dispatch_real.py --json-out $(BENCH_RESULTS)
	$(BIN)/python bench/blob.py --json-out $(BENCH_RESULTS)
	$(BIN)/python bench/registry.py --json-out $(BENCH_RESULTS)
	$(BIN)/python bench/report.py $(BENCH_RESULTS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .tether-data
