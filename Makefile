# Everyday verbs. Each target sets up what it needs first (scripts/setup.sh is idempotent).
BIN := .venv/bin

.PHONY: setup demo prove test test-fast lint docs format generate check bench pictures

setup:
	@scripts/setup.sh

demo: setup  ## the main job: the live loop on the bundled definitions, until Ctrl-C
	@$(BIN)/sloguard demo

prove: setup  ## generate the rules and prove every SLO's alerting with promtool scenarios
	@$(BIN)/sloguard prove

test: setup lint docs  ## everything CI runs
	$(BIN)/pytest -m unit --cov --cov-report=term
	$(BIN)/pytest -m integration

test-fast: setup  ## the unit tests (no process started), with the pure core's coverage floor
	$(BIN)/pytest -m unit --cov --cov-report=term

lint: setup
	$(BIN)/ruff check agent tests bench scripts
	$(BIN)/ruff format --check agent tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

docs: setup  ## build the documentation site (docs/, mkdocs.yml) strictly: a broken link fails
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir .site

format: setup
	$(BIN)/ruff format agent tests bench scripts
	$(BIN)/ruff check --fix agent tests bench scripts

generate: setup  ## rewrite alert-rules/, dashboards/, the Alertmanager routing, the JSON Schema, the configuration reference and the OpenAPI document
	$(BIN)/sloguard generate --alertmanager-out alertmanager/routing.yml
	$(BIN)/sloguard schema --out slo-definitions/sloguard.schema.json
	$(BIN)/python -m sloguard.cli.reference configuration > docs/configuration.md.tmp
	mv docs/configuration.md.tmp docs/configuration.md
	$(BIN)/python -m sloguard.cli.reference openapi > docs/openapi.json.tmp
	mv docs/openapi.json.tmp docs/openapi.json

pictures: setup  ## take the docs' screenshots again (console, actions, notification email, report) in Chromium
	SLOGUARD_UPDATE_PICTURES=1 $(BIN)/pytest -m integration tests/test_console_browser.py tests/actions/test_end_to_end.py tests/routing/test_end_to_end.py \
		"tests/test_report_prometheus.py::test_the_report_in_a_browser_draws_every_chart_with_its_data"

check: setup  ## fail when committed generated files are stale
	$(BIN)/sloguard check

bench: setup
	$(BIN)/python -m bench.run
