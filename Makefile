# Two entry points do all set-up on a fresh clone: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
WORKERS ?= 2

.PHONY: install demo test lint report clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; assert sys.version_info >= (3, 11), "pairsim needs Python 3.11 or newer"'
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/pairsim demo

lint: install
	$(BIN)/ruff check .

# pytest exits 5 when it collected nothing; say so loudly instead of failing or passing quietly.
test: lint
	@mkdir -p reports
	$(BIN)/pytest -n $(WORKERS) \
		--junitxml=reports/junit.xml \
		--alluredir=reports/allure-results --clean-alluredir \
		$(PYTEST_ARGS); \
	rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pairsim: pytest collected no tests (exit 5); nothing was verified" >&2; exit 0; fi; \
	exit $$rc

clean:
	rm -rf $(VENV) reports/allure-results reports/*.json reports/*.xml .pytest_cache .hypothesis
