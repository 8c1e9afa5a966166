# The mixup theory book. `make book` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PYTHONHASHSEED := 0
NOTEBOOKS := $(shell find notebooks -name '[0-9]*.ipynb' | sort)
MATHJAX := _static/mathjax/.copied
# The MathJax components the book's loader can request (mathjax3_config in _config.yml): startup and core,
# TeX input with its extensions (loaded on demand by \require and autoload), SVG output with its
# font, hidden MathML for screen readers. Copying these, not the whole es5 tree (24 MB: CHTML fonts,
# the speech engine, other combined components), keeps the built site small; a component the
# loader asks for and does not find is a console error in tools/browser_check.py.
MATHJAX_FILES := startup.js core.js input/tex.js input/tex output/svg.js output/svg a11y/assistive-mml.js

# Every target that writes or compares stored notebook outputs runs under one CPU kernel set.
# PyTorch's ATen, oneDNN and MKL (and numpy's OpenBLAS) pick kernels by instruction set; AVX-512
# kernels sum in another order than AVX2 ones, the last bits move, and a few epochs of training turn
# that into other printed digits. `make execute` writes the stored outputs under this pin (AVX2, one
# thread). Pinning instruction sets does not make float training bit-identical across CPUs (kernel
# libraries also block by cache size: an Intel CPU with AMX printed other digits under this pin), so
# `make test` compares outputs by the stated rule of mixupbook.compare (text identical apart from
# numbers, numbers within a tolerance, claim verdicts exactly) and `make test-exact` compares every
# digit, which holds under the pin on the machine that stored the outputs. To try other kernel sets:
# `make test-code PIN=` (none) or `make test-code PIN="ATEN_CPU_CAPABILITY=default MKL_CBWR=SSE4_2
# ONEDNN_MAX_CPU_ISA=SSE41 OMP_NUM_THREADS=1"`. The values are mixupbook.notebook.PINNED_KERNELS
# (a test keeps the two equal).
THREADS := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
ifeq ($(shell uname -m),x86_64)
PIN := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2 OPENBLAS_CORETYPE=Haswell $(THREADS)
else
PIN := $(THREADS)
endif
# nbval over the notebooks; -p mixupbook.compare makes its comparison the tolerant rule.
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
COMPARE := -p mixupbook.compare
# One pytest worker per core, single-threaded; a notebook (its cells share a kernel) or a test file
# stays on one worker.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
XDIST := -n $(JOBS) --dist loadfile

.PHONY: setup book test test-code test-lib test-notebooks test-exact test-book test-site execute audit-seeds sweep bench clean browser test-browser pdf

setup: $(VENV)/.installed browser

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -e .
	touch $@

$(MATHJAX): $(VENV)/.installed
	rm -rf _static/mathjax _build/html/_static/mathjax && mkdir -p _static/mathjax
	cd $$($(BIN)/python -c "import pathlib, mathjax; print(pathlib.Path(mathjax.__file__).parent / 'static/mathjax/es5')") && \
	  cp -r --parents $(MATHJAX_FILES) $(CURDIR)/_static/mathjax/
	touch $@

book: setup $(MATHJAX)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Open $(CURDIR)/_build/html/index.html in a browser."

# Library tests beside the book build and its browser check, then the notebooks (each a target of
# its own, logs kept whole by -O; both steps run even when the first fails). Two steps, not all at once:
# each pytest run has a worker per core, and four workers and a browser on two cores spent 20% more
# CPU time than the parts alone (1,980 s against about 1,600 s, measured on 2 cores).
test: setup $(MATHJAX)
	@status=0; $(MAKE) -j2 -O test-lib test-site || status=1; $(MAKE) test-notebooks || status=1; exit $$status

test-site: test-book
	$(BIN)/python tools/browser_check.py _build/html

# Library tests, then every notebook (re-executed, outputs compared by the rule). The library tests
# run unpinned: the pin is for stored outputs, and on some CPUs oneDNN aborts bf16 training
# (tests/test_fast_path.py) when held to AVX2.
test-code: setup
	@status=0; $(MAKE) test-lib || status=1; $(MAKE) test-notebooks || status=1; exit $$status

test-lib: setup
	$(BIN)/pytest $(XDIST) tests/

test-notebooks: setup
	env $(PIN) $(BIN)/pytest $(XDIST) $(NBVAL) $(COMPARE) -p no:cacheprovider $(NOTEBOOKS)

# Every stored digit: holds under the pin on the machine that wrote the outputs (x86-64).
test-exact: setup
	env $(PIN) $(BIN)/pytest $(XDIST) $(NBVAL) -p no:cacheprovider $(NOTEBOOKS)

test-book: setup $(MATHJAX)
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@for page in book/status book/scale/02_paper_tables; do \
	  grep -q '<table' _build/html/$$page.html || { echo "$$page.html: its generated table did not render"; exit 1; }; done
	$(BIN)/python -m mixupbook.claims _build/html/claims.json

# Re-execute every notebook in place at book scale (stores outputs and execution metadata), then sync the .md twins.
execute: setup
	for nb in $(NOTEBOOKS); do env $(PIN) $(BIN)/papermill --cwd $$(dirname $$nb) $$nb $$nb || exit 1; done
	$(BIN)/jupytext --sync $(NOTEBOOKS)

# Re-run every notebook whose claims rest on training or sampling at seeds 100, 200 and one fresh seed
# drawn from the commit and the date (AUDIT="--fresh 2" for more); writes results/audit/.
# make audit-seeds [AUDIT="--chapters kimura2021"] [AUDIT="--stale-only"] [AUDIT="--notebooks notebooks/x/y.ipynb"]
audit-seeds: setup
	env $(PIN) $(BIN)/python -m mixupbook.audit $(AUDIT)

# make sweep SPEC=experiments/zhang2021_fig1.yaml [DEVICES=0,1]
sweep: setup
	$(BIN)/python -m mixupbook.sweep $(SPEC) $(if $(DEVICES),--devices $(DEVICES))

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf _build _static/mathjax

# Headless Chromium for test-browser and pdf: Debian's package, driven by Playwright (pinned in
# pyproject.toml) through executable_path; Playwright's own browser download is never used.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; } || \
	  echo "no chromium: make test-browser and make pdf need it (as root: apt-get install chromium)"

# Every page of the built book in a real browser, scroll bars shown: console errors, math typeset,
# widths at 1280 px (code, outputs, tables, equations, inline formulas), a fresh load at 420 px
# (sideways scroll, tables' first column, equations that scroll, previous/next links), favicon,
# images, page weight (at most 3 MB of HTML, scripts, styles, fonts and search index), search
# ranking and snippets without TeX (tools/browser_check.py).
test-browser: book
	$(BIN)/python tools/browser_check.py _build/html

# The whole book as one PDF, offline: the single-page HTML build printed by Chromium after MathJax,
# with a title page and contents; fails if anything runs past the page edge (tools/print_pdf.py).
pdf: setup $(MATHJAX)
	$(BIN)/jupyter-book build . --builder singlehtml --warningiserror --keep-going
	$(BIN)/python tools/print_pdf.py _build/singlehtml _build/pdf/book.pdf
