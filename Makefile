# Two commands matter: `make run` and `make test`. Both set up .venv on a fresh machine first.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint bench format clean

$(PY):
	python3 -m venv $(VENV)

# Reinstall whenever the dependency declarations change. torch is pinned by constraints.txt.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(PIP) install --quiet -c constraints.txt -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
	$(PY) -c "import dupeless.core, torch; assert torch.__version__.startswith('2.13.0')"
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/dupeless serve

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
