package cgroups

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Report is what `sandbox doctor` prints about cgroups: the mode, where
// each controller lives, whether sandboxes can use it, and the fix for
// each missing piece.
type Report struct {
	Mode   Mode
	Layout *Layout
	// Controllers covers memory, pids and cpu (the limits), then cpuacct
	// and freezer when they are v1 hierarchies.
	Controllers []ControllerStatus
	// V2Dir is this process's cgroup2 directory ("" without cgroup2);
	// V2Writable says whether sandbox cgroups can be made below it, which
	// gives CLONE_INTO_CGROUP placement and, on Linux 5.14, cgroup.kill.
	V2Dir      string
	V2Writable bool
	// Kill says how Cgroup.Kill works here.
	Kill string
	// Devices says how Resources.Devices are enforced here; DevicesOK
	// whether they are.
	Devices   string
	DevicesOK bool
	// Fixes lists the fix for every problem found, once each.
	Fixes []string
}

// ControllerStatus is one controller's state for sandboxes.
type ControllerStatus struct {
	Name    string
	Version int    // the version of the hierarchy holding it; 0 when none
	Dir     string // where the default "sandbox" parent goes
	// Usable: the controller exists and this process's cgroup is visible.
	Usable bool
	// Writable: sandbox cgroups with this controller can be created (the
	// directory is writable and, on v2, the controller can be enabled for
	// the sandbox subtree).
	Writable bool
	// Problem and Fix are set when Usable or Writable is false.
	Problem, Fix string
}

// Probe reports on layout l (nil: Detect) for the default parent. It
// changes nothing.
func Probe(l *Layout) (*Report, error) {
	if l == nil {
		var err error
		if l, err = Detect(); err != nil {
			return nil, err
		}
	}
	r := &Report{Mode: l.Mode, Layout: l}
	v2own := ""
	if l.V2 != nil {
		v2own = l.V2.Dir()
		r.V2Dir = v2own
		if v2own != "" {
			r.V2Writable = writable(l.V2, v2own) == nil
		}
	}
	names := []string{"memory", "pids", "cpu"}
	for _, h := range l.V1 {
		for _, c := range []string{"cpuacct", "freezer"} {
			if h.Has(c) {
				names = append(names, c)
			}
		}
	}
	for _, name := range names {
		r.Controllers = append(r.Controllers, probeController(l, name))
	}

	if !r.V2Writable {
		r.Devices = "not enforced: no writable cgroup2 hierarchy for the device program (cgroup v1's devices controller is not used)"
	} else if fd, err := loadDeviceProgram([]DeviceRule{{Type: 'a', Major: AnyDevice, Minor: AnyDevice, Access: "rwm"}}); err != nil {
		r.Devices = "not enforced: " + err.Error()
	} else {
		unix.Close(fd)
		r.Devices, r.DevicesOK = "a BPF device program on the sandbox's cgroup2 directory (loaded; attached at each start)", true
	}

	usable := func(h *Hierarchy) bool { return h.Dir() != "" && writable(h, h.Dir()) == nil }
	hasFreezer := slices.ContainsFunc(l.V1, func(h *Hierarchy) bool { return h.Has("freezer") && usable(h) })
	switch {
	case r.V2Writable && kernelAtLeast(5, 14):
		r.Kill = "cgroup.kill (cgroup2)"
	case r.V2Writable:
		r.Kill = "cgroup.freeze, then SIGKILL to every member (this kernel has no cgroup.kill, Linux 5.14)"
	case hasFreezer:
		r.Kill = "v1 freezer, then SIGKILL to every member"
	case slices.ContainsFunc(l.V1, usable):
		r.Kill = "SIGKILL to every member until the group is empty (no freezer: a fork bomb can delay it)"
	default:
		r.Kill = "none: no cgroup (use a pid namespace to kill the whole tree)"
	}

	add := func(fix string) {
		if fix != "" && !slices.Contains(r.Fixes, fix) {
			r.Fixes = append(r.Fixes, fix)
		}
	}
	for _, c := range r.Controllers {
		add(c.Fix)
	}
	switch {
	case l.Mode == ModeNone:
		add("mount cgroup2: mount -t cgroup2 none /sys/fs/cgroup")
	case l.V2 != nil && v2own == "":
		add(fmt.Sprintf("this process's cgroup2 cgroup %s is outside the mount at %s: use a private cgroup namespace", l.V2.Path, l.V2.Mount))
	case l.V2 != nil && !r.V2Writable:
		add(writable(l.V2, v2own).Hint)
	case l.V2 == nil:
		add("mount the cgroup2 hierarchy (hybrid: mount -t cgroup2 none /sys/fs/cgroup/unified) for CLONE_INTO_CGROUP and cgroup.kill")
	}
	return r, nil
}

func probeController(l *Layout, name string) ControllerStatus {
	s := ControllerStatus{Name: name}
	for _, h := range l.V1 {
		if !h.Has(name) {
			continue
		}
		s.Version, s.Dir = 1, h.Dir()
		if s.Dir == "" {
			s.Problem = fmt.Sprintf("this process's cgroup %s is outside the %s mount at %s", h.Path, h.Name(), h.Mount)
			s.Fix = "use a private cgroup namespace so this process's cgroup is visible"
			return s
		}
		s.Usable = true
		if err := writable(h, s.Dir); err != nil {
			s.Problem, s.Fix = err.problem(), err.Hint
			return s
		}
		s.Writable = true
		return s
	}
	if l.V2 == nil || l.V2.Dir() == "" {
		s.Problem = "no mounted hierarchy has it"
		return s
	}
	own := l.V2.Dir()
	s.Version, s.Dir = 2, own
	if !l.V2.Has(name) {
		u := missingController(l, &Resources{}, name)
		s.Problem, s.Fix = u.Reason, u.Fix
		return s
	}
	s.Usable = true
	if err := writable(l.V2, own); err != nil {
		s.Problem, s.Fix = err.problem(), err.Hint
		return s
	}
	enabled, _ := readFile(own, "cgroup.subtree_control")
	if !slices.Contains(strings.Fields(string(enabled)), name) && own != l.V2.resolve("/") {
		if ownBusy(l, l.V2, []string{name}) {
			// New's default parent moves to the hierarchy's root.
			s.Dir, s.Writable = l.V2.resolve("/"), true
			return s
		}
		if pids, _ := readPids(own); len(pids) > 0 {
			s.Problem = fmt.Sprintf("%s is not enabled in %s/cgroup.subtree_control, and it cannot be while %s holds processes (%d)", name, own, own, len(pids))
			s.Fix = ownHint(own)
			return s
		}
	}
	s.Writable = true
	return s
}

