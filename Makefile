# Set-up and the two commands of the README: `make book` and `make test`.
# On a GPU machine choose the torch build, e.g. `make book TORCH="torch==2.5.1"`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
SCRATCH := $(CURDIR)/.scratch
MATHJAX := book/_assets/mathjax
# Runs made by the tests and the book build are recorded here, not in data/results.
export COMPANION_RESULTS_DIR := $(SCRATCH)/results

.PHONY: install book test mathjax clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[book,test,cluster]"
	touch $@

# MathJax is copied into the site from the npm package, so math renders with no internet.
mathjax: $(MATHJAX)/tex-chtml.js

$(MATHJAX)/tex-chtml.js:
	npm install --silent --no-audit --no-fund --prefix $(SCRATCH)/npm mathjax@3
	mkdir -p $(MATHJAX)
	cp -r $(SCRATCH)/npm/node_modules/mathjax/es5/. $(MATHJAX)/

book: install mathjax
	$(BIN)/jupyter-book build book/ -W -n --keep-going

test: install mathjax
	$(BIN)/pytest --nbval

clean:
	rm -rf book/_build $(SCRATCH) $(MATHJAX)
