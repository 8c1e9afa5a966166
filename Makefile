# The mixup theory book. `make book` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PYTHONHASHSEED := 0
NOTEBOOKS := $(shell find notebooks -name '[0-9]*.ipynb' | sort)
MATHJAX := _static/mathjax/tex-svg.js

.PHONY: setup book test test-lib test-notebooks test-book execute sweep bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -e .
	touch $@

$(MATHJAX): $(VENV)/.installed
	mkdir -p _static/mathjax
	cp -r $$($(BIN)/python -c "import pathlib, mathjax; print(pathlib.Path(mathjax.__file__).parent / 'static/mathjax/es5')")/. _static/mathjax/

book: setup $(MATHJAX)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html in a browser."

test: test-lib test-notebooks test-book

test-lib: setup
	$(BIN)/pytest tests/

test-notebooks: setup
	$(BIN)/pytest --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider $(NOTEBOOKS)

test-book: setup $(MATHJAX)
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@for page in book/status book/scale/02_paper_tables; do \
	  grep -q '<table' _build/html/$$page.html || { echo "$$page.html: its generated table did not render"; exit 1; }; done

# Re-execute every notebook in place at book scale (stores outputs and execution metadata), then sync the .md twins.
execute: setup
	for nb in $(NOTEBOOKS); do $(BIN)/papermill --cwd $$(dirname $$nb) $$nb $$nb || exit 1; done
	$(BIN)/jupytext --sync $(NOTEBOOKS)

# make sweep SPEC=experiments/zhang2021_fig1.yaml [DEVICES=0,1]
sweep: setup
	$(BIN)/python -m mixupbook.sweep $(SPEC) $(if $(DEVICES),--devices $(DEVICES))

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf _build _static/mathjax
