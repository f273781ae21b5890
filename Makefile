# Two entry points do all set-up on a fresh clone: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
WORKERS ?= 2

.PHONY: install real-daemon demo test lint report clean

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

# Every test against the mock daemon, then the daemon-facing scenarios (@daemon) against the real Codex daemon.
# pytest exits 5 when it collected nothing; say so loudly instead of failing or passing quietly.
# Both runs note every secret their tests issued in a canary file outside reports/ (a private temporary folder,
# deleted at the end); the scan then fails the target if any file under reports/ holds one of them or a token.
test: lint real-daemon
	@scripts/ensure-system-deps
	@mkdir -p reports
	canary=$$(mktemp -d) || exit 1; trap 'rm -rf "$$canary"' EXIT; export PAIRSIM_SECRET_CANARY="$$canary/secrets.jsonl"; \
	$(BIN)/pytest -n $(WORKERS) \
		--junitxml=reports/junit.xml \
		--alluredir=reports/allure-results --clean-alluredir \
		--cucumberjson=reports/cucumber.json \
		$(PYTEST_ARGS); \
	rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pairsim: pytest collected no tests (exit 5); nothing was verified" >&2; rc=0; fi; \
	$(BIN)/pytest -n $(WORKERS) -m daemon --daemon codex \
		--junitxml=reports/junit-codex.xml \
		--alluredir=reports/allure-results \
		--cucumberjson=reports/cucumber-codex.json \
		$(PYTEST_ARGS); \
	rc_codex=$$?; \
	if [ $$rc_codex -eq 5 ]; then echo "pairsim: no @daemon scenario ran against the real daemon (exit 5)" >&2; rc_codex=1; fi; \
	$(BIN)/python -m simulators.report_scan --canary "$$PAIRSIM_SECRET_CANARY" reports; rc_scan=$$?; \
	[ $$rc -eq 0 ] && [ $$rc_codex -eq 0 ] && [ $$rc_scan -eq 0 ]

# HTML report with Allure 3 from npm (Node only, no Java).
report:
	@test -d reports/allure-results || { echo "pairsim: no reports/allure-results; run make test first" >&2; exit 1; }
	npx --yes allure@3 generate reports/allure-results -o reports/allure-report
	@echo "pairsim: open it with: npx --yes allure@3 open reports/allure-report"

clean:
	rm -rf $(VENV) reports/allure-results reports/allure-report reports/reproduce reports/*.json reports/*.xml \
		.pytest_cache .hypothesis
