package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// autoName is New's automatic name for its n-th cgroup:
// "<pid namespace>-<creator pid>-<n>". A pid means something only in its
// pid namespace, so Sweep judges only names made in its own.
func autoName(n uint64) string {
	return fmt.Sprintf("%d-%d-%d", pidNamespace(), os.Getpid(), n)
}

// pidNamespace is the inode number of this process's pid namespace, or 0
// when /proc does not say.
var pidNamespace = sync.OnceValue(func() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/pid", &st) != nil {
		return 0
	}
	return st.Ino
})

// autoCreator parses New's automatic names and returns the creator's pid
// when it was made in this process's pid namespace.
func autoCreator(name string) (int, bool) {
	ns, pid, ok := parseAutoName(name)
	if !ok || ns != pidNamespace() {
		return 0, false
	}
	return pid, true
}

// parseAutoName splits one of New's automatic names into the creator's
// pid namespace and pid.
func parseAutoName(name string) (ns uint64, pid int, ok bool) {
	parts := strings.Split(name, "-")
	if len(parts) != 3 || !allDigits(parts[0]) || !allDigits(parts[1]) || !allDigits(parts[2]) {
		return 0, 0, false
	}
	ns, err := strconv.ParseUint(parts[0], 10, 64)
	if err != nil || ns == 0 {
		return 0, 0, false
	}
	pid, err = strconv.Atoi(parts[1])
	return ns, pid, err == nil
}

// initPidNS is the inode of the initial pid namespace (PROC_PID_INIT_INO).
const initPidNS = 0xeffffffc

// livePidNamespaces lists the inodes of the pid namespaces some process
// is in, as this process sees them; from the initial pid namespace, as
// root, that is every pid namespace that can still name a cgroup (a
// namespace names one only through a process in it: its pid 1 first).
// ok is false when /proc could not be read whole.
func livePidNamespaces() (live map[uint64]bool, ok bool) {
	live = map[uint64]bool{initPidNS: true}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	for _, e := range ents {
		if !allDigits(e.Name()) || e.Name() == "1" {
			continue // pid 1 here is the initial namespace's (whose link may be closed even to root)
		}
		var st unix.Stat_t
		switch err := unix.Stat("/proc/"+e.Name()+"/ns/pid", &st); err {
		case nil:
			live[st.Ino] = true
		case unix.ENOENT, unix.ESRCH:
			// gone meanwhile
		default:
			return nil, false
		}
	}
	return live, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Sweep removes the sandbox cgroups a dead process left behind under
// parent (as in Config.Parent; "" is the default): directories with New's
// automatic names, made in this pid namespace, whose creator no longer
// runs — a supervisor that was SIGKILLed before its Destroy. Their
// processes are killed first, as Destroy does. From the initial pid
// namespace, as root, it also removes those made in a pid namespace that
// had ended when it looked (a container's, gone with it), when none of
// their directories holds a process; those it only removes (rmdir), it
// kills nothing. It
// returns the names it removed. Cgroups with names given in Config.Name,
// those made in another pid namespace that still has processes (whose
// pids mean nothing here), and those whose creator's pid is in use again,
// are left alone.
func Sweep(l *Layout, parent string) ([]string, error) {
	if l == nil {
		var err error
		if l, err = Detect(); err != nil {
			return nil, err
		}
	}
	p, err := cleanParent(parent)
	if err != nil {
		return nil, err
	}
	// Every place New may have used, per hierarchy.
	type place struct {
		h           *Hierarchy
		dir, cgPath string
	}
	var places []place
	add := func(h *Hierarchy, par string) {
		base, basePath := h.Dir(), h.Path
		if strings.HasPrefix(par, "/") {
			base, basePath = h.resolve("/"), "/"
		}
		if base != "" {
			places = append(places, place{h, filepath.Join(base, par), path.Join(basePath, par)})
		}
	}
	if l.V2 != nil {
		add(l.V2, p)
		if parent == "" {
			add(l.V2, "/"+p) // ownBusy's fallback
		}
	}
	for _, h := range l.V1 {
		add(h, p)
	}

	// Every place is listed before /proc is read (livePidNamespaces): a
	// name listed then was made by a pid namespace that either still has
	// processes when /proc is read, or had ended before.
	found := map[string]*Cgroup{}
	foreign := map[string]uint64{} // name → its pid namespace
	for _, pl := range places {
		ents, err := os.ReadDir(pl.dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			ns, pid, ok := parseAutoName(e.Name())
			switch {
			case !ok:
				continue
			case ns == pidNamespace():
				if pid == os.Getpid() || unix.Kill(pid, 0) != unix.ESRCH {
					continue // the creator (or a process with its pid) runs
				}
			default:
				foreign[e.Name()] = ns
			}
			c := found[e.Name()]
			if c == nil {
				c = &Cgroup{name: e.Name(), l: l}
				found[e.Name()] = c
			}
			n := &node{h: pl.h, dir: filepath.Join(pl.dir, e.Name()), cgPath: path.Join(pl.cgPath, e.Name())}
			if !strings.HasPrefix(p, "/") && pl.h.Dir() != "" {
				n.prune = parents(pl.h.Dir(), p)
			}
			if pl.h.Version == 2 {
				c.v2 = n
			} else {
				c.v1 = append(c.v1, n)
			}
		}
	}
	// Another pid namespace's names: only from the initial one, which sees
	// every process, as root (who may read every process's namespaces),
	// and only once that namespace has ended.
	var live map[uint64]bool
	liveKnown := false
	if len(foreign) > 0 && pidNamespace() == initPidNS && os.Geteuid() == 0 {
		live, liveKnown = livePidNamespaces()
	}
	var names []string
	for name, c := range found {
		if ns, ok := foreign[name]; ok && (!liveKnown || live[ns] || !c.holdsNoProcess()) {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		c := found[name]
		if _, ok := foreign[name]; ok {
			// Nothing to kill: the directories go, or stay where a
			// process appeared meanwhile (rmdir's EBUSY).
			c.mu.Lock()
			errs = append(errs, c.removeDirs(true))
			c.mu.Unlock()
			continue
		}
		errs = append(errs, c.Destroy())
	}
	return names, errors.Join(errs...)
}

// parents lists the directories of relative parent p below base,
// outermost first.
func parents(base, p string) []string {
	var out []string
	dir := base
	for _, el := range strings.Split(strings.Trim(p, "/"), "/") {
		if el != "" {
			dir = filepath.Join(dir, el)
			out = append(out, dir)
		}
	}
	return out
}

// holdsNoProcess reports whether no directory of c, nor any cgroup below
// one, holds a process (every cgroup.procs reads empty).
func (c *Cgroup) holdsNoProcess() bool {
	var dirs []string
	if c.v2 != nil {
		dirs = append(dirs, c.v2.dir)
	}
	for _, n := range c.v1 {
		dirs = append(dirs, n.dir)
	}
	for _, d := range dirs {
		if !emptyDir(d) {
			return false
		}
	}
	return true
}

// emptyDir reports whether the cgroup directory dir holds no process, in
// it or in any cgroup below it (every cgroup.procs reads empty).
func emptyDir(dir string) bool {
	empty := true
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			empty = false
			return filepath.SkipAll
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(p, "cgroup.procs"))
		if err != nil || len(strings.TrimSpace(string(b))) != 0 {
			empty = false
			return filepath.SkipAll
		}
		return nil
	})
	return empty
}
