package testutil

import (
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// ProcessCPU returns the process's user+system CPU time so far.
func ProcessCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchSeq runs one per iteration, after one untimed warm-up (arena pool,
// page cache), and reports latency percentiles and the process's CPU per
// iteration with the metric names scripts/bench.sh reads: p50-µs, p90-µs,
// parent-cpu-µs/op.
func BenchSeq(b *testing.B, one func() error) {
	b.Helper()
	if err := one(); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	cpu0 := ProcessCPU()
	for i := range b.N {
		t0 := time.Now()
		if err := one(); err != nil {
			b.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	cpu := ProcessCPU() - cpu0
	b.StopTimer()
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1)+0.5)] }
	b.ReportMetric(us(pct(0.5)), "p50-µs")
	b.ReportMetric(us(pct(0.9)), "p90-µs")
	b.ReportMetric(us(cpu)/float64(b.N), "parent-cpu-µs/op")
}
