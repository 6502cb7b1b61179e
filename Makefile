# netfabric.netns development targets (GNU make). Run as root on Debian 12:
#   make test    everything CI runs (.ci/run): deps venv install lint sanity unit docs integration molecule
#   make demo    red/blue walkthrough inside a sandbox host
#   make docs    the documentation site in .build/docs/build/html
# Kernel-touching steps run only inside sandbox hosts (tools/sandbox.py).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.NOTPARALLEL:
.DEFAULT_GOAL := help

PYTHON      ?= python3
SANITY_PY   ?= 3.11
XDIST       ?= -n 2
PYTEST_ARGS ?=
VENV        := .venv
VBIN        := $(VENV)/bin
STAMP       := $(VENV)/.requirements-dev.stamp
BUILD       := .build
COLLECTIONS := .collections
SANITY_DIR  := $(BUILD)/sanity/ansible_collections/netfabric/netns
APT_GET     ?= apt-get

# Sandbox hosts of this checkout live (and are stopped by `stop --all`) under .build/, so
# parallel runs from other checkouts or by hand (default /tmp/netfabric-sandboxes) are left alone.
export NETFABRIC_SANDBOX_DIR ?= $(CURDIR)/$(BUILD)/sandboxes
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1
export ANSIBLE_NOCOLOR := 1

.PHONY: help deps venv install lint sanity unit docs integration molecule test clean demo bench bench-fleet soak

help:
	@echo "targets: test deps venv install lint sanity unit docs integration molecule demo bench bench-fleet soak clean"

# Debian packages the tests and the collection need (iptables: the tests prove that iptables-nft
# rules of other tools stay intact; graphviz: dot renders the diagrams, an optional dependency of
# the controller; docker.io and firewalld: the coexistence tests run the real daemons inside
# sandbox hosts); apt only runs when one is missing. A policy-rc.d that refuses every start is in
# place while apt runs (removed afterwards unless it was there before), so no package's postinst
# starts its daemon on the machine itself.
deps:
	@missing=""; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	command -v nft >/dev/null 2>&1 || missing="$$missing nftables"; \
	command -v iptables-nft >/dev/null 2>&1 || missing="$$missing iptables"; \
	command -v dockerd >/dev/null 2>&1 || missing="$$missing docker.io"; \
	command -v firewalld >/dev/null 2>&1 || missing="$$missing firewalld"; \
	command -v busctl >/dev/null 2>&1 || missing="$$missing systemd"; \
	command -v dbus-daemon >/dev/null 2>&1 || missing="$$missing dbus"; \
	{ command -v unshare && command -v nsenter; } >/dev/null 2>&1 || missing="$$missing util-linux"; \
	command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	$(PYTHON) -c 'import ensurepip, venv; ensurepip.version()' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		guard=""; \
		if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\n# netfabric deps: no daemon starts while apt runs\nexit 101\n' > /usr/sbin/policy-rc.d; \
			chmod 755 /usr/sbin/policy-rc.d; guard=1; \
		fi; \
		rc=0; $(APT_GET) update -q && $(APT_GET) install -y -q --no-install-recommends $$missing || rc=$$?; \
		if [ -n "$$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi; \
		[ $$rc -eq 0 ] || exit $$rc; \
		for daemon in dockerd containerd firewalld; do \
			if pgrep --ns $$$$ --nslist net,pid -x $$daemon >/dev/null; then echo "deps: $$daemon runs on the machine after apt (stop it)"; exit 1; fi; \
		done; \
	fi

venv: deps $(STAMP)

$(STAMP): requirements-dev.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VBIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

# Build the collection artifact and install it where the tests look (.collections).
install: venv
	rm -rf $(BUILD)/collection
	mkdir -p $(BUILD)/collection $(COLLECTIONS)
	$(VBIN)/ansible-galaxy collection build --force --output-path $(BUILD)/collection .
	ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) $(VBIN)/ansible-galaxy collection install --offline --force -p $(COLLECTIONS) $(BUILD)/collection/netfabric-netns-*.tar.gz

