package cgroups

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func fromJSON(t *testing.T, s string) *specs.LinuxResources {
	t.Helper()
	r := new(specs.LinuxResources)
	if err := json.Unmarshal([]byte(s), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestFromOCI(t *testing.T) {
	for _, c := range []struct {
		name, json string
		want       Resources
		warning    string
	}{
		{"empty", `{}`, Resources{}, ""},
		{"memory alone forbids swap", `{"memory": {"limit": 1048576}}`, Resources{MemoryMax: 1 << 20, MemorySwapMax: NoSwap}, ""},
		{"swap equal to the limit", `{"memory": {"limit": 1048576, "swap": 1048576}}`, Resources{MemoryMax: 1 << 20, MemorySwapMax: NoSwap}, ""},
		{"swap above the limit", `{"memory": {"limit": 1048576, "swap": 3145728}}`, Resources{MemoryMax: 1 << 20, MemorySwapMax: 2 << 20}, ""},
		{"unlimited swap", `{"memory": {"limit": 1048576, "swap": -1}}`, Resources{MemoryMax: 1 << 20}, ""},
		{"swap 0 is absent", `{"memory": {"limit": 1048576, "swap": 0}}`, Resources{MemoryMax: 1 << 20, MemorySwapMax: NoSwap}, ""},
		{"defaults spelled out", `{"cpu": {"idle": 0, "burst": 0, "realtimeRuntime": 0, "realtimePeriod": 0}}`, Resources{}, ""},
		{"useHierarchy false", `{"memory": {"useHierarchy": false}}`, Resources{}, "useHierarchy: ignored"},
		{"no memory limit", `{"memory": {"limit": -1}}`, Resources{}, ""},
		{"kernel memory ignored", `{"memory": {"limit": 1048576, "kernel": 1000}}`, Resources{MemoryMax: 1 << 20, MemorySwapMax: NoSwap}, "memory.kernel: ignored"},
		{"pids", `{"pids": {"limit": 64}}`, Resources{PidsMax: 64}, ""},
		{"pids none", `{"pids": {"limit": -1}}`, Resources{}, ""},
		{"quota", `{"cpu": {"quota": 50000}}`, Resources{CPUQuota: 50 * time.Millisecond}, ""},
		{"quota and period", `{"cpu": {"quota": 20000, "period": 10000}}`, Resources{CPUQuota: 20 * time.Millisecond, CPUPeriod: 10 * time.Millisecond}, ""},
		{"period without quota", `{"cpu": {"quota": -1, "period": 10000}}`, Resources{}, ""},
		{"shares", `{"cpu": {"shares": 1024}}`, Resources{CPUWeight: 39}, ""},
		{"shares at the ends", `{"cpu": {"shares": 262144}}`, Resources{CPUWeight: 10000}, ""},
		{"devices", `{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
			{"allow": true, "type": "b", "major": 8, "access": "m"}]}`,
			Resources{Devices: []DeviceRule{{false, 'a', AnyDevice, AnyDevice, "rwm"}, {true, 'c', 1, 3, "rw"}, {true, 'b', 8, AnyDevice, "m"}}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, warnings, err := FromOCI(fromJSON(t, c.json))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
			if w := strings.Join(warnings, "\n"); c.warning == "" && w != "" || !strings.Contains(w, c.warning) {
				t.Errorf("warnings %q, want %q", w, c.warning)
			}
		})
	}
	if r, w, err := FromOCI(nil); err != nil || w != nil || r.Any() {
		t.Errorf("nil: %+v %v %v", r, w, err)
	}
}

// TestFromOCIRefused: every field that would ask for a limit this package
// does not apply, and every value out of range, is an error naming its
// path; all of them are reported at once.
func TestFromOCIRefused(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"memory": {"limit": -5}}`, "linux.resources.memory.limit: -5"},
		{`{"memory": {"swap": 1048576}}`, "linux.resources.memory.swap: 1048576 needs memory.limit"},
		{`{"memory": {"limit": 2097152, "swap": 1048576}}`, "linux.resources.memory.swap: 1048576 is below memory.limit"},
		{`{"memory": {"limit": 2097152, "swap": -2}}`, "linux.resources.memory.swap: -2"},
		{`{"memory": {"reservation": 1}}`, "linux.resources.memory.reservation: not supported yet"},
		{`{"memory": {"swappiness": 1}}`, "linux.resources.memory.swappiness: not supported yet"},
		{`{"memory": {"disableOOMKiller": true}}`, "linux.resources.memory.disableOOMKiller: not supported yet"},
		{`{"cpu": {"quota": 999}}`, "linux.resources.cpu.quota: 999 µs: at least 1000"},
		{`{"cpu": {"quota": -7}}`, "linux.resources.cpu.quota: -7"},
		{`{"cpu": {"quota": 50000, "period": 2000000}}`, "linux.resources.cpu.period: 2000000 µs"},
		{`{"cpu": {"shares": 1}}`, "linux.resources.cpu.shares: 1: must be between 2 and 262144"},
		{`{"cpu": {"burst": 1}}`, "linux.resources.cpu.burst: not supported yet"},
		{`{"cpu": {"realtimeRuntime": 1}}`, "linux.resources.cpu.realtimeRuntime"},
		{`{"cpu": {"cpus": "0-1"}}`, "linux.resources.cpu.cpus: not supported yet"},
		{`{"cpu": {"mems": "0"}}`, "linux.resources.cpu.mems: not supported yet"},
		{`{"cpu": {"idle": 1}}`, "linux.resources.cpu.idle: not supported yet"},
		{`{"pids": {"limit": 999999999}}`, "linux.resources.pids.limit: 999999999: at most"},
		{`{"pids": {"limit": 0}}`, "linux.resources.pids.limit: 0 allows no process"},
		{`{"pids": {"limit": -5}}`, "linux.resources.pids.limit: -5"},
		{`{"memory": {"limit": 65536}}`, "linux.resources.memory.limit: 65536 bytes: at least 1048576"},
		{`{"cpu": {"quota": 18446744073714551}}`, "linux.resources.cpu.quota: 18446744073714551 µs: at most"},
		{`{"cpu": {"period": 10}}`, "linux.resources.cpu.period: 10 µs"},
		{`{"devices": [{"allow": true, "type": "x"}]}`, "linux.resources.devices[0].type: \"x\""},
		{`{"devices": [{"allow": true, "major": 1}]}`, "linux.resources.devices[0]: allow a 1:* rwm: a rule for every device type"},
		{`{"devices": [{"allow": true, "type": "c", "access": "rx"}]}`, "linux.resources.devices[0]: device rule access \"rx\""},
		{`{"blockIO": {"weight": 10}}`, "linux.resources.blockIO: not supported yet"},
		{`{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}`, "linux.resources.hugepageLimits: not supported yet"},
		{`{"network": {"classID": 1}}`, "linux.resources.network: not supported yet"},
		{`{"rdma": {"mlx": {"hcaHandles": 1}}}`, "linux.resources.rdma: not supported yet"},
		{`{"unified": {"memory.high": "1"}}`, "linux.resources.unified: not supported yet"},
	} {
		_, _, err := FromOCI(fromJSON(t, c.json))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.json, err, c.want)
		}
	}
	_, _, err := FromOCI(fromJSON(t, `{"memory": {"reservation": 1}, "cpu": {"cpus": "0"}, "unified": {"a": "b"}}`))
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("three refused fields, not three errors: %v", err)
	}
}
