# make lab  — open a working copy of the example notebooks (lab/, git-ignored) in JupyterLab (sandbox by default)
# make test — run the whole test suite (unit, sandbox over HTTP, widgets, notebooks, browser)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab lab-dir test lint format notebooks bench install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# as root (containers, CI machines) JupyterLab refuses to start without --allow-root
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

# the working copy: made on first run, topped up with new shipped notebooks, never overwriting your edits;
# so autosave never rewrites notebooks/ and scratch notebooks are never collected by `make test`
LAB_DIR ?= lab
PYTHON ?= $(BIN)/python

lab-dir:
	$(PYTHON) tools/lab_copy.py notebooks $(LAB_DIR)

lab: $(STAMP) lab-dir
	$(BIN)/python -m jupyterlab --notebook-dir=$(LAB_DIR) $(ALLOW_ROOT)

test: $(STAMP)
	$(BIN)/python -m ruff check asc_nb tests benchmarks tools
	$(BIN)/python -m ruff format --check asc_nb tests benchmarks tools
	$(BIN)/python -m pytest -q -p no:cacheprovider tests notebooks \
		--nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

# re-execute the example notebooks in place (after changing them or the library); commit the result
notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py

# the benchmark scripts (not part of `make test`): each prints ratios measured in one run
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_parse.py
	$(BIN)/python benchmarks/bench_fetch.py
	$(BIN)/python benchmarks/bench_rss.py
	$(BIN)/python benchmarks/bench_store.py
	$(BIN)/python benchmarks/bench_ledger.py
	$(BIN)/python benchmarks/bench_report.py
	$(BIN)/python benchmarks/bench_scale.py
	$(BIN)/python benchmarks/load.py

lint: $(STAMP)
	$(BIN)/python -m ruff check asc_nb tests benchmarks tools
	$(BIN)/python -m ruff format --check asc_nb tests benchmarks tools

# apply the formatter (CI checks it with `ruff format --check`)
format: $(STAMP)
	$(BIN)/python -m ruff format asc_nb tests benchmarks tools

clean:
	rm -rf $(VENV) .pytest_cache
