#!/usr/bin/env bash
# Builds the local control plane's binaries from the Go modules in tools/ and prints the directory
# that holds them. The directory is a cache outside git, keyed on everything that determines the
# binaries, so a second call is a no-op.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-trimpath -mod=readonly"

key=$(cat "$here/build.sh" "$here/versions.env" "$here"/k8sbin/go.{mod,sum} "$here/k8sbin/cmd/etcd/main.go" \
        "$here"/kwok/go.{mod,sum} | sha256sum | cut -c1-16)
cache_root=${KUBEFORGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeforge}
bin="$cache_root/bin/$K8S_VERSION-$key"
if [ -f "$bin/.complete" ]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "build.sh: 'go' is not on PATH; Go 1.26 or newer is needed" >&2; exit 1; }
staging="$bin.partial.$$"
rm -rf "$staging"; mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
# The same keys hack/lib/version.sh stamps, so `kubeadm version` and /version tell the truth.
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=0000000000000000000000000000000000000000"
  ldflags+=" -X $pkg.buildDate=$build_date"
done

start=$(date +%s)
echo "build.sh: building Kubernetes $K8S_VERSION, etcd and kwok $KWOK_VERSION into $bin (cold: ~20-40 min on 2 cores)" >&2
( cd "$here/k8sbin" && go build -ldflags "$ldflags" -o "$staging/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubectl \
    ./cmd/etcd )
( cd "$here/kwok" && go build -ldflags "-s -w" -o "$staging/" sigs.k8s.io/kwok/cmd/kwok )
touch "$staging/.complete"
rm -rf "$bin"; mv "$staging" "$bin"
trap - EXIT
echo "build.sh: built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
