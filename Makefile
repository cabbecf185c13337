# The two set-up commands of the ALS book (see README.md):
#   make book   create .venv, install the pinned requirements, build the HTML into _build/html
#   make test   same set-up, then the whole suite: unit tests, nbval over every chapter (twice:
#               on the book's pinned CPU kernel path and on a second one), the strict book
#               build, and the headless-browser check of the built pages
# Also: make lab (JupyterLab on the chapters), make spark-job ARGS=... (Spark's ALS as a job),
# make execute NB=chapters/NN_x.ipynb
# (re-run one notebook top to bottom and save it), make clean.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && echo sudo)
JB_BUILD := $(BIN)/jupyter-book build . -W -n --keep-going
# The chapters' first cell pins CPU kernel paths with os.environ.setdefault (AVX2 kernels, MKL's
# AVX2 branch). nbval runs every chapter on that path, then again on this second one
# (unvectorised ATen kernels, MKL's SSE2 "COMPATIBLE" branch): a printed output must not depend
# on which (CONTRIBUTING.md, "Outputs that survive any machine").
PINNED_PATH := env -u ATEN_CPU_CAPABILITY -u MKL_CBWR
SECOND_PATH := env ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE

.PHONY: setup book book-strict test unit nbval-second-path browser-deps browser lab spark-job execute execute-all margins clean

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ is needed (found %s); set PYTHON=python3.11" % sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	@touch $(STAMP)

setup: $(STAMP)

book: setup
	$(JB_BUILD)
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

book-strict: setup
	rm -rf _build/html _build/.doctrees
	$(JB_BUILD)

# unit tests, book tests and nbval over every chapter, on the pinned kernel path
unit: setup
	$(PINNED_PATH) $(BIN)/python -m pytest

# nbval over every chapter again, on the second kernel path
nbval-second-path: setup
	$(SECOND_PATH) $(BIN)/python -m pytest chapters

# Debian's chromium for the browser check (Playwright drives it; it downloads no browser).
browser-deps:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  true; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Debian's chromium for the browser check"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; \
	else \
	  echo "NOTE: chromium cannot be installed here (no apt-get); the browser check will be skipped."; \
	fi

browser: setup browser-deps
	$(BIN)/python -m pytest tests/browser_check.py

# The two nbval passes run side by side (each kernel uses one thread); output is shown per pass.
test: setup
	$(MAKE) --no-print-directory -j2 --output-sync=target unit nbval-second-path
	$(MAKE) --no-print-directory book-strict browser
	@echo "make test: unit tests, nbval on two kernel paths, strict book build and browser check all passed."

# JupyterLab refuses to start as root ("Running as root is not recommended") unless told to:
# in a container a new user is often root. LAB_ARGS passes more options (e.g. --no-browser).
ALLOW_ROOT := $(shell [ "$$(id -u)" -eq 0 ] && echo --allow-root)
lab: setup
	$(BIN)/jupyter lab $(ALLOW_ROOT) $(LAB_ARGS) chapters

# Spark MLlib's ALS as a batch job (benchmarks/spark_als_job.py; README, "Spark")
MASTER ?= local[2]
spark-job: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" PYSPARK_PYTHON="$(CURDIR)/$(BIN)/python" SPARK_LOCAL_IP=$${SPARK_LOCAL_IP:-127.0.0.1} \
	  $(BIN)/spark-submit --master "$(MASTER)" benchmarks/spark_als_job.py $(ARGS)

# Re-execute a notebook top to bottom (working directory chapters/) and save it, with
# per-cell timing metadata cleared so diffs stay small.
execute: setup
	@test -n "$(NB)" || (echo "usage: make execute NB=chapters/01_the_ratings_matrix.ipynb"; exit 2)
	$(PINNED_PATH) $(BIN)/python tools/execute_notebook.py $(NB)

execute-all: setup
	$(PINNED_PATH) $(BIN)/python tools/execute_notebook.py chapters/[0-9]*.ipynb

# How much rounding margin each printed number has across kernel paths (slow; not part of make test)
margins: setup
	$(BIN)/python tools/output_margins.py $(or $(NB),chapters/[0-9]*.ipynb)

clean:
	rm -rf _build
