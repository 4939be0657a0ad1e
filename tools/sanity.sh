#!/usr/bin/env bash
# `ansible-test sanity` on the collection's plugins. ansible-test needs the collection under
# ansible_collections/<namespace>/<name>, so the checkout's files are copied there first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv_bin=$(dirname "$(command -v ansible-test)")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/kubeforge/cluster"
mkdir -p "$dest"
(cd "$repo" && git ls-files --cached --others --exclude-standard -z | xargs -0 cp -P --parents -t "$dest")

# ansible-test bootstraps pip in each sanity venv with a script it downloads from a host this
# machine cannot reach; the same bootstrap from Python's bundled pip plus PyPI does the job.
pip_version=$("$venv_bin/python" -c 'import re, ansible_test._internal.python_requirements as r, inspect
print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r)).group(1))')
bootstrap="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$bootstrap")"
cat > "$bootstrap" <<'PY'
"""pip bootstrap for ansible-test's sanity venvs, written by kubeforge tools/sanity.sh."""
import ensurepip
import os
import ssl
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip leaves PIP_CONFIG_FILE=/dev/null behind, which would hide the pip.conf written below.
os.environ.pop("PIP_CONFIG_FILE", None)
os.environ.pop("ENSUREPIP_OPTIONS", None)
# ansible-test runs pip with a scrubbed environment; keep the machine's CA bundle (TLS-inspecting
# proxies) for this venv's later installs too.
bundle = ssl.get_default_verify_paths().openssl_cafile
for candidate in (os.environ.get("SSL_CERT_FILE"), bundle, "/etc/ssl/certs/ca-certificates.crt"):
    if candidate and os.path.exists(candidate):
        with open(os.path.join(sys.prefix, "pip.conf"), "w") as conf:
            conf.write("[global]\ncert = %s\n" % candidate)
        break
packages = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + packages)
PY

cd "$dest"
git init -q && git add -A   # ansible-test lists the collection's files through git
python_version=$("$venv_bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
exec "$venv_bin/ansible-test" sanity --requirements --python "$python_version" \
  --test validate-modules --test ansible-doc --test compile --test import --test pep8 --test pylint --test yamllint \
  --test runtime-metadata --test empty-init --test shebang --test use-argspec-type-path \
  --test replace-urlopen --test no-get-exception --test line-endings --test symlinks "$@" plugins/ meta/
