#!/usr/bin/env bash
# Regenerates go.mod/go.sum for FLANNEL_VERSION (tools/versions.env): flanneld and install-conf (the
# program the manifest's install-cni init container runs) from github.com/flannel-io/flannel.
# The proxy does not serve github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc, which only the
# tencent-vpc backend imports: it is replaced by the stub in ./tencentstub (that backend is never used here).
# If a new flannel version uses more of that SDK, extend the stub until `go mod tidy` and the build pass.
# shellcheck source=../gomod.sh
. "$(dirname "$0")/../gomod.sh" flannel
go mod edit -replace github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc=./tencentstub
go get -tool "github.com/flannel-io/flannel@${FLANNEL_VERSION}" \
  "github.com/flannel-io/flannel/cmd/install_conf@${FLANNEL_VERSION}"
# -e: tidy also loads the tests of the packages flanneld imports, and pkg/subnet/etcd's tests need
# go.etcd.io/etcd/tests/v3, which the proxy does not serve (403); the binaries do not need it.
go mod tidy -e
# Not `go mod download all`: the graph also holds etcd's tests/ and etcdctl/ modules (403 on the proxy).
# Check instead that go.mod/go.sum suffice to build the binaries as tools/flannel/build.sh does.
GOFLAGS=-mod=readonly go list -deps github.com/flannel-io/flannel github.com/flannel-io/flannel/cmd/install_conf >/dev/null
echo "go.mod regenerated for github.com/flannel-io/flannel ${FLANNEL_VERSION}"
