package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosandbox/sandbox/spawn"
	"golang.org/x/sys/unix"
)

// fakeLayout builds plain directories standing in for cgroupfs under a
// temporary root: a cgroup2 hierarchy with v2ctrls available, and one v1
// hierarchy per entry of v1 (a comma-separated controller list). This
// process's cgroup is /own in each.
func fakeLayout(t *testing.T, v2ctrls []string, v1 ...string) *Layout {
	t.Helper()
	root := t.TempDir()
	l := &Layout{fake: true}
	mk := func(mount string) {
		if err := os.MkdirAll(filepath.Join(mount, "own"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if v2ctrls != nil {
		mount := filepath.Join(root, "unified")
		mk(mount)
		l.V2 = &Hierarchy{Version: 2, Controllers: v2ctrls, Mount: mount, Root: "/", Path: "/own"}
	}
	for _, ctrls := range v1 {
		mount := filepath.Join(root, ctrls)
		mk(mount)
		l.V1 = append(l.V1, &Hierarchy{Version: 1, Controllers: strings.Split(ctrls, ","), Mount: mount, Root: "/", Path: "/own"})
	}
	switch {
	case l.V2 != nil && len(l.V1) > 0:
		l.Mode = ModeHybrid
	case l.V2 != nil:
		l.Mode = ModeUnified
	default:
		l.Mode = ModeLegacy
	}
	return l
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeString(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkFiles(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for f, v := range want {
		if got := readString(t, filepath.Join(dir, f)); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
}

func TestFakeV2(t *testing.T) {
	l := fakeLayout(t, []string{"cpuset", "cpu", "io", "memory", "pids"})
	own := l.V2.Dir()
	fds := openFds(t)
	c, err := New(Config{Layout: l, Name: "box", Parent: "sandbox/deep", Resources: Resources{
		MemoryMax: 256 << 20, MemorySwapMax: NoSwap, PidsMax: 64,
		CPUQuota: 50 * time.Millisecond, CPUPeriod: 100 * time.Millisecond, CPUWeight: 200,
	}})
	if err != nil {
		t.Fatal(err)
	}
	// Controllers are enabled from this process's cgroup down to the leaf's
	// parent, in one write per level.
	for _, d := range []string{own, own + "/sandbox", own + "/sandbox/deep"} {
		checkFiles(t, d, map[string]string{"cgroup.subtree_control": "+memory +pids +cpu"})
	}
	leaf := own + "/sandbox/deep/box"
	checkFiles(t, leaf, map[string]string{
		"memory.max": "268435456", "memory.swap.max": "0", "pids.max": "64",
		"cpu.max": "50000 100000", "cpu.weight": "200",
	})
	if got := c.Dirs(); !slices.Equal(got, []string{leaf}) {
		t.Errorf("Dirs %v", got)
	}
	if got := c.Paths(); got["unified"] != "/own/sandbox/deep/box" {
		t.Errorf("Paths %v", got)
	}
	if c.Dir() == nil || c.Dir().Name() != leaf {
		t.Errorf("Dir %v", c.Dir())
	}
	if len(c.Inputs()) != 0 || len(c.Joins()) != 0 {
		t.Errorf("pure v2 has v1 joins: %v", c.Joins())
	}

	// Every stats file the v2 path reads.
	writeString(t, leaf+"/memory.peak", "12345678\n")
	writeString(t, leaf+"/memory.events", "low 0\nhigh 0\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n")
	writeString(t, leaf+"/pids.events", "max 9\n")
	writeString(t, leaf+"/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\nnr_periods 0\n")
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{MemoryPeak: 12345678, OOMKills: 1, MemoryLimitHits: 17, PidsLimitHits: 9,
		CPU: 1500 * time.Millisecond, CPUUser: time.Second, CPUSystem: 500 * time.Millisecond}
	if !statsEqual(st, &want) {
		t.Errorf("Stats %+v, want %+v", st, want)
	}

	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	checkFiles(t, leaf, map[string]string{"cgroup.kill": "1"})
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(own + "/sandbox"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("parent remains after Destroy: %v", err)
	}
	if _, err := os.Stat(own); err != nil {
		t.Errorf("this process's own cgroup was removed: %v", err)
	}
	if err := c.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if _, err := c.Stats(); !errors.Is(err, ErrDestroyed) {
		t.Errorf("Stats after Destroy: %v", err)
	}
	if extra := newFds(fds, openFds(t)); len(extra) > 0 {
		t.Errorf("descriptors left open: %v", extra)
	}
}

func statsEqual(a, b *Stats) bool {
	return a.MemoryPeak == b.MemoryPeak && a.OOMKills == b.OOMKills && a.MemoryLimitHits == b.MemoryLimitHits &&
		a.PidsLimitHits == b.PidsLimitHits && a.CPU == b.CPU && a.CPUUser == b.CPUUser && a.CPUSystem == b.CPUSystem
}

func TestFakeHybrid(t *testing.T) {
	// This CI host's shape: controllers on v1 (cpu and cpuacct co-mounted
	// here), cgroup2 without controllers.
	l := fakeLayout(t, []string{}, "cpu,cpuacct", "memory", "pids", "freezer", "devices")
	fds := openFds(t)
	c, err := New(Config{Layout: l, Name: "box", Resources: Resources{
		MemoryMax: 64 << 20, MemorySwapMax: 16 << 20, PidsMax: 10, CPUQuota: 200 * time.Millisecond, CPUWeight: 10000,
	}})
	if err != nil {
		t.Fatal(err)
	}
	dir := func(h string) string { return filepath.Join(filepath.Dir(l.V2.Mount), h, "own/sandbox/box") }
	checkFiles(t, dir("memory"), map[string]string{
		"memory.limit_in_bytes": "67108864", "memory.memsw.limit_in_bytes": "83886080",
	})
	checkFiles(t, dir("pids"), map[string]string{"pids.max": "10"})
	checkFiles(t, dir("cpu,cpuacct"), map[string]string{
		"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "200000", "cpu.shares": "262144",
	})
	// The twin in cgroup2 exists, with no controller to enable.
	if _, err := os.Stat(filepath.Join(l.V2.Mount, "own/sandbox/box")); err != nil {
		t.Errorf("no cgroup2 twin: %v", err)
	}
	if _, err := os.Stat(filepath.Join(l.V2.Mount, "own/cgroup.subtree_control")); err == nil {
		t.Errorf("subtree_control written without controllers")
	}
	// devices is not managed: no directory there.
	if _, err := os.Stat(dir("devices")); err == nil {
		t.Errorf("a cgroup was made in the unmanaged devices hierarchy")
	}
	if got, want := c.Joins(), []string{"cpu,cpuacct", "memory", "pids", "freezer"}; !slices.Equal(got, want) {
		t.Errorf("Joins %v, want %v", got, want)
	}

	// JoinSteps: one input and one write of "0" per v1 hierarchy.
	b := spawn.NewBuilder(3)
	c.JoinSteps(b)
	b.MarkExec()
	b.Exec("/bin/true", nil, nil)
	prog, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if prog.Inputs() != len(c.Inputs()) || prog.Inputs() != 4 {
		t.Errorf("program declares %d inputs, Inputs has %d", prog.Inputs(), len(c.Inputs()))
	}
	var joins []string
	for i := 0; i < prog.Len(); i++ {
		if s, info := prog.Step(i); info.Op == "join cgroup" {
			joins = append(joins, info.Target)
			if s.Nr != unix.SYS_WRITE {
				t.Errorf("step %d: syscall %d, want write", i, s.Nr)
			}
		}
	}
	if len(joins) != 4 || joins[1] != "memory /own/sandbox/box" {
		t.Errorf("join steps %q", joins)
	}
	for i, f := range c.Inputs() {
		if want := filepath.Join(dir(c.Joins()[i]), "cgroup.procs"); f.Name() != want {
			t.Errorf("input %d is %s, want %s", i, f.Name(), want)
		}
	}

	// Every stats file the v1 path reads.
	writeString(t, dir("memory")+"/memory.max_usage_in_bytes", "4096000\n")
	writeString(t, dir("memory")+"/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
	writeString(t, dir("memory")+"/memory.failcnt", "42\n")
	writeString(t, dir("pids")+"/pids.events", "max 5\n")
	writeString(t, dir("cpu,cpuacct")+"/cpuacct.usage", "2000000000\n")
	writeString(t, dir("cpu,cpuacct")+"/cpuacct.usage_user", "1500000000\n")
	writeString(t, dir("cpu,cpuacct")+"/cpuacct.usage_sys", "500000000\n")
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{MemoryPeak: 4096000, OOMKills: 3, MemoryLimitHits: 42, PidsLimitHits: 5,
		CPU: 2 * time.Second, CPUUser: 1500 * time.Millisecond, CPUSystem: 500 * time.Millisecond}
	if !statsEqual(st, &want) || len(st.Missing) != 0 {
		t.Errorf("Stats %+v, want %+v", st, want)
	}
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, h := range append(l.V1, l.V2) {
		if _, err := os.Stat(filepath.Join(h.Dir(), "sandbox")); err == nil {
			t.Errorf("%s: parent remains", h.Name())
		}
	}
	if extra := newFds(fds, openFds(t)); len(extra) > 0 {
		t.Errorf("descriptors left open: %v", extra)
	}
}

func TestFakeStatsMissing(t *testing.T) {
	l := fakeLayout(t, []string{"memory", "pids"})
	c, err := New(Config{Layout: l, Name: "box"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	leaf := c.Dirs()[0]
	writeString(t, leaf+"/memory.events", "max 0\noom 0\n") // no oom_kill line (before Linux 4.13)
	writeString(t, leaf+"/cpu.stat", "usage_usec 7\nuser_usec 4\nsystem_usec 3\n")
	st, err := c.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"memory.events oom_kill in " + leaf, "memory.peak in " + leaf, "pids.events in " + leaf}
	if !slices.Equal(st.Missing, want) {
		t.Errorf("Missing %q, want %q", st.Missing, want)
	}
	if st.CPU != 7*time.Microsecond {
		t.Errorf("CPU %v", st.CPU)
	}
	writeString(t, leaf+"/memory.peak", "lots\n")
	if _, err := c.Stats(); err == nil || !strings.Contains(err.Error(), "memory.peak in "+leaf) {
		t.Errorf("malformed memory.peak: %v", err)
	}
}

func TestFakeNotDelegated(t *testing.T) {
	// cgroup2 whose parent did not delegate memory to this process's cgroup.
	l := fakeLayout(t, []string{"pids"})
	_, err := New(Config{Layout: l, Resources: Resources{MemoryMax: 1 << 20, PidsMax: 5}})
	var ue *UnenforcedError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnenforced) {
		t.Fatalf("New: %v, want an UnenforcedError", err)
	}
	if len(ue.Limits) != 1 || ue.Limits[0].Limit != "memory.max" ||
		!strings.Contains(ue.Limits[0].Fix, "enable memory in "+l.V2.Mount+"/cgroup.subtree_control") {
		t.Errorf("unenforced %+v", ue.Limits)
	}
	if ents, _ := os.ReadDir(l.V2.Dir()); len(ents) != 0 {
		t.Errorf("a failed New left %v", ents)
	}

	c, err := New(Config{Layout: l, BestEffort: true, Resources: Resources{MemoryMax: 1 << 20, PidsMax: 5}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	if u := c.Unenforced(); len(u) != 1 || u[0].Limit != "memory.max" {
		t.Errorf("Unenforced %+v", u)
	}
	checkFiles(t, c.Dirs()[0], map[string]string{"pids.max": "5"})
	if _, err := os.Stat(c.Dirs()[0] + "/memory.max"); err == nil {
		t.Error("memory.max written without the controller")
	}
}

// TestFakeBusyOwn: on cgroup2, this process's cgroup holds processes and
// has not enabled controllers for children (a login session's scope).
// The default parent moves to the hierarchy's root, where the root
// cgroup may enable them.
func TestFakeBusyOwn(t *testing.T) {
	l := fakeLayout(t, []string{"memory", "pids"})
	own := l.V2.Dir()
	writeString(t, own+"/cgroup.procs", "1\n2\n")
	writeString(t, own+"/cgroup.subtree_control", "")
	r, err := Probe(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range r.Controllers {
		if cs.Name == "memory" && (!cs.Writable || cs.Dir != l.V2.Mount) {
			t.Errorf("probe: %+v, want writable at the root", cs)
		}
	}
	c, err := New(Config{Layout: l, Name: "box", Resources: Resources{MemoryMax: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Dirs()[0], l.V2.Mount+"/sandbox/box"; got != want {
		t.Errorf("leaf %s, want %s", got, want)
	}
	checkFiles(t, l.V2.Mount, map[string]string{"cgroup.subtree_control": "+memory +pids"})
	checkFiles(t, own, map[string]string{"cgroup.subtree_control": ""})
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.V2.Mount + "/sandbox"); err == nil {
		t.Error("default parent remains")
	}
}

func TestFakeNames(t *testing.T) {
	l := fakeLayout(t, []string{"pids"})
	if err := os.MkdirAll(filepath.Join(l.V2.Dir(), "sandbox", "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{Layout: l, Name: "taken"})
	if !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "mkdir "+l.V2.Dir()+"/sandbox/taken: file exists") {
		t.Errorf("New over an existing leaf: %v", err)
	}
	if _, err := os.Stat(filepath.Join(l.V2.Dir(), "sandbox", "taken")); err != nil {
		t.Errorf("New removed a directory it did not create: %v", err)
	}
	for _, bad := range []Config{{Name: "a/b"}, {Name: ".."}, {Parent: "a/../b"}} {
		bad.Layout = l
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
	// Automatic names are unique, and an absolute parent is taken from the
	// hierarchy's root.
	a, err := New(Config{Layout: l, Parent: "/top"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Layout: l, Parent: "/top"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() == b.Name() || !strings.HasPrefix(a.Dirs()[0], l.V2.Mount+"/top/") {
		t.Errorf("names %s %s, dirs %v", a.Name(), b.Name(), a.Dirs())
	}
	// An absolute parent is removed only by the sandbox that created it,
	// and only once empty.
	b.Destroy()
	if _, err := os.Stat(l.V2.Mount + "/top"); err != nil {
		t.Errorf("parent removed by a sandbox that did not create it: %v", err)
	}
	a.Destroy()
	if _, err := os.Stat(l.V2.Mount + "/top"); err == nil {
		t.Errorf("parent remains after its creator's Destroy")
	}
}

func TestFakeProbe(t *testing.T) {
	l := fakeLayout(t, []string{"pids"}, "freezer")
	r, err := Probe(l)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]ControllerStatus{}
	for _, c := range r.Controllers {
		byName[c.Name] = c
	}
	if c := byName["memory"]; c.Usable || c.Version != 2 || !strings.Contains(c.Fix, "enable memory in") {
		t.Errorf("memory %+v", c)
	}
	if c := byName["pids"]; !c.Usable || !c.Writable {
		t.Errorf("pids %+v", c)
	}
	if c := byName["freezer"]; !c.Usable || c.Version != 1 {
		t.Errorf("freezer %+v", c)
	}
	if !r.V2Writable || !strings.HasPrefix(r.Kill, "cgroup.kill") || r.Mode != ModeHybrid {
		t.Errorf("report %+v", r)
	}
	// This process's cgroup holds a process, so controllers it has not
	// enabled for its children cannot be enabled.
	writeString(t, l.V2.Dir()+"/cgroup.procs", "1\n")
	r, _ = Probe(l)
	for _, c := range r.Controllers {
		if c.Name == "pids" && (c.Writable || !strings.Contains(c.Fix, "Evacuate")) {
			t.Errorf("pids with a busy cgroup: %+v", c)
		}
	}
	t.Logf("report:\n%s", r)
}

func TestFakeEvacuate(t *testing.T) {
	l := fakeLayout(t, []string{"memory"})
	if err := l.Evacuate("supervisor"); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, l.V2.Dir()+"/supervisor/cgroup.procs"); got != strings.TrimSpace(got) || got == "" {
		t.Errorf("cgroup.procs %q", got)
	}
	if err := l.Evacuate("a/b"); err == nil {
		t.Error("Evacuate accepted a path")
	}
}

// TestFakeEvacuateFor: a process alone in a delegated cgroup2 cgroup whose
// children lack the controllers a limit needs moves itself into a leaf;
// otherwise it stays.
func TestFakeEvacuateFor(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		name           string
		procs, subtree string
		res            Resources
		want           bool
	}{
		{"alone, pids needed", pid + "\n", "", Resources{PidsMax: 10}, true},
		{"alone, memory needed", pid + "\n", "pids", Resources{MemoryMax: 64 << 20}, true},
		{"already enabled", pid + "\n", "memory pids", Resources{PidsMax: 10}, false},
		{"nothing needed", pid + "\n", "", Resources{}, false},
		{"not alone", pid + "\n1\n", "", Resources{PidsMax: 10}, false},
		{"not there", "1\n", "", Resources{PidsMax: 10}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := fakeLayout(t, []string{"memory", "pids"})
			own := l.V2.Dir()
			writeString(t, own+"/cgroup.controllers", "memory pids\n")
			writeString(t, own+"/cgroup.subtree_control", c.subtree+"\n")
			writeString(t, own+"/cgroup.procs", c.procs)
			moved, err := l.EvacuateFor(&c.res, "supervisor")
			if err != nil || moved != c.want {
				t.Fatalf("EvacuateFor: %v, %v; want %v", moved, err, c.want)
			}
			got, err := os.ReadFile(own + "/supervisor/cgroup.procs")
			if c.want && (err != nil || strings.TrimSpace(string(got)) != pid) {
				t.Errorf("supervisor/cgroup.procs %q (%v), want %s", got, err, pid)
			}
			if !c.want && err == nil {
				t.Errorf("moved to supervisor: %q", got)
			}
		})
	}
}

// TestFakeSupervisorPids: a supervisor cloned into the cgroup2 leaf is not
// one of the sandbox's processes, so pids.max there allows one more; a v1
// hierarchy, joined by the supervisor's child, gets the limit as it is.
func TestFakeSupervisorPids(t *testing.T) {
	l := fakeLayout(t, []string{"memory", "pids"})
	c, err := New(Config{Layout: l, Name: "v2", Supervisor: true, Resources: Resources{PidsMax: 8}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	checkFiles(t, c.Dirs()[0], map[string]string{"pids.max": "9"})

	h := fakeLayout(t, []string{}, "pids")
	c, err = New(Config{Layout: h, Name: "v1", Supervisor: true, Resources: Resources{PidsMax: 8}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Destroy()
	checkFiles(t, filepath.Join(filepath.Dir(h.V2.Mount), "pids", "own/sandbox/v1"), map[string]string{"pids.max": "8"})
}

// TestDetectSinceEvacuation: once Evacuate moved this process into a leaf,
// a layout detected anew (as New and Sweep do without one) still names the
// cgroup it left, where its sandboxes belong.
func TestDetectSinceEvacuation(t *testing.T) {
	evacuation.Lock()
	from, to := evacuation.from, evacuation.to
	evacuation.from, evacuation.to = "/user.slice/run.scope", "/user.slice/run.scope/supervisor"
	evacuation.Unlock()
	defer func() {
		evacuation.Lock()
		evacuation.from, evacuation.to = from, to
		evacuation.Unlock()
	}()
	l := &Layout{V2: &Hierarchy{Version: 2, Mount: "/sys/fs/cgroup", Root: "/", Path: "/user.slice/run.scope/supervisor"}}
	l.sinceEvacuation()
	if l.V2.Path != "/user.slice/run.scope" {
		t.Errorf("after the evacuation the layout names %s", l.V2.Path)
	}
	other := &Layout{V2: &Hierarchy{Version: 2, Mount: "/sys/fs/cgroup", Root: "/", Path: "/elsewhere"}}
	other.sinceEvacuation()
	if other.V2.Path != "/elsewhere" {
		t.Errorf("an unrelated layout moved to %s", other.V2.Path)
	}
}
