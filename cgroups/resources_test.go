package cgroups

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestResourcesValues(t *testing.T) {
	r := Resources{
		MemoryMax: 64 << 20, MemorySwapMax: NoSwap, PidsMax: 32,
		CPUQuota: 150 * time.Millisecond, CPUWeight: 100,
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	v2 := []value{
		{"memory", "memory.max", "67108864"},
		{"memory", "memory.swap.max", "0"},
		{"pids", "pids.max", "32"},
		{"cpu", "cpu.max", "150000 100000"},
		{"cpu", "cpu.weight", "100"},
	}
	if got := r.v2Values(); !reflect.DeepEqual(got, v2) {
		t.Errorf("v2 values\n got %v\nwant %v", got, v2)
	}
	v1 := []value{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"memory", "memory.memsw.limit_in_bytes", "67108864"},
		{"pids", "pids.max", "32"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.cfs_quota_us", "150000"},
		{"cpu", "cpu.shares", "2597"},
	}
	if got := r.v1Values(); !reflect.DeepEqual(got, v1) {
		t.Errorf("v1 values\n got %v\nwant %v", got, v1)
	}

	r = Resources{MemoryMax: 1000, MemorySwapMax: 500, CPUQuota: time.Millisecond, CPUPeriod: time.Second}
	if got := r.v1Values()[1]; got.data != "1500" {
		t.Errorf("memsw = %s, want limit+swap 1500", got.data)
	}
	if got := r.v2Values()[1]; got.data != "500" {
		t.Errorf("swap.max = %s, want 500", got.data)
	}
	if got := r.v2Values()[2].data; got != "1000 1000000" {
		t.Errorf("cpu.max = %s", got)
	}
	if got := (&Resources{}).v2Values(); got != nil {
		t.Errorf("zero Resources write %v", got)
	}
}

func TestWeightToShares(t *testing.T) {
	for w, s := range map[uint64]uint64{1: 2, 10000: 262144, 100: 2597} {
		if got := weightToShares(w); got != s {
			t.Errorf("weight %d → shares %d, want %d", w, got, s)
		}
	}
}

func TestResourcesValidate(t *testing.T) {
	bad := Resources{
		MemoryMax: -1, MemorySwapMax: -2, PidsMax: -1,
		CPUQuota: time.Microsecond, CPUPeriod: 2 * time.Second, CPUWeight: 10001,
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid resources accepted")
	}
	for _, want := range []string{"MemoryMax -1", "MemorySwapMax -2", "PidsMax -1", "CPUQuota 1µs", "CPUPeriod 2s", "CPUWeight 10001"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := (&Resources{MemorySwapMax: NoSwap}).Validate(); err == nil || !strings.Contains(err.Error(), "needs MemoryMax") {
		t.Errorf("swap without memory: %v", err)
	}
	if err := (&Resources{CPUPeriod: time.Second}).Validate(); err == nil {
		t.Error("period without quota accepted")
	}
	if _, err := New(Config{Resources: bad}); err == nil {
		t.Error("New accepted invalid resources")
	}
}

func TestErrorsFormat(t *testing.T) {
	e := &FileError{Op: "write", File: "memory.max", Dir: "/sys/fs/cgroup/x", Err: errors.New("invalid argument")}
	if got, want := e.Error(), "cgroups: write memory.max in /sys/fs/cgroup/x: invalid argument"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e = &FileError{Op: "mkdir", Dir: "/sys/fs/cgroup/x", Err: errors.New("permission denied"), Hint: "run as root"}
	if got, want := e.Error(), "cgroups: mkdir /sys/fs/cgroup/x: permission denied (run as root)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	u := &UnenforcedError{Limits: []Unenforced{{Limit: "pids.max", Reason: "no pids", Fix: "mount it"}}}
	if !errors.Is(u, ErrUnenforced) || u.Error() != "cgroups: cannot enforce pids.max: no pids (fix: mount it)" {
		t.Errorf("UnenforcedError %q", u)
	}
}
