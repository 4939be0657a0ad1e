#!/usr/bin/env bash
# Regenerates go.mod/go.sum for COREDNS_VERSION (tools/versions.env): the coredns binary (with the plugins
# of its default build, plugin.cfg as compiled into core/plugin) from github.com/coredns/coredns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../versions.env
. "$here/../versions.env"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
cd "$here"
rm -f go.mod go.sum
go mod init kubeforge.invalid/coredns
go mod edit -go=1.24.0
go get -tool "github.com/coredns/coredns@${COREDNS_VERSION}"
go mod tidy
go mod download all
echo "go.mod regenerated for github.com/coredns/coredns ${COREDNS_VERSION}"
