package cgroups

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosandbox/sandbox/internal/testutil"
	"golang.org/x/sys/unix"
)

// Real tests run as root against the host's hierarchies. Each uses its own
// parent directory and checks that nothing is left behind.

// hostLayout is the detected layout, or a variant of it: "v2" keeps only
// the cgroup2 hierarchy (the pure-v2 code path, against the real unified
// mount), "v1" only the v1 hierarchies (the legacy path).
func hostLayout(t testing.TB, variant string) *Layout {
	t.Helper()
	testutil.RequireRoot(t)
	l, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	switch variant {
	case "v2":
		testutil.RequireCgroup2(t)
		if l.V2 == nil || l.V2.Dir() == "" {
			testutil.Skip(t, "needs this process's cgroup2 cgroup to be visible")
		}
		return &Layout{Mode: ModeUnified, V2: l.V2}
	case "v1":
		if len(l.V1) == 0 {
			testutil.SkipAlways(t, "needs cgroup v1 hierarchies; runs on hybrid and v1 hosts (the CI host is hybrid)")
		}
		return &Layout{Mode: ModeLegacy, V1: l.V1}
	}
	if l.Mode == ModeNone {
		testutil.Skip(t, "needs a mounted cgroup hierarchy")
	}
	return l
}

// skipWithout skips when the layout lacks a controller a test needs.
func skipWithout(t testing.TB, l *Layout, ctrls ...string) {
	t.Helper()
	for _, c := range ctrls {
		if h := l.Controller(c); h == nil || h.Dir() == "" {
			testutil.Skip(t, "needs the "+c+" controller delegated to this process's cgroup")
		}
	}
}

func TestProbeHost(t *testing.T) {
	l := hostLayout(t, "")
	r, err := Probe(l)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", r)
	for _, c := range r.Controllers {
		if c.Name == "memory" || c.Name == "pids" {
			if !c.Usable || !c.Writable {
				t.Errorf("%s is not usable as root: %+v", c.Name, c)
			}
		}
	}
	if l.V2 != nil && !r.V2Writable {
		t.Errorf("cgroup2 not writable as root")
	}
}

// TestPlacement spawns a checker and reads its /proc/<pid>/cgroup: it is
// in the sandbox's cgroup in every hierarchy, the cgroup2 one by
// CLONE_INTO_CGROUP and the v1 ones by the join steps.
func TestPlacement(t *testing.T) {
	for _, variant := range []string{"", "v2", "v1"} {
		t.Run("layout="+variant, func(t *testing.T) {
			l := hostLayout(t, variant)
			c := mustNew(t, Config{Layout: l})
			s := startChecker(t, c, nil, "sleep", "1h")
			got := cgroupOf(t, s.p.Pid)
			want := c.Paths()
			if len(want) == 0 {
				t.Fatal("no hierarchy")
			}
			for name, p := range want {
				if got[name] != p {
					t.Errorf("%s: child is in %q, want %q (its /proc/pid/cgroup: %v)", name, got[name], p, got)
				}
			}
			pids, err := c.Pids()
			if err != nil || !slices.Contains(pids, s.p.Pid) {
				t.Errorf("Pids %v, %v; want %d in it", pids, err, s.p.Pid)
			}
			if err := c.Destroy(); err != nil {
				t.Fatal(err)
			}
			st := s.wait(t)
			if sig, ok := st.Signaled(); !ok || sig != unix.SIGKILL {
				t.Errorf("checker ended with %v, want SIGKILL by Destroy", st)
			}
		})
	}
}

