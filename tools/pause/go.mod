module kubeforge.invalid/pause

go 1.24.0
