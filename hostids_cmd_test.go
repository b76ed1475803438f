//go:build linux

package sandbox_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/hostids"
	"github.com/gosandbox/sandbox/internal/testutil"
)

// commandHostBase is the first host id of the uid_map of the command of
// the sandbox whose pid 1 is pid (the command, not pid 1, enters the user
// namespace of a root caller's sandbox).
func commandHostBase(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		t.Fatal(err)
	}
	kids := strings.Fields(string(b))
	if len(kids) != 1 {
		t.Fatalf("pid 1 has children %q", kids)
	}
	m, err := os.ReadFile("/proc/" + kids[0] + "/uid_map")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(m))
	if len(f) != 3 || f[0] != "0" || f[2] != "65536" {
		t.Fatalf("uid_map of the command: %q", m)
	}
	base, _ := strconv.ParseUint(f[1], 10, 32)
	return base
}

// TestOwnHostIDs: Cmd.OwnHostIDs gives each running sandbox a range of
// host ids of its own, held from Start until Wait, recorded with the
// sandbox's pid 1, and released on a failed Start too; specs it cannot
// move are refused.
func TestOwnHostIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		c := sandbox.Command("true")
		c.OwnHostIDs = true
		if err := c.Start(); err == nil || !strings.Contains(err.Error(), "OwnHostIDs needs a root caller") {
			t.Errorf("unprivileged OwnHostIDs: %v", err)
		}
		return
	}
	testutil.RequireRoot(t)
	lock := func(base uint64) string { return filepath.Join(hostids.DefaultDir, strconv.FormatUint(base, 10)) }
	var cmds []*sandbox.Cmd
	var bases []uint64
	for i := 0; i < 2; i++ {
		c := sandbox.Command("sleep", "60")
		c.OwnHostIDs = true
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { c.Process.Signal(9); c.Wait() }()
		base := commandHostBase(t, c.Process.Pid)
		if base < hostids.DefaultFirst || base%hostids.RangeSize != 0 {
			t.Errorf("sandbox %d maps to %d, outside the pool", i, base)
		}
		rec, err := os.ReadFile(lock(base))
		if f := strings.Fields(string(rec)); err != nil || len(f) != 3 || f[1] != strconv.Itoa(c.Process.Pid) {
			t.Errorf("the lock of range %d: %q %v; want this process, pid 1 (%d) and its start time", base, rec, err, c.Process.Pid)
		}
		cmds, bases = append(cmds, c), append(bases, base)
	}
	if bases[0] == bases[1] {
		t.Fatalf("two running sandboxes share host ids %d", bases[0])
	}
	for i, c := range cmds {
		c.Process.Signal(9)
		c.Wait()
		if _, err := os.Stat(lock(bases[i])); !os.IsNotExist(err) {
			t.Errorf("the lock of range %d after Wait: %v", bases[i], err)
		}
	}

	// A failed Start releases its range.
	before, _ := os.ReadDir(hostids.DefaultDir)
	c := sandbox.Command("/no/such/program")
	c.OwnHostIDs = true
	if err := c.Start(); err == nil {
		t.Fatal("a missing program started")
	}
	if after, _ := os.ReadDir(hostids.DefaultDir); len(after) != len(before) {
		t.Errorf("a failed Start left a lock: %v, then %v", before, after)
	}

	// Specs whose ids cannot be moved as a whole.
	two := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"true"}})
	two.Linux.UIDMappings = append(two.Linux.UIDMappings, specs.LinuxIDMapping{ContainerID: 65536, HostID: 300000, Size: 1})
	nopid := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"true"}})
	for i, n := range nopid.Linux.Namespaces {
		if n.Type == specs.PIDNamespace {
			nopid.Linux.Namespaces = append(nopid.Linux.Namespaces[:i], nopid.Linux.Namespaces[i+1:]...)
			break
		}
	}
	for _, tc := range []struct {
		spec *specs.Spec
		want string
	}{
		{two, "linux.uidMappings must be one range of 65536 ids from id 0"},
		{nopid, "needs a new pid namespace"},
	} {
		c := &sandbox.Cmd{Spec: tc.spec, OwnHostIDs: true}
		if err := c.Start(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error with %q, got %v", tc.want, err)
			if err == nil {
				c.Wait()
			}
		}
	}
}
