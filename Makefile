# Kyso: the two commands of the README are `make run` and `make test`.
# Both install what is missing (Debian packages, a virtualenv with Kyso in it) and refresh it
# when setup.cfg or pyproject.toml change.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kyso-installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages: PKCS#11 (SoftHSM2, OpenSC), pdfsig (poppler-utils), NSS tools for pdfsig's
# trust store, qpdf, fonts with Vietnamese glyphs, Chromium for the browser test (driven by Playwright
# with Debian's browser: no browser download), libfaketime for the test that runs the suite with the
# clock a year ahead, and venv support for Python 3.11.
DEB_PACKAGES := softhsm2 opensc poppler-utils libnss3-tools qpdf fonts-liberation2 fonts-dejavu-core chromium faketime

.PHONY: run test quick bench stress sysdeps venv bytecode clean install-prod

# Kyso's own modules compiled ahead (as an installed package's are): with PYTHONDONTWRITEBYTECODE set,
# every process (each `kyso` command, each worker) compiled them again from source
SOURCES := api.py commands kyso hazmat office signer verifier devpki certs_dev registers

run: sysdeps venv bytecode
	$(VENV)/bin/kyso serve

# the whole suite, the long cases (marked slow) included: what CI runs
test: sysdeps venv bytecode
	$(PY) -m pytest $(PYTEST_ARGS)

# while editing: the suite without the long cases (process kills, hostile sweep, browser, moved clock)
quick: sysdeps venv bytecode
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# Kyso against stock pyHanko, pdfsig and the physical limit, interleaved in one run: one table
# (BENCH_ARGS=--quick: in-process rows only, a few rounds)
bench: sysdeps venv bytecode
	$(PY) bench/kyso_bench.py $(BENCH_ARGS)

# hostile inputs, load with faults (worker kill, PostgreSQL restart, TSA down) and consistency checks;
# needs the local PostgreSQL the tests use. STRESS_ARGS=--quick for a 6-minute run; exit 1 on any failing row.
stress: sysdeps venv bytecode
	$(PY) bench/stress.py $(STRESS_ARGS)

bytecode: venv
	@$(PY) -m compileall -q -j 0 $(SOURCES) >/dev/null

sysdeps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c "import venv, ensurepip" >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(STAMP)

# Kyso is installed editable as a plain path (.pth), not through setuptools' import finder: the
# finder's import cost 10 ms at every Python start (a `kyso verify` answered by its helper takes 60)
$(STAMP): setup.cfg pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,bench]" --config-settings editable_mode=compat
	@touch $(STAMP)

# production: Kyso and what it runs on, nothing for tests or benchmarks, in a virtualenv of its own
# (docs/deploy.md). Debian packages: poppler-utils (page previews, text anchors), fonts with
# Vietnamese glyphs, OpenSC (pkcs11-tool, to put keys on the HSM). Your HSM's PKCS#11 library
# comes from its vendor.
PREFIX ?= /opt/kyso
PROD_DEB_PACKAGES := poppler-utils fonts-liberation2 fonts-dejavu-core opensc

install-prod:
	@missing=""; \
	for p in $(PROD_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	$(PYTHON) -c "import venv, ensurepip" >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(PYTHON) -m venv $(PREFIX)
	$(PREFIX)/bin/python -m pip install -q --upgrade pip
	$(PREFIX)/bin/python -m pip install -q .
	@echo "installed in $(PREFIX): $(PREFIX)/bin/kyso, $(PREFIX)/bin/gunicorn (see docs/deploy.md)"

clean:
	rm -rf $(VENV) var build *.egg-info
