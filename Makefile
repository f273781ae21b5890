# Two entry points do all set-up on a fresh clone: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
WORKERS ?= 2

.PHONY: install real-daemon demo test lint report clean compat

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; assert sys.version_info >= (3, 11), "pairsim needs Python 3.11 or newer"'
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

# The real Codex daemon, pinned in tools/real-daemon/package.json, installed project-locally with npm.
real-daemon:
	@scripts/install-real-daemon

# The seed story, end to end on the built-in mocked world: today's bug and the fix side by side.
demo: install
	$(BIN)/pairsim reproduce password-change --profile legacy
	$(BIN)/pairsim reproduce password-change --profile fixed

lint: install
	$(BIN)/ruff check .

# Two pytest runs, each narrowed (never redefined) by PYTEST_ARGS; README "make test" says what each selects: every
# test on the mock daemon, then the daemon-facing tests on the real one (`--daemon codex` selects them). Both always
# run; scripts/test-verdict then fails if either failed, or if neither selected a test (pytest's exit 5).
# Both runs note every secret their tests issued in a canary file outside reports/ (a private temporary folder,
# deleted at the end); the scan then fails the target if any file under reports/ holds one of them or a token.
test: lint real-daemon
	@scripts/ensure-system-deps
	@mkdir -p reports
	canary=$$(mktemp -d) || exit 1; trap 'rm -rf "$$canary"' EXIT; export PAIRSIM_SECRET_CANARY="$$canary/secrets.jsonl"; \
	mock=0 codex=0 scan=0; \
	$(BIN)/pytest -n $(WORKERS) --daemon mock \
		--junitxml=reports/junit.xml --cucumberjson=reports/cucumber.json \
		--alluredir=reports/allure-results --clean-alluredir $(PYTEST_ARGS) || mock=$$?; \
	$(BIN)/pytest -n $(WORKERS) --daemon codex \
		--junitxml=reports/junit-codex.xml --cucumberjson=reports/cucumber-codex.json \
		--alluredir=reports/allure-results $(PYTEST_ARGS) || codex=$$?; \
	$(BIN)/python -m simulators.report_scan --canary "$$PAIRSIM_SECRET_CANARY" reports || scan=$$?; \
	scripts/test-verdict mock=$$mock codex=$$codex && [ $$scan -eq 0 ]

# The drift report (issue 13): the daemon-facing tests against each Codex version in COMPAT_VERSIONS, one version at
# a time, then against the mock; the table goes to reports/compat.md and .json and into reports/allure-results.
# `pin` is tools/real-daemon's version and `latest` the npm registry's latest tag. Not part of `make test`.
COMPAT_VERSIONS ?= pin,latest
compat: install real-daemon
	$(BIN)/pairsim compat --versions $(COMPAT_VERSIONS) --workers $(WORKERS)

# HTML report with Allure 3 from npm (Node only, no Java).
report:
	@test -d reports/allure-results || { echo "pairsim: no reports/allure-results; run make test first" >&2; exit 1; }
	npx --yes allure@3 generate reports/allure-results -o reports/allure-report
	@echo "pairsim: open it with: npx --yes allure@3 open reports/allure-report"

clean:
	rm -rf $(VENV) reports/allure-results reports/allure-report reports/reproduce reports/*.json reports/*.xml \
		reports/compat.md reports/compat-runs \
		.pytest_cache .hypothesis