// TestMemoryLimit runs an allocator over the limit: the OOM killer kills
// it, and Stats reports the kill and a peak at or below the limit.
func TestMemoryLimit(t *testing.T) {
	for _, variant := range []string{"", "v1"} {
		t.Run("layout="+variant, func(t *testing.T) {
			l := hostLayout(t, variant)
			skipWithout(t, l, "memory")
			const limit = 32 << 20
			c := mustNew(t, Config{Layout: l, Resources: Resources{MemoryMax: limit, MemorySwapMax: NoSwap}})
			s := startChecker(t, c, nil, "alloc", strconv.Itoa(256<<20))
			st := s.wait(t)
			if sig, ok := st.Signaled(); !ok || sig != unix.SIGKILL {
				t.Fatalf("allocator ended with %v, want SIGKILL from the OOM killer", st)
			}
			stats, err := c.Stats()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("stats %+v", stats)
			if stats.OOMKills < 1 {
				t.Errorf("OOMKills %d, want ≥ 1", stats.OOMKills)
			}
			// memory.failcnt (v1) stays 0 on some kernels (seen on 6.18);
			// memory.events max (v2) is reliable.
			if _, v2 := c.ctrlDir("memory"); v2 && stats.MemoryLimitHits < 1 {
				t.Errorf("MemoryLimitHits %d, want ≥ 1", stats.MemoryLimitHits)
			}
			// The v1 peak may pass the limit by a page.
			if stats.MemoryPeak < limit/2 || stats.MemoryPeak > limit+limit/16 {
				t.Errorf("MemoryPeak %d, want near the %d limit", stats.MemoryPeak, limit)
			}
			if stats.CPU <= 0 {
				t.Errorf("CPU %v, want > 0", stats.CPU)
			}
		})
	}
}

// TestPidsLimit forks 100 sleepers under pids.max=10: fewer start, and
// pids.events counts the refusals.
func TestPidsLimit(t *testing.T) {
	l := hostLayout(t, "")
	skipWithout(t, l, "pids")
	c := mustNew(t, Config{Layout: l, Resources: Resources{PidsMax: 10}})
	// One Go thread per process keeps the count about processes.
	s := startChecker(t, c, []string{"GOMAXPROCS=1"}, "fork", "100")
	out := s.line(t)
	s.wait(t)
	var n int
	if _, err := fmt.Sscanf(out, "started %d", &n); err != nil {
		t.Logf("checker output %q (it may have died when a thread could not start)", out)
	} else if n >= 100 {
		t.Errorf("started %d of 100 under pids.max=10", n)
	}
	stats, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.PidsLimitHits < 1 {
		t.Errorf("PidsLimitHits %d, want ≥ 1 (output %q)", stats.PidsLimitHits, out)
	}
	t.Logf("output %q, stats %+v", out, stats)
}

