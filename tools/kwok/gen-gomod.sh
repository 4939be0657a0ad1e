#!/usr/bin/env bash
# Regenerates go.mod/go.sum for KWOK_VERSION (tools/versions.env). kwok lives in its own module:
# in the k8sbin module its k8s.io requirements would be forced to the Kubernetes version there.
# shellcheck source=../gomod.sh
. "$(dirname "$0")/../gomod.sh" kwok
go get -tool "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
go mod tidy
go mod download all
echo "go.mod regenerated for sigs.k8s.io/kwok ${KWOK_VERSION}"
