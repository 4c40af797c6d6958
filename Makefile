# bmstats: make install / test / report / bench
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install test test-slow test-all lint typecheck docs report bench bench-record coverage reference clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

test-slow: $(STAMP)
	$(PY) -m pytest -n 2 -q -m slow

test-all: $(STAMP)
	$(PY) -m pytest -n 2 -q -m ''

typecheck: $(STAMP)
	$(VENV)/bin/mypy

lint: $(STAMP)
	$(VENV)/bin/ruff check bmstats tests benchmarks

# HTML API reference from the docstrings (Sphinx + numpydoc); warnings are errors
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs/reference docs/_build/html

report: $(STAMP)
	$(PY) -m bmstats.cli report-all analyses -o reports

bench: $(STAMP)
	$(PY) benchmarks/run.py

# the 100,000,000-row record of issue 12 (minutes; needs /tmp/bmstats_registry_100000000.parquet or writes it)
bench-record: $(STAMP)
	BMSTATS_BENCH_RECORD=only $(PY) benchmarks/run.py --only "from Parquet" --output benchmarks/results/record.md

# simulation study: coverage of 95% intervals over replicate synthetic cohorts (slow; not part of make test)
coverage: $(STAMP)
	$(PY) benchmarks/coverage_study.py

# needs R with survival, cmprsk, mets (Debian: r-base-core r-cran-survival r-cran-cmprsk r-cran-mets)
reference:
	cd tests/reference && Rscript make_reference.R

clean:
	rm -rf $(VENV) build *.egg-info reports/*/
