#!/usr/bin/env bash
# Usage: tools/flannel/build.sh OUT_DIR CNI_PLUGIN_SRC_DIR
# Builds what the flannel manifest's images run, into OUT_DIR:
#   flanneld      github.com/flannel-io/flannel at FLANNEL_VERSION (this module; its tencent-vpc backend
#                 is built against the stub in ./tencentstub and is never used here). Static with cgo, as
#                 upstream's `make dist/flanneld` does on amd64, so the udp backend's C proxy is included;
#                 glibc's "statically linked applications requires at runtime the shared libraries" NSS
#                 warnings are harmless here.
#   install-conf  flannel's cmd/install_conf (the manifest's install-cni init container runs it)
#   flannel       the flannel CNI plugin from CNI_PLUGIN_SRC_DIR (github.com/flannel-io/cni-plugin, not served
#                 by the proxy), which is read-only: `go build` only reads it. Version stamped the way its
#                 scripts/build_flannel.sh does (main.Version, main.Program; tags netgo osusergo static_build).
# tools/build.sh calls it with GOFLAGS="-trimpath -mod=readonly" and GOTOOLCHAIN=local.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../versions.env
. "$here/../versions.env"
out=$(mkdir -p "$1" && cd "$1" && pwd)
cni_src=$(cd "$2" && pwd)

( cd "$here" && CGO_ENABLED=1 go build \
    -ldflags "-s -w -extldflags -static -X github.com/flannel-io/flannel/pkg/version.Version=$FLANNEL_VERSION" \
    -o "$out/flanneld" github.com/flannel-io/flannel )
( cd "$here" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$out/install-conf" \
    github.com/flannel-io/flannel/cmd/install_conf )
# The source directory is named for its tag (FLANNEL_CNI_PLUGIN_SOURCE); the commit is not in the copy.
( cd "$cni_src" && CGO_ENABLED=0 go build -tags "netgo osusergo no_stage static_build" \
    -ldflags "-s -w -X main.Version=$(basename "$cni_src") -X main.Program=flannel" -o "$out/flannel" . )
