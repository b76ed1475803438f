//go:build linux

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// printedSpec is `sandbox run --print-spec ARGS… -- true`, decoded.
func printedSpec(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, err := exec.Command(sandboxBin(t), append(append([]string{"run", "--print-spec"}, args...), "--", "true")...).Output()
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(out, &spec); err != nil {
		t.Fatal(err)
	}
	return spec
}

// dropUserNS takes the user namespace and its id maps out of spec.
func dropUserNS(spec map[string]any) {
	lx := spec["linux"].(map[string]any)
	lx["namespaces"] = slices.DeleteFunc(lx["namespaces"].([]any), func(n any) bool { return n.(map[string]any)["type"] == "user" })
	delete(lx, "uidMappings")
	delete(lx, "gidMappings")
}

// writeSpec writes spec to a config.json of the test's and returns its
// path.
func writeSpec(t *testing.T, spec map[string]any) string {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// resourcesSpec writes the default sandbox's spec (with the checker bound)
// with resources set to linux.resources, and namespaces without the user
// namespace when noUserNS, and returns its path.
func resourcesSpec(t *testing.T, resources string, noUserNS bool) string {
	t.Helper()
	spec := printedSpec(t, checker(t)...)
	var res any
	if err := json.Unmarshal([]byte(resources), &res); err != nil {
		t.Fatal(err)
	}
	spec["linux"].(map[string]any)["resources"] = res
	if noUserNS {
		dropUserNS(spec)
	}
	return writeSpec(t, spec)
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

	// runc spec's device rule (deny everything) is enforced: the nodes
	// the sandbox makes stay usable, nothing is listed unenforced.
	denyAll := `{"devices": [{"allow": false, "access": "rwm"}]}`
	spec = resourcesSpec(t, denyAll, false)
	r = sandbox(t, "--spec", spec, "--strict", "--", "sh", "-c", "head -c 1 /dev/urandom >/dev/null && echo ok")
	if r.code != 0 || r.stdout != "ok\n" || r.rec == nil || len(r.rec.Unenforced) != 0 {
		t.Errorf("deny-all device rule: %s", r)
	}
	// A setup that fails after the cgroup was made leaves none (the
	// suite's TestMain checks).
	r = sandbox(t, "--spec", spec, "--bind", "/nonexistent/src:/x", "--", "true")
	want(t, r, 125, "setup-error")

	for _, c := range []struct {
		name, resources, field string
	}{
		{"device type", `{"devices": [{"allow": false, "type": "x", "access": "rwm"}]}`, "linux.resources.devices[0].type"},
		{"pids 0", `{"pids": {"limit": 0}}`, "linux.resources.pids.limit"},
		{"tiny memory", `{"memory": {"limit": 65536}}`, "linux.resources.memory.limit"},
		{"blockIO", `{"blockIO": {"weight": 10}}`, "linux.resources.blockIO"},
		{"cpuset", `{"cpu": {"cpus": "0"}}`, "linux.resources.cpu.cpus"},
		{"swap below the limit", `{"memory": {"limit": 67108864, "swap": 1048576}}`, "linux.resources.memory.swap"},
		{"tiny quota", `{"cpu": {"quota": 10}}`, "linux.resources.cpu.quota"},
		{"unified", `{"unified": {"memory.high": "1M"}}`, "linux.resources.unified"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := resourcesSpec(t, c.resources, false)
			r := sandbox(t, "--spec", spec, "--", "true")
			want(t, r, 125, "setup-error")
			if !strings.Contains(r.stderr, c.field) {
				t.Errorf("the error does not name %s: %s", c.field, r)
			}
		})
	}
}

