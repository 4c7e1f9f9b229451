package main

import "syscall"

// childAttr makes demo nodes die with the demo process.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
