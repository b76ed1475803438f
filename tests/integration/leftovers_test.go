//go:build linux

package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gosandbox/sandbox/internal/testutil"
)

// TestMain checks that the whole suite leaves nothing behind: no mount on
// the host, no sandbox cgroup, no temporary directory of the sandbox's.
func TestMain(m *testing.M) {
	before := snapshot()
	code := m.Run()
	// What the tests built: sandbox run (unless given) and the checker.
	if bin.path != "" && os.Getenv("SANDBOX_BIN") == "" {
		os.RemoveAll(filepath.Dir(bin.path))
	}
	testutil.RemoveTemps()
	if code == 0 {
		after := snapshot()
		if msg := diff(before, after); msg != "" {
			os.Stderr.WriteString("leftovers after the suite: " + msg + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

type state struct {
	mounts  []string
	cgroups []string
}

func snapshot() state {
	var s state
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			s.mounts = append(s.mounts, f[4])
		}
	}
	filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return filepath.SkipDir
		}
		if d.IsDir() && strings.Contains(p, "/sandbox") {
			s.cgroups = append(s.cgroups, p)
		}
		return nil
	})
	return s
}

func diff(a, b state) string {
	var out []string
	for _, m := range b.mounts {
		if !slices.Contains(a.mounts, m) {
			out = append(out, "mount "+m)
		}
	}
	for _, c := range b.cgroups {
		if !slices.Contains(a.cgroups, c) && !strings.HasSuffix(c, "/sandbox") {
			out = append(out, "cgroup "+c)
		}
	}
	return strings.Join(out, ", ")
}

func syscallKill(pid int) { syscall.Kill(pid, syscall.SIGKILL) }
