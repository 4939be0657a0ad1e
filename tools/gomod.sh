# Sourced by the gen-gomod.sh of each tool module (kwok, coredns, flannel): loads the versions and
# starts that module's go.mod afresh, so each script only says what it requires.
#   . "$(dirname "$0")/../gomod.sh" NAME [DIR]    (then: go get -tool …; go mod tidy …)
# DIR is the module's directory, a sibling of gomod.sh (default: the sourcing script's own); $here is set to it.
set -euo pipefail
here=$(cd "${2:-$(dirname "$0")}" && pwd)
# shellcheck source=versions.env
. "$here/../versions.env"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
cd "$here"
rm -f go.mod go.sum
go mod init "kubeforge.invalid/$1"
go mod edit -go=1.24.0
