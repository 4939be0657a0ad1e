# Everything a newcomer needs: `make run CNI=…` and `make test` (see README.md).
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
# molecule and ansible-lint call ansible-* from PATH: the venv's must come first.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)

CNI ?= flannel
BACKEND ?=
POD_CIDR ?=
NODES ?= 3
PYTEST_ARGS ?=

COLLECTION_LINK := .collections/ansible_collections/kubeforge/cluster

.PHONY: help bench bench-quick venv binaries cluster-up cluster-down cluster-status run lint sanity unit integration molecule test constraints argument-specs \
	nodes-deps nodes-up nodes-down nodes-status nodes-run nodes-test

help:
	@echo "make run CNI=flannel|calico|canal [BACKEND=…] [POD_CIDR=…]  the main job on the embedded local cluster"
	@echo "make test                                                 lint, unit, sanity, integration and molecule tests"
	@echo "make bench [BENCH_ARGS='--pairs 5 --sizes 3,30,100,300']      the benchmark of record (a table of ratios)"
	@echo "make cluster-up [POD_CIDR=10.244.0.0/16] [NODES=3] / make cluster-down"
	@echo "make nodes-up [NODES=3] / make nodes-run [CNI=flannel] / make nodes-down   real nodes (containerd, kubelet) on this machine"

venv: $(VENV)/.installed $(COLLECTION_LINK)

$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

binaries:
	tools/build.sh >/dev/null

cluster-up: binaries
	$(PYTHON) tools/localcluster.py up --pod-cidr "$(or $(POD_CIDR),10.244.0.0/16)" --nodes "$(NODES)"

cluster-down:
	$(PYTHON) tools/localcluster.py down

cluster-status:
	$(PYTHON) tools/localcluster.py status

run: venv binaries
	ansible-playbook site.yml -e cni="$(CNI)" \
	  $(if $(BACKEND),-e cni_backend="$(BACKEND)") $(if $(POD_CIDR),-e pod_cidr="$(POD_CIDR)") \
	  -e kubeadm_init_local_nodes="$(NODES)"

# Real nodes: namespaces on this machine with their own sshd, containerd and kubelet (tools/nodes.py).
# What the test bed needs on the host: namespaces, sshd, socat; and for the images, iptables, conntrack, busybox;
# the nodes' HAProxy (api_proxy) is the host's package, which the nodes see through their /usr and dpkg overlays.
nodes-deps:
	@missing=$$(for p in $$($(PYTHON) tools/nodes.py deps) iptables nftables conntrack busybox-static netbase ca-certificates haproxy; do \
	  dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

nodes-up: venv nodes-deps
	. tools/versions.env; bin=$$(tools/build.sh --nodes); files=$$(tools/node_files.sh "$$bin"); \
	old_files=$$(tools/node_files.sh "$$bin/$$K8S_OLD_VERSION"); \
	images=$$($(PYTHON) tools/images.py --bin "$$bin" --out "$${KUBEFORGE_CACHE:-$$HOME/.cache/kubeforge}/images/$$(basename "$$bin")"); \
	$(PYTHON) tools/nodes.py up --nodes "$(NODES)" --images "$$images" \
	  --mirror "$${KUBEFORGE_UPSTREAM:-$(abspath ..)/shared/upstream}"; \
	printf '{"bin": "%s", "node_files": "%s", "images": "%s", "versions": %s, "old": {"node_files": "%s", "versions": %s}}\n' \
	  "$$bin" "$$files" "$$images" "$$(cat "$$files/versions.json")" "$$old_files" "$$(cat "$$old_files/versions.json")" \
	  > .nodes/testbed.json

nodes-down:
	$(PYTHON) tools/nodes.py down

nodes-status:
	$(PYTHON) tools/nodes.py status

# site.yml on the real nodes: only the inventory differs from `make run`.
nodes-run: venv
	ansible-playbook -i inventories/nodes site.yml -e cni="$(CNI)" \
	  $(if $(BACKEND),-e cni_backend="$(BACKEND)") $(if $(POD_CIDR),-e pod_cidr="$(POD_CIDR)")

lint: venv
	ruff check .
	ruff format --check .
	ansible-lint

# ansible-test sanity (validate-modules, ansible-doc, import, pylint, …) on plugins/ and meta/.
sanity: venv
	tools/sanity.sh

unit: venv
	pytest tests/unit $(PYTEST_ARGS)

# The CNI roles' meta/argument_specs.yml from the CNI matrix (tests/unit/tools/test_argument_specs.py checks them).
argument-specs: venv
	python tools/gen_argument_specs.py

integration: venv binaries nodes-deps
	pytest tests/integration $(PYTEST_ARGS)

# One scenario per CNI with its default backend (flannel's also switches through cni_backend), and the real nodes.
MOLECULE_SCENARIOS := flannel calico canal nodes
molecule: venv binaries
	@for scenario in $(MOLECULE_SCENARIOS); do \
	  echo "== molecule $$scenario"; molecule test -s $$scenario || exit 1; done

# site.yml on fresh real nodes: bad input and faults, a failed init redone, two control planes.
nodes-test: venv
	pytest tests/nodes/test_bootstrap.py $(PYTEST_ARGS)

# The benchmark of record: one table of ratios measured side by side (bench/bench.py); never fails on speed.
BENCH_VENV := bench/.venv
BENCH_ARGS ?=
$(BENCH_VENV)/.installed: bench/requirements.txt constraints.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt -c constraints.txt
	touch $@

bench: venv binaries $(BENCH_VENV)/.installed
	python bench/bench.py $(BENCH_ARGS)

# In CI: one pair and the smallest cluster, so that the benchmark cannot rot.
bench-quick: BENCH_ARGS = --quick
bench-quick: bench

test: lint unit sanity integration molecule nodes-test bench-quick

# Re-pin every transitive Python dependency after changing requirements.txt.
constraints:
	rm -rf $(VENV).constraints && $(PYTHON) -m venv $(VENV).constraints
	$(VENV).constraints/bin/pip install --quiet -r requirements.txt
	{ echo "# Generated by 'make constraints' from requirements.txt; pins every transitive dependency."; \
	  $(VENV).constraints/bin/pip freeze --all | grep -v -E '^(pip|setuptools|wheel)=='; } > constraints.txt
	rm -rf $(VENV).constraints
