#!/usr/bin/env bash
# Builds the test bed's binaries from the Go modules in tools/ and prints the directory that holds
# them. Each group is cached outside git, keyed on everything that determines its binaries, so a
# second call is a no-op and changing one group does not rebuild the others.
#   tools/build.sh           the embedded control plane: Kubernetes (incl. kubelet, kube-proxy), etcd, kwok
#   tools/build.sh --nodes   also what real nodes run: flanneld, the flannel CNI plugin, pause, CoreDNS, and the
#                            older flanneld the real-node upgrade test starts from (FLANNEL_OLD_VERSION), and the
#                            Kubernetes nodes-test upgrades from (K8S_OLD_VERSION, in the subdirectory of that name)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
export GOTOOLCHAIN=local GOFLAGS="-trimpath -mod=readonly"
upstream=${KUBEFORGE_UPSTREAM:-$here/../../shared/upstream}
cache_root=${KUBEFORGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeforge}

groups=(k8s kwok)
[ "${1:-}" = --nodes ] && groups+=(flannel flannel_old pause coredns k8s_old)

command -v go >/dev/null || { echo "build.sh: 'go' is not on PATH; Go 1.26 or newer is needed" >&2; exit 1; }

inputs_k8s() { cat "$here/versions.env" "$here"/k8sbin/go.{mod,sum} "$here/k8sbin/cmd/etcd/main.go"; }
build_k8s() { build_kubernetes "$here/k8sbin" "$K8S_VERSION" "$1" ./cmd/etcd; }

inputs_k8s_old() { cat "$here/versions.env" "$here"/k8sbin-old/go.{mod,sum}; }
build_k8s_old() { build_kubernetes "$here/k8sbin-old" "$K8S_OLD_VERSION" "$1/$K8S_OLD_VERSION"; }

# build_kubernetes MODULE_DIR VERSION OUT_DIR [PACKAGE…]: the Kubernetes programs of that module, and the packages.
build_kubernetes() {
  local module=$1 version=$2 out=$3 minor=${2#v1.} ldflags="-s -w" pkg; shift 3
  minor=${minor%%.*}
  # The same keys hack/lib/version.sh stamps, so `kubeadm version`, `kubelet --version` and /version tell the truth.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=0000000000000000000000000000000000000000"
    ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  mkdir -p "$out"
  # One `go build` for all of them: they share most packages.
  ( cd "$module" && CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$out/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubectl \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy "$@" )
}

inputs_kwok() { cat "$here/versions.env" "$here"/kwok/go.{mod,sum}; }
build_kwok() { ( cd "$here/kwok" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$1/" sigs.k8s.io/kwok/cmd/kwok ); }

inputs_flannel() {
  cat "$here/versions.env"; find "$here/flannel" -type f | sort | xargs cat
  find "$upstream/flannel-cni-plugin/$FLANNEL_CNI_PLUGIN_SOURCE" -type f | sort | xargs cat
}
build_flannel() { "$here/flannel/build.sh" "$1" "$upstream/flannel-cni-plugin/$FLANNEL_CNI_PLUGIN_SOURCE"; }

inputs_flannel_old() {
  cat "$here/versions.env" "$here/flannel/build.sh"; find "$here/flannel/tencentstub" "$here/flannel-old" -type f | sort | xargs cat
}
build_flannel_old() { "$here/flannel/build.sh" --old "$1"; }

inputs_pause() { cat "$here"/pause/*; }
build_pause() { ( cd "$here/pause" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$1/pause" . ); }

inputs_coredns() { cat "$here/versions.env" "$here"/coredns/go.{mod,sum}; }
build_coredns() { ( cd "$here/coredns" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$1/coredns" github.com/coredns/coredns ); }

# Builds one group into its own cache directory unless it is there; prints that directory.
group_dir() {
  local group=$1 key dir staging start
  key=$(cat "$here/build.sh" <("inputs_$group") | sha256sum | cut -c1-16)
  dir="$cache_root/groups/$group-$key"
  if [ ! -f "$dir/.complete" ]; then
    staging="$dir.partial.$$"
    rm -rf "$staging"; mkdir -p "$staging"
    start=$(date +%s)
    echo "build.sh: building $group into $dir" >&2
    if ! "build_$group" "$staging"; then rm -rf "$staging"; echo "build.sh: building $group failed" >&2; exit 1; fi
    touch "$staging/.complete"
    rm -rf "$dir"; mv "$staging" "$dir"
    echo "build.sh: built $group in $(( $(date +%s) - start ))s" >&2
  fi
  echo "$dir"
}

dirs=()
for group in "${groups[@]}"; do dirs+=("$(group_dir "$group")"); done
# One directory with every requested binary (hard links), named for exactly those groups.
bin="$cache_root/bin/$K8S_VERSION-$(printf '%s\n' "${dirs[@]}" | sha256sum | cut -c1-16)"
if [ ! -f "$bin/.complete" ]; then
  rm -rf "$bin.partial"; mkdir -p "$bin.partial"
  for dir in "${dirs[@]}"; do cp -al "$dir"/. "$bin.partial"/; done
  rm -rf "$bin"; mv "$bin.partial" "$bin"
fi
echo "$bin"
