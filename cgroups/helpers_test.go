package cgroups

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/spawn"
)

var (
	parentSeq   atomic.Int64
	checkerUsed atomic.Bool // some test ran the checker
)

// testParent is a parent directory name no other test (or engineer's test
// run on the same host) uses.
func testParent() string {
	return fmt.Sprintf("sandbox-test-%d-%d", os.Getpid(), parentSeq.Add(1))
}

// leakCheck fails the test if, by its end, this process holds more
// descriptors, has unreaped children, parent still exists in a hierarchy of
// l, or a process runs the checker binary.
func leakCheck(t *testing.T, l *Layout, parent string) {
	t.Helper()
	fds := openFds(t)
	t.Cleanup(func() {
		var dirs []string
		for _, h := range append([]*Hierarchy{l.V2}, l.V1...) {
			if h == nil || h.Dir() == "" {
				continue
			}
			d := filepath.Join(h.Dir(), parent)
			if _, err := os.Stat(d); err == nil {
				dirs = append(dirs, d)
			}
		}
		if len(dirs) > 0 {
			t.Errorf("leak: cgroup directories remain: %v", dirs)
		}
		if procs := checkerProcs(t); len(procs) > 0 {
			t.Errorf("leak: checker processes remain: %v", procs)
		}
		// Descriptors the runtime opens lazily (the netpoller's) and those
		// other goroutines close a moment later are given a bounded grace.
		for i := 0; ; i++ {
			now := openFds(t)
			extra := newFds(fds, now)
			kids := children()
			if len(extra) == 0 && len(kids) == 0 {
				return
			}
			if i == 100 {
				t.Errorf("leak: new descriptors %v, unreaped children %v", extra, kids)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func openFds(t testing.TB) map[string]string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		m[e.Name()], _ = os.Readlink("/proc/self/fd/" + e.Name())
	}
	return m
}

// newFds lists descriptors open now that were not before, except the
// runtime's netpoller.
func newFds(before, now map[string]string) []string {
	var out []string
	for fd, target := range now {
		if before[fd] == target || target == "anon_inode:[eventpoll]" || target == "anon_inode:[eventfd]" {
			continue
		}
		if _, err := os.Stat("/proc/self/fd/" + fd); err != nil {
			continue // the ReadDir descriptor itself
		}
		out = append(out, fd+"→"+target)
	}
	slices.Sort(out)
	return out
}

// children lists this process's children, zombies included.
func children() []string {
	tasks, _ := os.ReadDir("/proc/self/task")
	var out []string
	for _, task := range tasks {
		b, _ := os.ReadFile("/proc/self/task/" + task.Name() + "/children")
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}

// checkerProcs lists live processes running this test binary's checker.
func checkerProcs(t *testing.T) []int {
	if !checkerUsed.Load() {
		return nil
	}
	path := testutil.Checker(t)
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && exe == path {
			out = append(out, pid)
		}
	}
	return out
}

// started is a checker run under a Cgroup.
type started struct {
	p   *spawn.Process
	out *bufio.Reader
	r   *os.File
}

// startChecker spawns the checker with args inside c: CLONE_INTO_CGROUP
// into c.Dir() and the v1 join steps. Its stdout is readable from the
// returned reader. Cleanup waits for it.
func startChecker(t *testing.T, c *Cgroup, env []string, args ...string) *started {
	t.Helper()
	checkerUsed.Store(true)
	b := spawn.NewBuilder(3)
	c.JoinSteps(b)
	b.Rlimits(nil)
	b.RestoreSigmask()
	b.MarkExec()
	b.Exec(testutil.Checker(t), append([]string{"checker"}, args...), env)
	prog, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer prog.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := spawn.Start(prog, &spawn.Attr{
		Files:  []*os.File{nil, w, os.Stderr},
		Inputs: c.Inputs(),
		Cgroup: c.Dir(),
	})
	w.Close()
	if err != nil {
		r.Close()
		t.Fatalf("Start: %v", err)
	}
	s := &started{p: p, out: bufio.NewReader(r), r: r}
	t.Cleanup(func() {
		p.Kill()
		p.Wait()
		r.Close()
	})
	return s
}

// line reads one line of the checker's output.
func (s *started) line(t *testing.T) string {
	t.Helper()
	l, err := s.out.ReadString('\n')
	if err != nil && err != io.EOF {
		t.Fatalf("reading checker output: %v", err)
	}
	return strings.TrimSpace(l)
}

// wait waits for the checker to exit.
func (s *started) wait(t *testing.T) *spawn.State {
	t.Helper()
	st, err := s.p.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return st
}

// cgroupOf parses /proc/<pid>/cgroup into hierarchy name → path, with
// "unified" for the cgroup2 line and name= hierarchies left out.
func cgroupOf(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		switch {
		case f[0] == "0" && f[1] == "":
			m["unified"] = f[2]
		case !strings.HasPrefix(f[1], "name="):
			m[f[1]] = f[2]
		}
	}
	return m
}

// mustNew is New that fails the test, with leak checks and a Destroy at
// cleanup (registered after the leak check, so it runs first).
func mustNew(t *testing.T, cfg Config) *Cgroup {
	t.Helper()
	if cfg.Parent == "" {
		cfg.Parent = testParent()
	}
	if cfg.Layout == nil {
		l, err := Detect()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Layout = l
	}
	leakCheck(t, cfg.Layout, cfg.Parent)
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return c
}

// sleepIn starts a sleeping checker in c and returns what ends it: kill,
// reap, and destroy c (to defer, so that it runs before the cleanups of
// leakCheck, which mustNew registers too).
func sleepIn(t *testing.T, c *Cgroup) (stop func()) {
	t.Helper()
	s := startChecker(t, c, nil, "sleep", "1h")
	return func() {
		c.Kill()
		s.wait(t)
		if err := c.Destroy(); err != nil {
			t.Error(err)
		}
	}
}
