#!/usr/bin/env bash
# Lays out the files the node_install role takes with node_install_source=local, the way an
# air-gapped site would: the same file names as the upstream release downloads. There is no internet
# here, so containerd, runc and the CNI plugins are Debian 12's builds, repackaged under upstream's
# names; kubeadm, kubelet and kubectl are this repository's own build. Prints the directory.
#   tools/node_files.sh BIN_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: tools/node_files.sh BIN_DIR (from tools/build.sh)}
cache_root=${KUBEFORGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeforge}
debs="$cache_root/debs"
debian_packages=(containerd runc containernetworking-plugins)

mkdir -p "$debs"
if ! ls "$debs"/containerd_*.deb "$debs"/runc_*.deb "$debs"/containernetworking-plugins_*.deb >/dev/null 2>&1; then
  # A machine whose package lists were never fetched finds nothing: fetch them once, then retry.
  ( cd "$debs" && { apt-get download "${debian_packages[@]}" >&2 || { apt-get update -qq >&2 && apt-get download "${debian_packages[@]}" >&2; }; } ) || {
    echo "node_files.sh: 'apt-get download ${debian_packages[*]}' failed (Debian's package archive unreachable?)" >&2; exit 1; }
fi
# upstream's version of a Debian package version: 1.6.20~ds1-1+deb12u3 -> 1.6.20
deb_version() { dpkg-deb -f "$1" Version | sed -E 's/^[0-9]+://; s/[~+-].*$//'; }
containerd_deb=$(ls "$debs"/containerd_*.deb | tail -n1)
runc_deb=$(ls "$debs"/runc_*.deb | tail -n1)
cni_deb=$(ls "$debs"/containernetworking-plugins_*.deb | tail -n1)
k8s=$("$bin/kubeadm" version -o short); k8s=${k8s#v}
python_pin=$(grep -i '^kubernetes==' "$here/../requirements.txt" | cut -d= -f3)

key=$( { cat "$0"; ls -l "$bin"/kube{adm,let,ctl}; sha256sum "$containerd_deb" "$runc_deb" "$cni_deb"; echo "$python_pin"; } \
       | sha256sum | cut -c1-16)
out="$cache_root/node-files/$key"
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi

staging="$out.partial.$$"
rm -rf "$staging"; mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT
x="$staging/.x"
for deb in "$containerd_deb" "$runc_deb" "$cni_deb"; do dpkg-deb -x "$deb" "$x"; done

containerd=$(deb_version "$containerd_deb"); runc=$(deb_version "$runc_deb"); cni=$(deb_version "$cni_deb")
cp "$bin"/kubeadm "$bin"/kubelet "$bin"/kubectl "$staging/"
mkdir -p "$x/containerd/bin"
cp "$x"/usr/bin/containerd "$x"/usr/bin/containerd-shim-runc-v2 "$x"/usr/bin/ctr "$x/containerd/bin/"
tar -C "$x/containerd" -czf "$staging/containerd-$containerd-linux-amd64.tar.gz" bin
cp "$x/usr/sbin/runc" "$staging/runc.amd64"
tar -C "$x/usr/lib/cni" -czf "$staging/cni-plugins-linux-amd64-v$cni.tgz" .
# The Python client the modules need, as wheels for the nodes' Python (Debian 12's 3.11).
/usr/bin/python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
  -c "$here/../constraints.txt" -d "$staging/python" "kubernetes==$python_pin" >&2
rm -rf "$x"
printf '{"kubernetes": "%s", "containerd": "%s", "runc": "%s", "cni_plugins": "%s", "python_kubernetes": "%s"}\n' \
  "$k8s" "$containerd" "$runc" "$cni" "$python_pin" > "$staging/versions.json"
touch "$staging/.complete"
rm -rf "$out"; mv "$staging" "$out"
trap - EXIT
echo "$out"