// TestDeviceRules: a spec's device rules hold from inside, for a root
// command with no user namespace of its own (whom nothing else stops): a
// host device bound in is opened only as the rules allow.
func TestDeviceRules(t *testing.T) {
	testutil.RequireRoot(t)
	for _, dev := range []string{"/dev/fuse", "/dev/net/tun"} {
		if _, err := os.Stat(dev); err != nil {
			testutil.Skip(t, "needs "+dev+" (the probe's devices)")
		}
	}
	probe := "(exec 3</fuse && echo read) ; (exec 3>/fuse && echo write) ; cat /dev/null && echo null; " +
		"mknod /tmp/kmsg c 1 11 && echo mknod; (exec 3<>/dev/net/tun && echo linux.devices)"
	for _, c := range []struct {
		name, resources, want string
	}{
		{"no rules", `{}`, "read\nwrite\nnull\nmknod\nlinux.devices\n"},
		// linux.devices' node stays usable: the sandbox allows its own
		// nodes after the spec's rules.
		{"deny all", `{"devices": [{"allow": false, "access": "rwm"}]}`, "null\nlinux.devices\n"},
		{"deny all, allow reads", `{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "r"}]}`,
			"read\nnull\nlinux.devices\n"},
		{"deny writes", `{"devices": [{"allow": false, "type": "c", "major": 10, "minor": 229, "access": "w"}]}`,
			"read\nnull\nmknod\nlinux.devices\n"},
		{"deny, then allow all", `{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "access": "rwm"}]}`,
			"read\nwrite\nnull\nmknod\nlinux.devices\n"},
		{"allow mknod only", `{"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "access": "m"}]}`,
			"null\nmknod\nlinux.devices\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := resourcesSpec(t, c.resources, true)
			// In the spec, not --bind, which adds nodev.
			b, _ := os.ReadFile(spec)
			var m map[string]any
			json.Unmarshal(b, &m)
			m["mounts"] = append(m["mounts"].([]any), map[string]any{"destination": "/fuse", "type": "bind", "source": "/dev/fuse", "options": []string{"bind"}})
			m["linux"].(map[string]any)["devices"] = []any{map[string]any{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}}
			b, _ = json.Marshal(m)
			os.WriteFile(spec, b, 0o644)
			// CAP_MKNOD: the device rules are what stop mknod.
			r := sandbox(t, "--spec", spec, "--cap-add", "MKNOD", "--", "sh", "-c", probe)
			if r.code != 0 || r.stdout != c.want || r.rec == nil || len(r.rec.Unenforced) != 0 {
				t.Errorf("want %q: %s", c.want, r)
			}
			if !strings.HasPrefix(c.want, "read\nwrite") && !strings.Contains(r.stderr, "Operation not permitted") {
				t.Errorf("a refused open is not EPERM (the device cgroup's): %s", r)
			}
		})
	}
}

// TestDeviceRulesWithoutCgroup2: where the sandbox's cgroup2 directory
// cannot be made (here a read-only cgroup2 mount in a mount namespace of
// the test's), device rules are listed unenforced with a user namespace,
// and refused without one: never dropped silently.
func TestDeviceRulesWithoutCgroup2(t *testing.T) {
	mnt := testutil.RequireCgroup2(t)
	testutil.RequireRoot(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare (util-linux) is missing")
	}
	denyAll := `{"devices": [{"allow": false, "access": "rwm"}]}`
	for _, c := range []struct {
		name     string
		noUserNS bool
		code     int
	}{{"user namespace", false, 0}, {"no user namespace", true, 125}} {
		t.Run(c.name, func(t *testing.T) {
			spec := resourcesSpec(t, denyAll, c.noUserNS)
			status := filepath.Join(t.TempDir(), "status.json")
			cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
				`mount -o remount,bind,ro "$1" && exec "$2" run --status-json "$3" --spec "$4" -- true`,
				"sh", mnt, sandboxBin(t), status, spec)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(status)
			var rec record
			json.Unmarshal(b, &rec)
			if code != c.code || len(rec.Unenforced) != 1 || !strings.HasPrefix(rec.Unenforced[0], "device rules") {
				t.Errorf("exit %d (want %d), record %s\n%s", code, c.code, b, out)
			}
		})
	}
}
