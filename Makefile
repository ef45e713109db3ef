# Two commands on a fresh machine: `make run` and `make test`. Both set up first.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-stamp
PYTHON ?= python3
APT_PACKAGES := tesseract-ocr tesseract-ocr-ukr tesseract-ocr-rus tesseract-ocr-eng tesseract-ocr-osd \
                fonts-dejavu-core chromium postgresql poppler-utils
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-packages bytecode run test lint bench clean

setup: system-packages $(STAMP) bytecode

# Installs only what is missing, so a second run is quick.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

# The package's bytecode, written even where PYTHONDONTWRITEBYTECODE is set (it is on some
# machines and images): without it every `letters` process, and every worker, compiles ~60
# modules from source first (~0.05-0.1 s of CPU each). Only changed sources are compiled again.
bytecode: $(STAMP)
	@$(PY) -m compileall -q pipeline

run: setup
	$(VENV)/bin/letters run raw_letters --promises raw_letters/promises.csv --out processed
	@echo
	@echo "Review the suggestions in a browser:"
	@echo "  $(VENV)/bin/letters users add YOURNAME --role admin --db processed/letters.db"
	@echo "  $(VENV)/bin/letters review --db processed/letters.db   # then open http://127.0.0.1:8000"

test: setup
	$(VENV)/bin/ruff check pipeline tests
	$(VENV)/bin/pytest -q

bench: setup
	$(VENV)/bin/letters bench

clean:
	rm -rf processed/* $(VENV)
