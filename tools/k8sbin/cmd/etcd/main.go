// Command etcd is etcd at exactly the version k8s.io/kubernetes pins, built inside this module
// because `go install go.etcd.io/etcd/server/v3@v…` refuses etcd's replace directives.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
