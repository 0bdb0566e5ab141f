# ionlink: `make demo` and `make test` do all set-up on a fresh machine with Python 3.11 and pip.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check format bench clean artiq-suite

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VPY) -m sim demo

# The suite's modules spread over one worker a core (pytest-xdist), each module whole on one worker
# (its fixtures built once); PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= auto
test: check
	$(VPY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile tests

# One line per tool; any finding fails the target (after all three have run).
check: $(STAMP)
	@rc=0; \
	out=$$($(VPY) -m ruff check --quiet --output-format concise . 2>&1) && echo "ruff check: clean" \
	  || { rc=1; echo "ruff check: FAILED ($$(echo "$$out" | grep -c ':[0-9]*:[0-9]*:') findings)"; echo "$$out"; }; \
	out=$$($(VPY) -m ruff format --check --output-format concise . 2>&1) && echo "ruff format: clean" \
	  || { rc=1; echo "ruff format: FAILED ($$(echo "$$out" | grep -c 'unformatted:') files)"; echo "$$out"; }; \
	out=$$($(VPY) -m mypy 2>&1) && echo "mypy sim analysis: $$(echo "$$out" | tail -1)" \
	  || { rc=1; echo "mypy sim analysis: FAILED: $$(echo "$$out" | tail -1)"; echo "$$out"; }; \
	exit $$rc

# What the checks can fix by themselves: import order, then the formatter's layout.
format: $(STAMP)
	$(VPY) -m ruff check --quiet --select I --fix .
	$(VPY) -m ruff format --quiet .

bench: $(STAMP)
	$(VPY) benchmarks/kernel_throughput.py
	$(VPY) benchmarks/link_realtime.py
	$(VPY) benchmarks/attempt_rate.py
	$(VPY) benchmarks/analysis_throughput.py

# ARTIQ's own coredevice test files against the simulator, where ARTIQ 9 is installed (README,
# "ARTIQ's test suite against the simulator"); in a scratch directory, which holds the sim_state/.
ARTIQ_PYTHON ?= python
ARTIQ_SUITE := test_rtio test_edge_counter test_spi test_cache test_exceptions test_urukul test_ad9910
artiq-suite:
	cd $$(mktemp -d) && ARTIQ_ROOT=$(CURDIR)/sim/testbench PYTHONPATH=$(CURDIR) \
	  $(ARTIQ_PYTHON) -m unittest $(addprefix artiq.test.coredevice.,$(ARTIQ_SUITE))

clean:
	rm -rf $(VENV) results dataset_db.mdb dataset_db.mdb-lock last_rid.pyon sim_state
