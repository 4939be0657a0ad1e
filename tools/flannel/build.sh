#!/usr/bin/env bash
# Usage: tools/flannel/build.sh OUT_DIR CNI_PLUGIN_SRC_DIR
#        tools/flannel/build.sh --old OUT_DIR
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
# With --old, only flanneld-$FLANNEL_OLD_VERSION: flanneld built the same way from the module in ../flannel-old
# (the version the real-node upgrade test starts from; its manifest's install-cni runs `cp`, and its CNI plugin
# image is made from the `flannel` binary above).
# tools/build.sh calls it with GOFLAGS="-trimpath -mod=readonly" and GOTOOLCHAIN=local.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../versions.env
. "$here/../versions.env"
old=false
[ "$1" = --old ] && { old=true; shift; }
out=$(mkdir -p "$1" && cd "$1" && pwd)

flanneld() {  # MODULE_DIR VERSION OUTPUT
  ( cd "$1" && CGO_ENABLED=1 go build \
      -ldflags "-s -w -extldflags -static -X github.com/flannel-io/flannel/pkg/version.Version=$2" \
      -o "$3" github.com/flannel-io/flannel )
}

if $old; then
  flanneld "$here/../flannel-old" "$FLANNEL_OLD_VERSION" "$out/flanneld-$FLANNEL_OLD_VERSION"
  exit 0
fi
cni_src=$(cd "$2" && pwd)
flanneld "$here" "$FLANNEL_VERSION" "$out/flanneld"
( cd "$here" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$out/install-conf" \
    github.com/flannel-io/flannel/cmd/install_conf )
# The source directory is named for its tag (FLANNEL_CNI_PLUGIN_SOURCE); the commit is not in the copy.
( cd "$cni_src" && CGO_ENABLED=0 go build -tags "netgo osusergo no_stage static_build" \
    -ldflags "-s -w -X main.Version=$(basename "$cni_src") -X main.Program=flannel" -o "$out/flannel" . )
