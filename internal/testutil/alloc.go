package testutil

import "runtime"

// AllocatedBytes returns the bytes allocated on the heap while f ran
// (runtime.MemStats.TotalAlloc, every goroutine counted): what a test
// bounds when an input must not make the code allocate what it declares.
func AllocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
