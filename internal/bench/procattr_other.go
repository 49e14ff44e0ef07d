//go:build !linux

package main

import "syscall"

// childAttr has no parent-death signal outside Linux; cleanup relies on
// stopAll.
func childAttr() *syscall.SysProcAttr { return nil }
