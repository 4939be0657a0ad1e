# Sourced by the gen-gomod.sh of each tool module (kwok, coredns, flannel): loads the versions and
# starts that module's go.mod afresh, so each script only says what it requires.
#   . "$(dirname "$0")/../gomod.sh" NAME    (then: go get -tool …; go mod tidy …)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/../versions.env"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
cd "$here"
rm -f go.mod go.sum
go mod init "kubeforge.invalid/$1"
go mod edit -go=1.24.0
