package main

import (
	"syscall"
	"time"
)

// childAttr makes the kernel kill serve if this process dies without
// cleaning up (a panic in a goroutine, SIGKILL), so no server is left
// holding the ports and the store.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// selfCPU is the CPU time (user + system) this process has used so far:
// the load generator's, the webhook sink's and the bare handler's.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
