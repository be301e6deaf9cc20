# Kefu — `make run` serves the app with demo data; `make test` runs every test on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app run
DEMO_PASSWORD ?= kefu-demo-2026
export KEFU_INSTANCE ?= $(CURDIR)/instance

.PHONY: install fonts translations run test test-sqlite test-postgresql bench lint extract-messages

$(BIN)/activate:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Kefu needs Python 3.11"' \
	  || (echo "Python 3.11 is required"; exit 1)
	@$(PYTHON) -m venv $(VENV) || (echo "Cannot create a virtual environment: apt-get install python3-venv"; exit 1)

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed fonts

# Printed forms embed a Chinese TrueType font (reports/base.py): Debian's fonts-wqy-microhei.
FONT_FILE := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
fonts:
	@if [ -z "$$KEFU_CJK_FONT" ] && [ ! -f $(FONT_FILE) ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq fonts-wqy-microhei >/dev/null || (apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei >/dev/null); \
	  else echo "WARNING: printing needs a Chinese font: sudo apt-get install fonts-wqy-microhei (or set KEFU_CJK_FONT)"; fi; \
	fi

translations: install
	$(BIN)/pybabel compile --use-fuzzy -f -d app/translations -D messages

extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -o app/translations/messages.pot .
	$(BIN)/pybabel update -N -i app/translations/messages.pot -d app/translations -l zh

run: translations
	$(FLASK) db upgrade
	$(FLASK) roles sync
	$(FLASK) demo load --password '$(DEMO_PASSWORD)'
	@echo ""
	@echo "  Kefu is served at http://127.0.0.1:5000"
	@echo "  Logins (password: $(DEMO_PASSWORD)): admin, cs_staff, cs_manager, eng_staff, pm_staff, archivist, gm, auditor"
	@echo ""
	$(FLASK) run --host 127.0.0.1 --port 5000

# The two databases' runs go side by side (one per core; each run's output is shown whole when it ends).
# Each run needs the compiled translations: one make compiles them once, before either run starts.
test:
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgresql

test-sqlite: translations
	KEFU_TEST_DB=sqlite $(BIN)/pytest -q -p no:randomly --output=test-artifacts/sqlite

test-postgresql: translations
	KEFU_TEST_DB=postgresql $(BIN)/pytest -q -p no:randomly --output=test-artifacts/postgresql

bench: translations
	$(BIN)/python -m bench.run

lint: install
	$(BIN)/ruff check .
