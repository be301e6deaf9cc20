# Kefu — `make run` serves the app with demo data; `make test` runs every test on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app run
DEMO_PASSWORD ?= kefu-demo-2026
export KEFU_INSTANCE ?= $(CURDIR)/instance

.PHONY: install fonts icc node translations run test test-sqlite test-sqlite-fuzz test-sqlite-browser test-postgresql test-postgresql-main test-postgresql-fuzz \
	bench lint extract-messages

$(BIN)/activate:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Kefu needs Python 3.11"' \
	  || (echo "Python 3.11 is required"; exit 1)
	@$(PYTHON) -m venv $(VENV) || (echo "Cannot create a virtual environment: apt-get install python3-venv"; exit 1)

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(VENV)/.installed fonts icc

# The browser tests inject axe-core (tests/browser/test_accessibility.py) from its npm package, pinned in
# package-lock.json and installed here: nothing is fetched while the tests run.
node: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || (echo "The browser tests need npm: sudo apt-get install nodejs npm"; exit 1)
	npm ci --no-audit --no-fund --loglevel=error

# Printed forms embed a Chinese TrueType font (reports/fonts.py): Debian's fonts-wqy-microhei, and for the
# characters it lacks (CJK Extension A and B: 䶮, 𠮷 in names) the fallback fonts-hanazono.
FONT_FILE := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
FALLBACK_FONT_FILE := /usr/share/fonts/truetype/hanazono/HanaMinB.ttf
fonts:
	@if [ -z "$$KEFU_CJK_FONT" ] && [ ! -f $(FONT_FILE) ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq fonts-wqy-microhei >/dev/null || (apt-get update -qq && apt-get install -y -qq fonts-wqy-microhei >/dev/null); \
	  else echo "WARNING: printing needs a Chinese font: sudo apt-get install fonts-wqy-microhei (or set KEFU_CJK_FONT)"; fi; \
	fi
	@if [ ! -f $(FALLBACK_FONT_FILE) ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq fonts-hanazono >/dev/null || (apt-get update -qq && apt-get install -y -qq fonts-hanazono >/dev/null); \
	  else echo "WARNING: rare characters (䶮, 𠮷) print as empty boxes without sudo apt-get install fonts-hanazono"; fi; \
	fi

# Archived PDFs are PDF/A-2b with an sRGB output intent (reports/pdfa.py): Debian's icc-profiles-free.
ICC_FILE := /usr/share/color/icc/sRGB.icc
icc:
	@if [ -z "$$KEFU_SRGB_ICC" ] && [ ! -f $(ICC_FILE) ] && [ ! -f /usr/share/color/icc/colord/sRGB.icc ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -qq icc-profiles-free >/dev/null || (apt-get update -qq && apt-get install -y -qq icc-profiles-free >/dev/null); \
	  else echo "WARNING: printing needs an sRGB ICC profile: sudo apt-get install icc-profiles-free (or set KEFU_SRGB_ICC)"; fi; \
	fi

translations: install
	$(BIN)/pybabel compile --use-fuzzy -f -d app/translations -D messages

extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -o app/translations/messages.pot .
	$(BIN)/pybabel update -N -i app/translations/messages.pot -d app/translations -l zh

# `make run PORT=5077 HOST=0.0.0.0`: flask run reads FLASK_RUN_HOST/FLASK_RUN_PORT, and so does
# config.public_url() for the address printed forms' QR codes open (unless KEFU_PUBLIC_URL is set).
HOST ?= 127.0.0.1
PORT ?= 5000
run: export FLASK_RUN_HOST = $(HOST)
run: export FLASK_RUN_PORT = $(PORT)
run: translations
	$(FLASK) db upgrade
	$(FLASK) roles sync
	$(FLASK) demo load --password '$(DEMO_PASSWORD)'
	@echo ""
	@echo "  Kefu is served at http://$(HOST):$(PORT)"
	@echo "  Printed forms' QR codes open $$($(BIN)/python -c 'import config; print(config.public_url())')"
	@echo "  Logins (password: $(DEMO_PASSWORD)): admin, cs_staff, cs_manager, eng_staff, pm_staff, archivist, gm, auditor"
	@echo ""
	$(FLASK) run

# Every test on both databases, in three runs side by side on the two cores: SQLite; PostgreSQL; and
# PostgreSQL's API fuzzing, browser walks and printing tests apart, so that the two PostgreSQL runs end
# with SQLite's. (Four runs, SQLite split the same way, measured slower: 14:40 against 14:25, each new
# run loading the demo once more.) Each run's output is shown whole when it ends; `--durations` lists
# its slowest tests. One make compiles the translations once, before any run starts.
FUZZ := tests/http/test_schemathesis.py
PG_APART := $(FUZZ) tests/browser tests/printing
PYTEST = KEFU_TEST_DB=$(1) $(BIN)/pytest -q -p no:randomly --durations=15 --output=test-artifacts/$(2)

test: node
	$(MAKE) --no-print-directory -j4 --output-sync=target test-sqlite test-sqlite-fuzz test-postgresql-main test-postgresql-fuzz

# The browser walks run on PostgreSQL, the production database (test-postgresql-fuzz): they drive pages
# whose every database path the HTTP tests already take on both databases, and a second walk on SQLite
# cost three and a half minutes of make test's fifteen. `make test-sqlite-browser` runs them on SQLite.
test-sqlite: translations
	$(call PYTEST,sqlite,sqlite) --ignore=tests/browser --ignore=$(FUZZ)

# Schemathesis on SQLite in a process of its own: it fuzzes a small demo of its own (no session demo load),
# so running it beside the main run costs a process start and saves its minutes on the longest run.
test-sqlite-fuzz: translations
	$(call PYTEST,sqlite,sqlite-fuzz) $(FUZZ)

test-sqlite-browser: translations node
	$(call PYTEST,sqlite,sqlite-browser) tests/browser

test-postgresql: translations node
	$(call PYTEST,postgresql,postgresql)

test-postgresql-main: translations
	$(call PYTEST,postgresql,postgresql) $(addprefix --ignore=,$(PG_APART))

test-postgresql-fuzz: translations node
	$(call PYTEST,postgresql,postgresql-fuzz) $(PG_APART)

bench: translations
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.club

lint: install
	$(BIN)/ruff check .
