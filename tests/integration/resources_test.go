//go:build linux

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosandbox/sandbox/internal/testutil"
)

// TestCPUs: --cpus throttles the whole tree. Spinners run until the wall
// limit; their CPU time is what the quota allowed, not what they asked
// for (two spinners on this two-CPU host would take twice the wall time).
func TestCPUs(t *testing.T) {
	testutil.RequireUserNS(t)
	testutil.RequireRoot(t) // a cgroup
	chk := checker(t)
	for _, c := range []struct {
		name string
		cmd  []string
	}{
		{"one", []string{"/checker", "spin"}},
		{"tree", []string{"sh", "-c", "/checker spin & /checker spin & wait"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append(append(chk, "--cpus", "0.2", "--wall-time", "1.5", "--"), c.cmd...)
			r := sandbox(t, args...)
			want(t, r, 137, "wall-limit")
			// The quota allows 0.3 s in 1.5 s, plus a period's slack.
			if r.rec == nil || r.rec.CPUTime < 0.05 || r.rec.CPUTime > 0.5 {
				t.Errorf("cpu_time under --cpus 0.2 for 1.5 s: %s", r)
			}
			if r.rec != nil && len(r.rec.Unenforced) > 0 {
				t.Errorf("unenforced: %s", r)
			}
		})
	}
	for _, bad := range []string{"0.001", "-1", "NaN", "2000", "x"} {
		r := sandbox(t, "--cpus", bad, "--", "true")
		if r.code != 125 || !strings.Contains(r.stderr, "cpus") {
			t.Errorf("--cpus %s: %s", bad, r)
		}
	}
}

// resourcesSpec writes the default sandbox's spec (with the checker bound)
// with resources set to linux.resources, and namespaces without the user
// namespace when noUserNS, and returns its path.
func resourcesSpec(t *testing.T, resources string, noUserNS bool) string {
	t.Helper()
	args := append(append([]string{"run", "--print-spec"}, checker(t)...), "--", "true")
	out, err := exec.Command(sandboxBin(t), args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(out, &spec); err != nil {
		t.Fatal(err)
	}
	lx := spec["linux"].(map[string]any)
	var res any
	if err := json.Unmarshal([]byte(resources), &res); err != nil {
		t.Fatal(err)
	}
	lx["resources"] = res
	if noUserNS {
		var ns []any
		for _, n := range lx["namespaces"].([]any) {
			if n.(map[string]any)["type"] != "user" {
				ns = append(ns, n)
			}
		}
		lx["namespaces"] = ns
		delete(lx, "uidMappings")
		delete(lx, "gidMappings")
	}
	b, _ := json.Marshal(spec)
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSpecResources: a spec's linux.resources are enforced as the flags'
// limits are (seen from inside: the fork loop and the allocator stop);
// flags replace the spec's values; every field that cannot be applied is
// refused by its path, before anything runs.
func TestSpecResources(t *testing.T) {
	testutil.RequireUserNS(t)
	testutil.RequireRoot(t) // a cgroup

	spec := resourcesSpec(t, `{"pids": {"limit": 8}, "memory": {"limit": 33554432}}`, false)
	r := sandbox(t, "--spec", spec, "--", "sh", "-c", "/checker fork 50 && exit 1")
	want(t, r, 1, "pids-limit")
	r = sandbox(t, "--spec", spec, "--", "/checker", "alloc", "268435456")
	want(t, r, 137, "memory-limit")
	// --pids replaces the spec's limit; the spec's memory limit stays.
	r = sandbox(t, "--spec", spec, "--pids", "100", "--", "/checker", "fork", "20")
	if r.code != 0 || !strings.Contains(r.stdout, "started 20\n") {
		t.Errorf("--pids 100 over the spec's 8: %s", r)
	}
	out, _ := exec.Command(sandboxBin(t), "run", "--spec", spec, "--pids", "100", "--print-spec", "--", "true").Output()
	if !strings.Contains(string(out), `"limit": 100`) || !strings.Contains(string(out), `"limit": 33554432`) {
		t.Errorf("--print-spec of a spec with resources and --pids:\n%s", out)
	}

	// runc spec's device rule (deny everything) runs with a user
	// namespace, listed as not enforced; --strict refuses it.
	denyAll := `{"devices": [{"allow": false, "access": "rwm"}]}`
	spec = resourcesSpec(t, denyAll, false)
	r = sandbox(t, "--spec", spec, "--", "true")
	if r.code != 0 || r.rec == nil || len(r.rec.Unenforced) != 1 || !strings.Contains(r.rec.Unenforced[0], "linux.resources.devices") {
		t.Errorf("deny-all device rule: %s", r)
	}
	r = sandbox(t, "--spec", spec, "--strict", "--", "true")
	want(t, r, 125, "setup-error")

	for _, c := range []struct {
		name, resources, field string
		noUserNS               bool
	}{
		{"allow rule", `{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}`,
			"linux.resources.devices[1]", false},
		{"devices without a user namespace", denyAll, "linux.resources.devices", true},
		{"blockIO", `{"blockIO": {"weight": 10}}`, "linux.resources.blockIO", false},
		{"cpuset", `{"cpu": {"cpus": "0"}}`, "linux.resources.cpu.cpus", false},
		{"swap below the limit", `{"memory": {"limit": 67108864, "swap": 1048576}}`, "linux.resources.memory.swap", false},
		{"tiny quota", `{"cpu": {"quota": 10}}`, "linux.resources.cpu.quota", false},
		{"unified", `{"unified": {"memory.high": "1M"}}`, "linux.resources.unified", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := resourcesSpec(t, c.resources, c.noUserNS)
			r := sandbox(t, "--spec", spec, "--", "true")
			want(t, r, 125, "setup-error")
			if !strings.Contains(r.stderr, c.field) {
				t.Errorf("the error does not name %s: %s", c.field, r)
			}
		})
	}
}
