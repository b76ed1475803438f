//go:build linux && !race

package spawn

const raceEnabled = false