// writable checks that a sandbox parent can be made in dir.
func writable(h *Hierarchy, dir string) *FileError {
	if h.ReadOnly {
		return fileError("mkdir", filepath.Join(dir, "sandbox"), "", unix.EROFS)
	}
	if err := unix.Faccessat(unix.AT_FDCWD, dir, unix.W_OK|unix.X_OK, unix.AT_EACCESS); err != nil {
		return fileError("mkdir", filepath.Join(dir, "sandbox"), "", err)
	}
	return nil
}

// kernelAtLeast compares the running kernel's release with major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var ma, mi int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi)
	return ma > major || (ma == major && mi >= minor)
}

// String renders the report for people, one fact per line.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cgroup mode: %s\n", r.Mode)
	for _, c := range r.Controllers {
		state := "writable"
		switch {
		case !c.Usable:
			state = "unavailable: " + c.Problem
		case !c.Writable:
			state = "not writable: " + c.Problem
		}
		ver := "-"
		if c.Version > 0 {
			ver = fmt.Sprintf("v%d", c.Version)
		}
		fmt.Fprintf(&b, "  %-8s %-3s %s: %s\n", c.Name, ver, orDash(c.Dir), state)
	}
	if r.V2Dir != "" {
		state := "not writable: sandbox cgroups start outside it, and no cgroup.kill"
		if r.V2Writable {
			state = "writable (CLONE_INTO_CGROUP"
			if kernelAtLeast(5, 14) {
				state += ", cgroup.kill"
			}
			state += ")"
		}
		fmt.Fprintf(&b, "  %-8s %-3s %s: %s\n", "cgroup2", "v2", r.V2Dir, state)
	}
	fmt.Fprintf(&b, "kill: %s\n", r.Kill)
	for _, f := range r.Fixes {
		fmt.Fprintf(&b, "fix: %s\n", f)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// EvacuateFor calls Evacuate(leaf) when that is what lets New enforce r
// below this process's own cgroup2 cgroup: the controllers r needs there
// are available to it but not enabled for its children, and it holds no
// process but this one, which the "no internal processes" rule then
// forbids enabling them. That is a process started alone in a delegated
// cgroup (systemd-run --scope -p Delegate=yes, a service with
// Delegate=yes): moved into leaf, its sandboxes go below the delegated
// cgroup, within its accounting. It reports whether it moved this
// process. l is left unchanged (see Evacuate).
func (l *Layout) EvacuateFor(r *Resources, leaf string) (bool, error) {
	if l.V2 == nil || l.V2.Dir() == "" || l.V2.Dir() == l.V2.resolve("/") || writable(l.V2, l.V2.Dir()) != nil {
		return false, nil
	}
	own := l.V2.Dir()
	enabled, err := readFile(own, "cgroup.subtree_control")
	if err != nil {
		return false, nil
	}
	// place's v2 controllers are those available in own (Detect read its
	// cgroup.controllers) and not bound to a v1 hierarchy.
	p := place(l, r)
	if !slices.ContainsFunc(r.controllers(), func(c string) bool {
		return slices.Contains(p.v2ctrls, c) && !slices.Contains(strings.Fields(string(enabled)), c)
	}) {
		return false, nil
	}
	if pids, err := readPids(own); err != nil || !slices.Equal(pids, []int{os.Getpid()}) {
		return false, nil
	}
	if err := l.Evacuate(leaf); err != nil {
		return false, err
	}
	return true, nil
}

// Evacuate moves this process (all its threads) from its cgroup2 cgroup
// into a new child cgroup named leaf, so that its own cgroup holds no
// process and may enable controllers for the sandbox subtree (the cgroup
// v2 "no internal processes" rule). This is what a service started with
// systemd's Delegate=yes must do before using its cgroup. It helps only
// when no other process remains in the cgroup.
//
// l is left unchanged, and Detect (so New and Sweep without a Layout)
// goes on describing the cgroup this process left: sandboxes go below the
// delegated cgroup rather than below leaf.
func (l *Layout) Evacuate(leaf string) error {
	if l.V2 == nil || l.V2.Dir() == "" {
		return fmt.Errorf("cgroups: evacuate: no usable cgroup2 hierarchy")
	}
	if leaf == "" || strings.ContainsAny(leaf, "/\x00") || leaf == "." || leaf == ".." {
		return fmt.Errorf("cgroups: evacuate: leaf %q must be one path element", leaf)
	}
	dir := filepath.Join(l.V2.Dir(), leaf)
	if _, err := mkdir(dir); err != nil {
		return err
	}
	if err := l.writeFile(dir, "cgroup.procs", fmt.Sprint(os.Getpid())); err != nil {
		return err
	}
	if !l.fake {
		evacuation.Lock()
		evacuation.from, evacuation.to = l.V2.Path, path.Join(l.V2.Path, leaf)
		evacuation.Unlock()
	}
	return nil
}