# Against the collection as installed by `install` (offline: no schema refresh, no Galaxy).
lint: venv install
	PATH=$(CURDIR)/$(VBIN):$$PATH NO_COLOR=1 ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) \
		$(VBIN)/ansible-lint --offline --profile production
	@for module in plugins/modules/*.py; do \
		name=$$(basename $$module .py); \
		ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/$(COLLECTIONS) $(VBIN)/ansible-doc netfabric.netns.$$name >/dev/null \
			|| { echo "ansible-doc cannot render netfabric.netns.$$name"; exit 1; }; \
	done; echo "ansible-doc renders every module"

# ansible-test needs the collection under ansible_collections/NAMESPACE/NAME: copy the
# tracked and new (not ignored) files there, as a git work tree of its own. Its --venv bootstrap downloads get-pip
# from a host outside PyPI; tools/get_pip_offline.py stands in for it (cached copy).
sanity: venv
	rm -rf $(BUILD)/sanity
	mkdir -p $(SANITY_DIR)
	git ls-files -z --cached --others --exclude-standard \
		| tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C $(SANITY_DIR)
	git -C $(SANITY_DIR) init -q  # else ansible-test sees the outer repo, where .build/ is ignored
	@pip_version=$$($(VBIN)/python -c 'import types; from ansible_test._internal.python_requirements import get_venv_packages; print(get_venv_packages(types.SimpleNamespace(version="$(SANITY_PY)"))["pip"])'); \
	cache=$$HOME/.ansible/test/cache/get_pip_$${pip_version//./_}.py; \
	if [ ! -s "$$cache" ]; then mkdir -p "$${cache%/*}" && cp tools/get_pip_offline.py "$$cache"; fi
	cd $(SANITY_DIR) && $(CURDIR)/$(VBIN)/ansible-test sanity --venv --python $(SANITY_PY) --color no

unit: venv
	$(VBIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

# The documentation site with antsibull-docs' collection site builder: a page per module, role and
# filter, and the Markdown guides (README, docs/, the roles' READMEs); any warning fails it.
docs: venv install
	$(VBIN)/python tools/docs.py

integration: deps venv install
	$(VBIN)/python -m pytest -q $(XDIST) tests/integration $(PYTEST_ARGS)

# Every molecule scenario (molecule/*/molecule.yml; the shared create/destroy and connection plugin
# are in molecule/shared): sandbox hosts named mol-<scenario>-*, cabled to a lan switch sandbox, in
# NETFABRIC_SANDBOX_DIR. Those still there at the end are stopped, whatever happened.
# One scenario: make molecule MOLECULE_ARGS='-s default'
MOLECULE_ARGS ?= --all
molecule: deps venv install
	@trap '$(PYTHON) tools/sandbox.py stop --match "mol-*" || true' EXIT; trap 'exit 130' INT TERM; \
	PATH=$(CURDIR)/$(VBIN):$$PATH NO_COLOR=1 MOLECULE_NO_LOG=false MOLECULE_GLOB='molecule/*/molecule.yml' \
		$(VBIN)/molecule test $(MOLECULE_ARGS)

# All steps in order; sandbox hosts are removed at the end whatever happened.
test:
	@rc=0; \
	$(MAKE) --no-print-directory deps venv install lint sanity unit docs integration molecule || rc=$$?; \
	$(PYTHON) tools/sandbox.py stop --all || true; \
	exit $$rc

# Longer runs of the randomised tests (not part of make test): many random topologies, shrunk
# when one fails, and more random kills of a module applying 30 namespaces.
SOAK_EXAMPLES ?= 10
SOAK_KILLS ?= 20
soak: deps venv install
	NETFABRIC_SOAK=1 NETFABRIC_PROPERTY_EXAMPLES=$(SOAK_EXAMPLES) NETFABRIC_CHAOS_RANDOM=$(SOAK_KILLS) \
		NETFABRIC_CHAOS_SEED=$$RANDOM $(VBIN)/python -m pytest -q $(XDIST) tests/integration/test_property.py \
		tests/integration/test_chaos.py $(PYTEST_ARGS)

demo: deps venv install
	bash tools/demo.sh

# netns_topology against one ip process per step, ip -batch and Ansible loops (N = 10, 100, 1000),
# each build in a fresh sandbox host, and 20 netns tasks against community.general.ip_netns;
# writes bench/results.md and prints the ratios last (issues 6 and 12). community.general comes
# from PyPI's ansible package, in an environment of its own (no dependencies: the .venv's
# ansible-core runs both plays).
BENCH_VENV  := $(BUILD)/bench-venv
BENCH_STAMP := $(BENCH_VENV)/.requirements-bench.stamp

$(BENCH_STAMP): requirements-bench.txt
	rm -rf $(BENCH_VENV)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --no-deps -r requirements-bench.txt
	touch $@

bench: venv install $(BENCH_STAMP)
	$(VBIN)/python tools/bench.py

# The site play (topology + routed fabric, 10 namespaces per host) on 4 and 24 sandbox hosts on a
# lan switch, forks = hosts; prints last `fleet: n24/n4=X` (issue 13). Not part of make test.
# BENCH_FLEET_ARGS='--baseline REF' measures the collection of commit REF side by side.
BENCH_FLEET_ARGS ?=
bench-fleet: deps venv install
	$(VBIN)/python tools/bench_fleet.py $(BENCH_FLEET_ARGS)

clean:
	-$(PYTHON) tools/sandbox.py stop --all
	rm -rf $(VENV) $(BUILD) $(COLLECTIONS) .pytest_cache .ansible tests/output changelogs/.plugin-cache.yaml
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
