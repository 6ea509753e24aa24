package main

import "syscall"

// childAttr makes the kernel kill serve if this process dies without
// cleaning up (a panic in a goroutine, SIGKILL), so no server is left
// holding the ports and the store.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
