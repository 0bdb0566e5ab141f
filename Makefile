# ionlink: `make demo` and `make test` do all set-up on a fresh machine with Python 3.11 and pip.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VPY) -m sim demo

test: $(STAMP)
	$(VPY) -m pytest tests

bench: $(STAMP)
	$(VPY) benchmarks/kernel_throughput.py
	$(VPY) benchmarks/link_realtime.py
	$(VPY) benchmarks/attempt_rate.py
	$(VPY) benchmarks/analysis_throughput.py

clean:
	rm -rf $(VENV) results dataset_db.mdb dataset_db.mdb-lock last_rid.pyon sim_state
