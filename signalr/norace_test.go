//go:build !race

package signalr

const raceEnabled = false
