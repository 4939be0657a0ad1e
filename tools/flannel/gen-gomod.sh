#!/usr/bin/env bash
# Regenerates go.mod/go.sum for FLANNEL_VERSION (tools/versions.env): flanneld and install-conf (the
# program the manifest's install-cni init container runs) from github.com/flannel-io/flannel.
#   tools/flannel/gen-gomod.sh --old   the same for tools/flannel-old at FLANNEL_OLD_VERSION, the version the
#                                      real-node upgrade test starts from: flanneld only (its manifest's
#                                      install-cni runs `cp`; v0.26.7 has no cmd/install_conf)
# The proxy does not serve github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc, which only the
# tencent-vpc backend imports: it is replaced by the stub in ./tencentstub (that backend is never used here).
# If a new flannel version uses more of that SDK, extend the stub until `go mod tidy` and the build pass.
if [ "${1:-}" = --old ]; then
  # shellcheck source=../gomod.sh
  . "$(dirname "$0")/../gomod.sh" flannel-old "$(dirname "$0")/../flannel-old"
  version=$FLANNEL_OLD_VERSION stub=../flannel/tencentstub packages=(github.com/flannel-io/flannel)
else
  # shellcheck source=../gomod.sh
  . "$(dirname "$0")/../gomod.sh" flannel
  version=$FLANNEL_VERSION stub=./tencentstub packages=(github.com/flannel-io/flannel github.com/flannel-io/flannel/cmd/install_conf)
fi
go mod edit -replace "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc=$stub"
go get -tool "${packages[@]/%/@$version}"
# -e: tidy also loads the tests of the packages flanneld imports, and pkg/subnet/etcd's tests need
# go.etcd.io/etcd/tests/v3, which the proxy does not serve (403); the binaries do not need it.
go mod tidy -e
# Not `go mod download all`: the graph also holds etcd's tests/ and etcdctl/ modules (403 on the proxy).
# Check instead that go.mod/go.sum suffice to build the binaries as tools/flannel/build.sh does.
GOFLAGS=-mod=readonly go list -deps "${packages[@]}" >/dev/null
echo "go.mod regenerated in $here for github.com/flannel-io/flannel $version"
