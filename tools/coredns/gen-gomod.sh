#!/usr/bin/env bash
# Regenerates go.mod/go.sum for COREDNS_VERSION (tools/versions.env): the coredns binary (with the plugins
# of its default build, plugin.cfg as compiled into core/plugin) from github.com/coredns/coredns.
# shellcheck source=../gomod.sh
. "$(dirname "$0")/../gomod.sh" coredns
go get -tool "github.com/coredns/coredns@${COREDNS_VERSION}"
go mod tidy
go mod download all
echo "go.mod regenerated for github.com/coredns/coredns ${COREDNS_VERSION}"
