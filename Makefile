# CodeB identity: `make run` serves the demo tenant, `make test` installs what the
# tests need and runs them (screenshots of every page into build/screenshots/ included),
# `make bench` prints the benchmark figures (`make pages`: page weights and time to interactive).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
NODE   := tests/node
PORT   ?= 8000

.PHONY: run test check bench pages screenshots soak install system-deps node-deps vendor clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# Runtime packages only (make run), and everything the tests need (make test).
$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime

run: $(VENV)/.runtime
	$(PY) -m codeb tenant create demo --host localhost --display-name "CodeB Demo" --exist-ok
	$(PY) -m codeb serve --host localhost --port $(PORT)

# Debian packages the real-peer tests use: Chromium (browser tests), xmlsec1 (SAML) and
# coturn (its turnserver checks the workspace's TURN credentials; the tests run their own,
# on a free loopback port); wrk is the load client of `make bench`'s side-by-side (and of its smoke test);
# Kamailio with the modules deploy/kamailio/kamailio.cfg loads, and baresip as the SIP phone of its test.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v xmlsec1 >/dev/null 2>&1 || missing="$$missing xmlsec1"; \
	command -v turnserver >/dev/null 2>&1 || missing="$$missing coturn"; \
	command -v ejabberdctl >/dev/null 2>&1 || [ -x /usr/sbin/ejabberdctl ] || missing="$$missing ejabberd"; \
	command -v prosody >/dev/null 2>&1 || missing="$$missing prosody"; \
	[ -f /usr/lib/prosody/modules/mod_sasl_oauthbearer/mod_sasl_oauthbearer.lua ] || missing="$$missing prosody-modules"; \
	command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || missing="$$missing kamailio"; \
	for m in autheph:auth_ephemeral utils:http_client websocket:websocket json:json; do \
	  ls /usr/lib/*/kamailio/modules/$${m#*:}.so >/dev/null 2>&1 || missing="$$missing kamailio-$${m%%:*}-modules"; \
	done; \
	command -v baresip >/dev/null 2>&1 || missing="$$missing baresip-core"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing; run as root or: sudo apt-get install$$missing" >&2; exit 1; \
	  fi; \
	fi

# npm packages of the relying-party tests and the bench's peer, exactly as locked.
$(NODE)/node_modules/.package-lock.json: $(NODE)/package-lock.json
	cd $(NODE) && npm ci --no-audit --no-fund --loglevel=error

node-deps: $(NODE)/node_modules/.package-lock.json

# The shell phone's SIP.js, static/js/vendor/sip.js: the npm package pinned in tests/node/package.json,
# bundled by tests/node/build-sip.mjs (commit the result; tests/unit/test_vendor_sip.py checks it).
vendor: node-deps
	node $(NODE)/build-sip.mjs

# Lint, import order and types (pyproject.toml): what keeps the layout as clean as it is.
check: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(VENV)/.dev system-deps node-deps check
	$(PY) -m pytest -q -n 2

bench: $(VENV)/.dev system-deps node-deps
	$(PY) bench/run.py
	$(PY) bench/pages.py

# The main pages' weight (HTML, CSS, JS, images; gzipped) and time to interactive on a
# throttled phone, beside a bare page of the same weight (about two minutes).
pages: $(VENV)/.dev system-deps
	$(PY) bench/pages.py

# Only the screenshot tour of `make test`: every page in English and German, 1280 and 390 px
# wide, light and dark, into build/screenshots/<lang>-<width>-<scheme>/<page>.png.
screenshots: $(VENV)/.dev system-deps node-deps
	$(PY) -m pytest -q -n 2 tests/browser/test_screenshots.py

# The long soak (about five minutes, loopback only): four servers on one data folder under
# a mixed load, then again with one killed by SIGKILL; prints a summary, fails on a problem.
soak: $(VENV)/.dev
	$(PY) -m tests.soak

clean:
	rm -rf $(VENV) $(NODE)/node_modules .pytest_cache build
