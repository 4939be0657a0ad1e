#!/usr/bin/env bash
# Regenerates go.mod/go.sum for KWOK_VERSION (tools/versions.env). kwok lives in its own module:
# in the k8sbin module its k8s.io requirements would be forced to the Kubernetes version there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../versions.env
. "$here/../versions.env"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
cd "$here"
rm -f go.mod go.sum
go mod init kubeforge.invalid/kwok
go mod edit -go=1.24.0
go get -tool "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
go mod tidy
go mod download all
echo "go.mod regenerated for sigs.k8s.io/kwok ${KWOK_VERSION}"
