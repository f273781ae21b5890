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

# The seed story, end to end on the built-in mocked world: today's bug and the fix side by side.
demo: install
	$(BIN)/pairsim reproduce password-change --profile legacy
	$(BIN)/pairsim reproduce password-change --profile fixed

lint: install
	$(BIN)/ruff check .

# pytest exits 5 when it collected nothing; say so loudly instead of failing or passing quietly.
test: lint
	@scripts/ensure-system-deps
	@mkdir -p reports
	$(BIN)/pytest -n $(WORKERS) \
		--junitxml=reports/junit.xml \
		--alluredir=reports/allure-results --clean-alluredir \
		--cucumberjson=reports/cucumber.json \
		$(PYTEST_ARGS); \
	rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pairsim: pytest collected no tests (exit 5); nothing was verified" >&2; exit 0; fi; \
	exit $$rc

# HTML report with Allure 3 from npm (Node only, no Java).
report:
	@test -d reports/allure-results || { echo "pairsim: no reports/allure-results; run make test first" >&2; exit 1; }
	npx --yes allure@3 generate reports/allure-results -o reports/allure-report
	@echo "pairsim: open it with: npx --yes allure@3 open reports/allure-report"

clean:
	rm -rf $(VENV) reports/allure-results reports/allure-report reports/reproduce reports/*.json reports/*.xml \
		.pytest_cache .hypothesis