// TestKillDaemon: a double-forked daemon in its own session outlives its
// parent; Kill still kills it, on every code path.
func TestKillDaemon(t *testing.T) {
	for _, variant := range []string{"", "v2", "v1"} {
		t.Run("layout="+variant, func(t *testing.T) {
			l := hostLayout(t, variant)
			c := mustNew(t, Config{Layout: l})
			s := startChecker(t, c, nil, "daemon", "1h")
			pid, err := strconv.Atoi(s.line(t))
			if err != nil {
				t.Fatalf("daemon pid: %v", err)
			}
			s.wait(t) // the daemon's parent is gone
			pidfd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				t.Fatalf("pidfd_open(%d): %v", pid, err)
			}
			defer unix.Close(pidfd)
			for _, n := range c.nodes() {
				if !isMember(pid, n) {
					t.Errorf("daemon %d is not in %s", pid, n.dir)
				}
			}
			if err := c.Kill(); err != nil {
				t.Fatal(err)
			}
			// The pidfd becomes readable when the daemon has exited; no
			// timeout: the test's own deadline catches a failure.
			for {
				_, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, -1)
				if err != unix.EINTR {
					break
				}
			}
			if err := c.Destroy(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCloneIntoUnified places children with CLONE_INTO_CGROUP alone,
// against the real cgroup2 mount (with or without controllers), and reads
// cpu.stat, which cgroup2 keeps without the cpu controller.
func TestCloneIntoUnified(t *testing.T) {
	l := hostLayout(t, "v2")
	c := mustNew(t, Config{Layout: l})
	if c.Dir() == nil || len(c.Inputs()) != 0 {
		t.Fatalf("Dir %v, Inputs %v", c.Dir(), c.Inputs())
	}
	s := startChecker(t, c, nil, "alloc", strconv.Itoa(8<<20))
	if out := s.line(t); !strings.HasPrefix(out, "ok") {
		t.Errorf("checker: %q", out)
	}
	if st := s.wait(t); st.ExitCode() != 0 {
		t.Errorf("checker: %v", st)
	}
	stats, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if stats.CPU <= 0 || stats.CPU < stats.CPUUser {
		t.Errorf("CPU %v (user %v)", stats.CPU, stats.CPUUser)
	}
}

// TestWriteError: a rejected value names the file, directory and errno.
func TestWriteError(t *testing.T) {
	l := hostLayout(t, "")
	c := mustNew(t, Config{Layout: l})
	dir := c.Dirs()[0]
	err := c.l.writeFile(dir, "cgroup.procs", "not-a-pid")
	want := "cgroups: write cgroup.procs in " + dir + ": invalid argument"
	if err == nil || err.Error() != want || !errors.Is(err, unix.EINVAL) {
		t.Errorf("got %v, want %q", err, want)
	}
	err = c.l.writeFile(dir, "memory.no_such_file", "1")
	if !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), "open memory.no_such_file in "+dir) {
		t.Errorf("missing file: %v", err)
	}
}

// TestConcurrent creates and destroys sandboxes from many goroutines
// under one parent: the parent is created and removed concurrently, and
// nothing remains.
func TestConcurrent(t *testing.T) {
	l := hostLayout(t, "")
	parent := testParent()
	leakCheck(t, l, parent)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 8; i++ {
				c, err := New(Config{Layout: l, Parent: parent, Resources: Resources{PidsMax: 100}, BestEffort: true})
				if err != nil {
					errs <- err
					return
				}
				if err := c.Destroy(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// The last Destroy of a relative parent removes it whoever created it;
	// if two raced, one more sandbox cleans up after them.
	if c, err := New(Config{Layout: l, Parent: parent}); err == nil {
		c.Destroy()
	}
	for _, h := range append([]*Hierarchy{l.V2}, l.V1...) {
		if h != nil {
			if _, err := os.Stat(h.Dir() + "/" + parent); err == nil {
				t.Logf("%s: parent remains", h.Name())
			}
		}
	}
}

// TestEnableUnavailableReal enables, on the real cgroup2 mount, a
// controller the sandbox's parent does not offer (the kernel answers the
// write with ENOENT): it is reported as unavailable, with the fix, not
// mistaken for a vanished directory.
func TestEnableUnavailableReal(t *testing.T) {
	l := hostLayout(t, "v2")
	c := mustNew(t, Config{Layout: l})
	dir := c.Dirs()[0]
	offered, err := os.ReadFile(dir + "/cgroup.controllers")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc([]string{"memory", "pids", "cpu", "io", "hugetlb", "misc", "rdma"}, func(c string) bool {
		return !slices.Contains(strings.Fields(string(offered)), c)
	})
	if i < 0 {
		testutil.SkipAlways(t, "every controller is offered to the sandbox's cgroup")
	}
	ctrl := []string{"memory", "pids", "cpu", "io", "hugetlb", "misc", "rdma"}[i]
	failed := map[string]error{}
	got := l.enableControllers(dir, []string{ctrl}, failed, "")
	if _, gone := failed[""]; len(got) != 0 || gone || !errors.Is(failed[ctrl], unix.ENOENT) ||
		!strings.Contains(failed[ctrl].Error(), ctrl+" is not in "+dir+"/cgroup.controllers") {
		t.Errorf("enabled %v, failures %v", got, failed)
	}
}

// TestSweep: a supervisor died without Destroy, leaving a sandbox cgroup
// (with a process) named after its pid. Sweep kills the process and
// removes the directories; cgroups of live creators stay.
func TestSweep(t *testing.T) {
	l := hostLayout(t, "")
	parent := testParent()
	leakCheck(t, l, parent)
	// A pid that is certainly dead: a reaped child's.
	dead := startChecker(t, mustNew(t, Config{Layout: l}), nil, "exit", "0")
	dead.wait(t)
	deadPid := dead.p.Pid

	orphan, err := New(Config{Layout: l, Parent: parent, Name: fmt.Sprintf("%d-%d-1", pidNamespace(), deadPid)})
	if err != nil {
		t.Fatal(err)
	}
	s := startChecker(t, orphan, nil, "sleep", "1h")
	orphan.mu.Lock()
	orphan.closeFiles() // the supervisor is gone: only the directories remain
	orphan.mu.Unlock()
	live := mustNew(t, Config{Layout: l, Parent: parent})
	// A sandbox made in another pid namespace, where the same pid may
	// well run: Sweep cannot judge it and leaves it alone.
	foreign, err := New(Config{Layout: l, Parent: parent, Name: fmt.Sprintf("%d-%d-1", pidNamespace()+1, deadPid)})
	if err != nil {
		t.Fatal(err)
	}
	defer sleepIn(t, foreign)()

	names, err := Sweep(l, parent)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{orphan.Name()}; !slices.Equal(names, want) {
		t.Errorf("swept %v, want %v", names, want)
	}
	if st := s.wait(t); st.Exited() {
		t.Errorf("the orphan's process ended with %v, want killed", st)
	}
	for _, d := range orphan.Dirs() {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s remains", d)
		}
	}
	for _, d := range append(live.Dirs(), foreign.Dirs()...) {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("a live sandbox's %s was removed", d)
		}
	}
	if procs, err := foreign.Pids(); err != nil || len(procs) != 1 {
		t.Errorf("the foreign sandbox's processes: %v, %v; want its sleeper", procs, err)
	}
}

// TestSweepEndedNamespace: from the initial pid namespace, Sweep removes
// the empty sandbox cgroups of a pid namespace that has ended (nothing
// runs in it: no pid namespace has inode 1), and leaves one that still
// holds a process, and those of a live pid namespace.
func TestSweepEndedNamespace(t *testing.T) {
	l := hostLayout(t, "")
	if pidNamespace() != initPidNS {
		testutil.SkipAlways(t, "not in the initial pid namespace, which alone sees every other")
	}
	parent := testParent()
	leakCheck(t, l, parent)
	ended, err := New(Config{Layout: l, Parent: parent, Name: "1-4242-1"})
	if err != nil {
		t.Fatal(err)
	}
	ended.mu.Lock()
	ended.closeFiles() // its supervisor is gone with its namespace
	ended.mu.Unlock()
	held, err := New(Config{Layout: l, Parent: parent, Name: "1-4242-2"})
	if err != nil {
		t.Fatal(err)
	}
	defer sleepIn(t, held)()
	// A live pid namespace's cgroup, empty, stays: its creator may be
	// about to use it. (A namespace has a name to give a cgroup only once
	// a process is in it: its pid 1, here under unshare --fork.)
	var liveNS []*Cgroup
	for i, args := range [][]string{{"--pid", "--fork", "--kill-child", "sleep", "60"}} {
		un := exec.Command("unshare", args...)
		if err := un.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { un.Process.Kill(); un.Wait() }()
		var st unix.Stat_t
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var own unix.Stat_t
			unix.Stat("/proc/self/ns/pid", &own)
			if unix.Stat(fmt.Sprintf("/proc/%d/ns/pid_for_children", un.Process.Pid), &st) == nil && st.Ino != own.Ino {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("unshare %v made no pid namespace", args)
			}
		}
		liveNS = append(liveNS, mustNew(t, Config{Layout: l, Parent: parent, Name: fmt.Sprintf("%d-1-%d", st.Ino, i)}))
	}
	names, err := Sweep(l, parent)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1-4242-1"}; !slices.Equal(names, want) {
		t.Errorf("swept %v, want %v", names, want)
	}
	for _, d := range ended.Dirs() {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s remains", d)
		}
	}
	for _, d := range append(held.Dirs(), liveNS[0].Dirs()...) {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s was removed: it holds a process, or its pid namespace lives", d)
		}
	}
}

