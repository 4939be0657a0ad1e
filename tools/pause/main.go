// Command pause is the test bed's pod sandbox ("pause") image: it holds the pod's namespaces by sleeping
// until SIGTERM or SIGINT, then exits 0. Unlike upstream's pause it does not reap zombies (nothing here
// shares a PID namespace with it). Built static (CGO_ENABLED=0) by tools/build.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}
