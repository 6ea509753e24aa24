//go:build !linux

package main

import (
	"syscall"
	"time"
)

// childAttr: only Linux can tie the child's life to ours; elsewhere the
// deferred cleanup alone stops serve.
func childAttr() *syscall.SysProcAttr { return nil }

// selfCPU is not measured here.
func selfCPU() time.Duration { return -1 }
