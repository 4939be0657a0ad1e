// Command pause is the test bed's pod sandbox ("pause") image: it holds the pod's namespaces by sleeping
// until SIGTERM or SIGINT, then exits 0. Unlike upstream's pause it does not reap zombies (nothing here
// shares a PID namespace with it). As upstream's, `pause -v` prints its version and exits 0: kubeadm's
// upgrade health check runs a Job of the pause image with `-v` and waits for it to complete.
// Built static (CGO_ENABLED=0) by tools/build.sh.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause.go (kubeforge test bed)")
		return
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