// TestDestroyRemovesChildren: a command allowed to manage its cgroup made
// cgroups inside it; Destroy removes them with it.
func TestDestroyRemovesChildren(t *testing.T) {
	l := hostLayout(t, "")
	parent := testParent()
	leakCheck(t, l, parent)
	c := mustNew(t, Config{Layout: l, Parent: parent})
	dirs := c.Dirs()
	for _, d := range dirs {
		for _, sub := range []string{"a", "a/b", "c"} {
			if err := os.Mkdir(filepath.Join(d, sub), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s remains", d)
		}
	}
}

// TestFreezeKillDescendants: the kill without cgroup.kill (v1 freezer, or
// signalling alone) reaches processes a sandbox moved into cgroups below
// its own.
func TestFreezeKillDescendants(t *testing.T) {
	l := hostLayout(t, "")
	c := mustNew(t, Config{Layout: l})
	n := c.v1Node("freezer")
	file := "freezer.state"
	if n == nil {
		n, file = c.v2, "cgroup.freeze"
	}
	if n == nil {
		testutil.SkipAlways(t, "no freezer here")
	}
	s := startChecker(t, c, nil, "sleep", "1h")
	child := filepath.Join(n.dir, "child")
	if err := os.Mkdir(child, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(child, "cgroup.procs"), []byte(strconv.Itoa(s.p.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.freezeKill(n, file); err != nil {
		t.Fatal(err)
	}
	// Killed means gone at once: give it a moment, then look.
	deadline := time.Now().Add(5 * time.Second)
	for unix.Kill(s.p.Pid, 0) == nil && procState(s.p.Pid) != "Z" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := procState(s.p.Pid); st != "Z" && st != "" {
		t.Fatalf("the process in a child cgroup is still running (state %s) after the kill", st)
	}
	if st := s.wait(t); st.Exited() {
		t.Errorf("the process in a child cgroup ended with %v, want killed", st)
	}
}

// procState is the state letter of pid in /proc/PID/stat ("" when gone).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return string(b[i+2])
	}
	return ""
}

// TestDeviceProgramsLoad passes the programs of TestDeviceProgram's kind
// of rule lists through the kernel's verifier.
func TestDeviceProgramsLoad(t *testing.T) {
	testutil.RequireRoot(t)
	for _, rules := range [][]DeviceRule{
		nil,
		{{false, 'a', AnyDevice, AnyDevice, "rwm"}},
		{{true, 'c', 1, 3, "r"}, {false, 'a', AnyDevice, AnyDevice, "rwm"}, {true, 'c', 136, AnyDevice, "rw"}, {false, 'b', 8, 0, "w"}},
		{{false, 'c', 4294967295, 4294967294, "m"}},
		manyDeviceRules(MaxDeviceRules),
	} {
		fd, err := loadDeviceProgram(rules)
		if err != nil {
			if len(rules) > 10 {
				rules = rules[:10] // and more
			}
			t.Errorf("%v: %.2000v", rules, err)
			continue
		}
		unix.Close(fd)
	}
}

// TestDeviceProgramAncestors: the sandbox's program is added to those of
// its cgroup's ancestors attached with BPF_F_ALLOW_MULTI, and refused
// (errOverride, its attach undone) where it would replace one attached
// with BPF_F_ALLOW_OVERRIDE.
func TestDeviceProgramAncestors(t *testing.T) {
	root := testutil.RequireCgroup2(t)
	testutil.RequireRoot(t)
	denyAll := []DeviceRule{{false, 'a', AnyDevice, AnyDevice, "rwm"}}
	for _, c := range []struct {
		name  string
		flags uint32
		want  error
	}{
		{"multi", bpfFAllowMulti, nil},
		{"override", 1 /* BPF_F_ALLOW_OVERRIDE */, errOverride},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := filepath.Join(root, fmt.Sprintf("sandbox-test-bpf-%d-%s", os.Getpid(), c.name))
			child := filepath.Join(parent, "leaf")
			if err := os.MkdirAll(child, 0o755); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(parent)
			defer os.Remove(child)
			open := func(p string) *os.File {
				f, err := os.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				return f
			}
			pf, cf := open(parent), open(child)
			prog, err := loadDeviceProgram(denyAll)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(prog)
			if err := attachProgram(bpfProgAttach, pf, prog, c.flags); err != nil {
				t.Fatal(err)
			}
			before, _ := effectiveDevicePrograms(cf)
			err = attachDeviceProgram(cf, []DeviceRule{{true, 'a', AnyDevice, AnyDevice, "rwm"}})
			if !errors.Is(err, c.want) && err != c.want {
				t.Fatalf("attach under a %s parent: %v, want %v", c.name, err, c.want)
			}
			after, _ := effectiveDevicePrograms(cf)
			if wantAfter := before + map[bool]uint32{true: 1, false: 0}[c.want == nil]; after != wantAfter {
				t.Errorf("effective programs %d → %d, want %d", before, after, wantAfter)
			}
		})
	}
}

// manyDeviceRules is a list of n rules of every shape.
func manyDeviceRules(n int) []DeviceRule {
	rules := []DeviceRule{{false, 'a', AnyDevice, AnyDevice, "rwm"}}
	for i := 1; len(rules) < n; i++ {
		typ := byte("cb"[i%2])
		minor := int64(i)
		if i%7 == 0 {
			minor = AnyDevice
		}
		rules = append(rules, DeviceRule{i%3 != 0, typ, int64(i % 4096), minor, []string{"r", "rw", "m", "rwm", "w"}[i%5]})
	}
	return rules
}
