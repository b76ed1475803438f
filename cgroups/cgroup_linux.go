package cgroups

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Config says where a sandbox's cgroup goes and what it limits. The value
// is read once, by New.
type Config struct {
	// Name is the sandbox's directory name, the same in every hierarchy.
	// Empty: a unique "<pid namespace>-<pid>-<n>" is chosen (see Sweep),
	// and another one when a leftover directory has it. A given Name that exists is an error.
	Name string

	// Parent is where sandbox cgroups live: a slash-separated path relative
	// to this process's own cgroup in each hierarchy, or, when it starts
	// with "/", relative to each hierarchy's root. Empty means "sandbox",
	// except in a cgroup2 hierarchy where this process's cgroup holds
	// processes and has not enabled the needed controllers for its
	// children (it cannot: "no internal processes"), such as a login
	// session's scope; there the default is "/sandbox" at the hierarchy's
	// root when it is writable (as root), as cgroupfs-driven runtimes do.
	// Missing directories are created. Destroy removes the parent
	// directories that are empty: all of them for a relative Parent (this
	// process's own subtree), only those New created for an absolute one
	// (which may be an administrator's, with settings of its own).
	Parent string

	// Resources are the limits.
	Resources Resources

	// Supervisor, when set, says the process that clone3 puts into the
	// cgroup2 leaf (CLONE_INTO_CGROUP) stays there as the sandbox's
	// supervisor, a pid-1 reaper, and is not one of the processes
	// PidsMax counts: pids.max there allows one more. A v1 hierarchy is
	// joined by the reaper's child, so it does not count there.
	Supervisor bool

	// BestEffort, when set, skips limits that cannot be applied (controller
	// not mounted or not delegated, file missing in this kernel, no
	// permission) and lists them in Cgroup.Unenforced; New then fails only
	// when no hierarchy at all is usable. When false, any such limit makes
	// New fail with an *UnenforcedError.
	BestEffort bool

	// Layout is the hosts's hierarchies; nil means Detect(). Tests and
	// callers that detected once pass their own.
	Layout *Layout
}

// Cgroup is one sandbox's cgroup across the hierarchies it needs.
//
// Kill, Stats and Pids may be called concurrently with each other. Dir and
// Inputs stay valid until Destroy, which must not overlap a spawn that uses
// them.
type Cgroup struct {
	name       string
	l          *Layout
	v2         *node   // nil without a usable cgroup2 hierarchy
	v1         []*node // joined v1 hierarchies, in Layout order
	v2ctrls    []string
	unenforced []Unenforced

	mu        sync.Mutex
	dir       *os.File   // v2 leaf, for CLONE_INTO_CGROUP
	procs     []*os.File // cgroup.procs of each v1 node, write-only
	destroyed bool
}

// node is the sandbox's cgroup in one hierarchy.
type node struct {
	h      *Hierarchy
	ctrls  []string // managed controllers used from this hierarchy
	cgPath string   // the leaf as /proc/<pid>/cgroup shows it
	dir    string   // the leaf directory
	prune  []string // parent directories Destroy removes when empty, outermost first
}

// managedV1 are the v1 controllers a sandbox joins: the limited ones, the
// accounting one, and the freezer (for Kill).
var managedV1 = []string{"memory", "pids", "cpu", "cpuacct", "freezer"}

// managedV2 are the cgroup2 controllers enabled for sandboxes.
var managedV2 = []string{"memory", "pids", "cpu"}

// ErrDestroyed is returned by operations on a destroyed Cgroup.
var ErrDestroyed = errors.New("cgroups: cgroup is destroyed")

var nameSeq atomic.Uint64

// New creates the sandbox's cgroup in every usable hierarchy and applies
// cfg.Resources.
//
// Postconditions: on success the cgroup exists in the cgroup2 hierarchy
// (when one is usable) and in every v1 hierarchy holding a managed
// controller, limits are written, and Dir/Inputs are open. On failure
// nothing New created remains.
func New(cfg Config) (*Cgroup, error) {
	if err := cfg.Resources.Validate(); err != nil {
		return nil, err
	}
	parent, err := cleanParent(cfg.Parent)
	if err != nil {
		return nil, err
	}
	if cfg.Name != "" && (strings.ContainsAny(cfg.Name, "/\x00") || cfg.Name == "." || cfg.Name == "..") {
		return nil, fmt.Errorf("cgroups: name %q: must be one path element", cfg.Name)
	}
	l := cfg.Layout
	if l == nil {
		if l, err = Detect(); err != nil {
			return nil, err
		}
	}
	p := place(l, &cfg.Resources)
	if len(p.missing) > 0 && !cfg.BestEffort {
		return nil, &UnenforcedError{Limits: p.missing}
	}
	if p.v2 == nil && len(p.v1) == 0 {
		return nil, fmt.Errorf("cgroups: no usable cgroup hierarchy (mode %s)", l.Mode)
	}
	for attempt := 0; ; attempt++ {
		name := cfg.Name
		if name == "" {
			name = autoName(nameSeq.Add(1))
		}
		c, err := create(l, &cfg, p, parent, name)
		if errors.Is(err, errRetry) && attempt < 8 && (cfg.Name == "" || !errors.Is(err, unix.EEXIST)) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// errRetry marks a creation that lost a race: a leftover leaf with the
// same name, or a parent directory removed by another sandbox's Destroy.
var errRetry = errors.New("cgroups: retry")

// retryError wraps a failure that errRetry matches, keeping its message.
type retryError struct{ error }

func (e retryError) Unwrap() error   { return e.error }
func (e retryError) Is(t error) bool { return t == errRetry }

func cleanParent(p string) (string, error) {
	if p == "" {
		p = "sandbox"
	}
	for _, el := range strings.Split(strings.Trim(p, "/"), "/") {
		if el == ".." || el == "." {
			return "", fmt.Errorf("cgroups: parent %q: must not contain . or ..", p)
		}
	}
	if path.Clean("/"+p) == "/" && !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("cgroups: parent %q: empty", p)
	}
	return p, nil
}

// placement is where each managed controller is used from: the pure part
// of New.
type placement struct {
	v2      *Hierarchy
	v2ctrls []string
	v1      []*Hierarchy
	missing []Unenforced
}

func place(l *Layout, r *Resources) placement {
	var p placement
	for _, h := range l.V1 {
		if h.Dir() == "" || !slices.ContainsFunc(managedV1, h.Has) {
			continue
		}
		p.v1 = append(p.v1, h)
	}
	if l.V2 != nil && l.V2.Dir() != "" {
		p.v2 = l.V2
		for _, c := range managedV2 {
			if l.V2.Has(c) && !slices.ContainsFunc(p.v1, func(h *Hierarchy) bool { return h.Has(c) }) {
				p.v2ctrls = append(p.v2ctrls, c)
			}
		}
	}
	for _, c := range r.controllers() {
		if slices.Contains(p.v2ctrls, c) || slices.ContainsFunc(p.v1, func(h *Hierarchy) bool { return h.Has(c) }) {
			continue
		}
		p.missing = append(p.missing, missingController(l, r, c))
	}
	if len(r.Devices) > 0 && p.v2 == nil {
		p.missing = append(p.missing, Unenforced{Limit: DeviceRulesLimit, Reason: "no usable cgroup2 hierarchy for the device program",
			Fix: "mount cgroup2 (cgroup v1's devices controller is not used)"})
	}
	return p
}

// DeviceRulesLimit names Resources.Devices in Unenforced reports.
const DeviceRulesLimit = "device rules"

// missingController explains why ctrl is unavailable, with the fix.
func missingController(l *Layout, r *Resources, ctrl string) Unenforced {
	u := Unenforced{Limit: strings.Join(r.limitFiles(ctrl, l.Mode == ModeUnified), ", ")}
	for _, h := range l.V1 {
		if h.Has(ctrl) && h.Dir() == "" {
			u.Reason = fmt.Sprintf("this process's cgroup %s is outside the %s mount at %s", h.Path, ctrl, h.Mount)
			u.Fix = "mount the " + ctrl + " hierarchy so that this cgroup is visible (a private cgroup namespace)"
			return u
		}
	}
	if l.V2 != nil && l.V2.Dir() != "" {
		own := l.V2.Dir()
		if l.V2.Path == "/" || path.Clean(l.V2.Path) == path.Clean(l.V2.Root) {
			u.Reason = "the " + ctrl + " controller is not available in " + own
			u.Fix = "the kernel lacks it, or it is bound to a v1 hierarchy that is not mounted, or disabled with cgroup_disable= on the kernel command line"
			return u
		}
		u.Reason = "the " + ctrl + " controller is not delegated to " + own
		u.Fix = fmt.Sprintf("enable %s in %s/cgroup.subtree_control, or run under a systemd scope with delegation: systemd-run --scope -p Delegate=yes …", ctrl, filepath.Dir(own))
		return u
	}
	u.Reason = "no mounted hierarchy has the " + ctrl + " controller"
	u.Fix = "mount cgroup2 at /sys/fs/cgroup (or the " + ctrl + " v1 hierarchy)"
	return u
}

func create(l *Layout, cfg *Config, p placement, parent, name string) (_ *Cgroup, err error) {
	c := &Cgroup{name: name, l: l, unenforced: slices.Clone(p.missing)}
	defer func() {
		if err != nil {
			c.closeFiles()
			c.removeDirs(false)
		}
	}()
	// tolerate turns a failure into an unenforced limit under BestEffort.
	tolerate := func(ctrl, file string, v2 bool, err error) error {
		files := cfg.Resources.limitFiles(ctrl, v2)
		if len(files) == 0 {
			return nil // only accounting is lost
		}
		if slices.Contains(files, file) {
			files = []string{file}
		}
		u := Unenforced{Limit: strings.Join(files, ", "), Reason: err.Error()}
		var fe *FileError
		if errors.As(err, &fe) {
			u.Fix = fe.Hint
		}
		if !cfg.BestEffort || !tolerable(err) {
			return &UnenforcedError{Limits: []Unenforced{u}, Err: err}
		}
		c.unenforced = append(c.unenforced, u)
		return nil
	}

	var cause error // why a hierarchy was skipped
	if p.v2 != nil {
		v2parent := parent
		if cfg.Parent == "" && ownBusy(l, p.v2, p.v2ctrls) {
			v2parent = "/" + parent
		}
		n, enabled, failed, err := makeNode(l, p.v2, v2parent, name, p.v2ctrls)
		c.v2 = n
		if err != nil {
			if !cfg.BestEffort || !tolerable(err) || errors.Is(err, errRetry) {
				return nil, err
			}
			// Without the cgroup2 directory, v1 (if any) carries on alone.
			cause = err
			c.v2 = nil
			if n != nil {
				n.remove(l, false)
			}
			for _, ctrl := range p.v2ctrls {
				if err := tolerate(ctrl, "", true, err); err != nil {
					return nil, err
				}
			}
			if len(cfg.Resources.Devices) > 0 {
				// Not a controller: the device program needed the directory.
				c.unenforced = append(c.unenforced, Unenforced{Limit: DeviceRulesLimit, Reason: err.Error(),
					Fix: "let this caller create cgroup2 directories"})
			}
		} else {
			c.v2ctrls = enabled
			for _, ctrl := range p.v2ctrls {
				if e, ok := failed[ctrl]; ok {
					if err := tolerate(ctrl, "cgroup.subtree_control", true, e); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	for _, h := range p.v1 {
		var ctrls []string
		for _, ctrl := range managedV1 {
			if h.Has(ctrl) {
				ctrls = append(ctrls, ctrl)
			}
		}
		n, _, _, err := makeNode(l, h, parent, name, nil)
		if err != nil {
			if !cfg.BestEffort || !tolerable(err) || errors.Is(err, errRetry) {
				if n != nil {
					c.v1 = append(c.v1, n) // for the deferred cleanup
				}
				return nil, err
			}
			cause = cmp.Or(cause, err)
			if n != nil {
				n.remove(l, false)
			}
			for _, ctrl := range ctrls {
				if err := tolerate(ctrl, "", false, err); err != nil {
					return nil, err
				}
			}
			continue
		}
		n.ctrls = ctrls
		c.v1 = append(c.v1, n)
	}
	if c.v2 == nil && len(c.v1) == 0 {
		return nil, fmt.Errorf("cgroups: no hierarchy is usable: %w", cause)
	}
	if c.v2 != nil {
		c.v2.ctrls = c.v2ctrls
		r := cfg.Resources
		if cfg.Supervisor && r.PidsMax > 0 && r.PidsMax < MaxPids {
			r.PidsMax++
		}
		for _, v := range r.v2Values() {
			if !slices.Contains(c.v2ctrls, v.ctrl) {
				continue
			}
			if err := l.writeFile(c.v2.dir, v.file, v.data); err != nil && !swapless(v, err) {
				if err := tolerate(v.ctrl, v.file, true, err); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, v := range cfg.Resources.v1Values() {
		n := c.v1Node(v.ctrl)
		if n == nil {
			continue
		}
		if err := l.writeFile(n.dir, v.file, v.data); err != nil && !swapless(v, err) {
			if err := tolerate(v.ctrl, v.file, false, err); err != nil {
				return nil, err
			}
		}
	}
	if c.v2 != nil {
		if c.dir, err = l.openFile(c.v2.dir, "", unix.O_RDONLY|unix.O_DIRECTORY); err != nil {
			return nil, err
		}
		if len(cfg.Resources.Devices) > 0 {
			if err := attachDeviceProgram(c.dir, cfg.Resources.Devices); err != nil {
				// EPERM: no CAP_SYS_ADMIN (or CAP_BPF) in the initial user
				// namespace, or an ancestor's program allows no others;
				// errOverride: one would be replaced.
				if !cfg.BestEffort || !(tolerable(err) || errors.Is(err, errOverride)) {
					return nil, &UnenforcedError{Limits: []Unenforced{{Limit: DeviceRulesLimit, Reason: err.Error()}}, Err: err}
				}
				fix := "run as root (loading a device program needs CAP_SYS_ADMIN or CAP_BPF on the host)"
				if errors.Is(err, errOverride) || os.Geteuid() == 0 {
					fix = "run the sandbox under a cgroup whose device programs were attached with BPF_F_ALLOW_MULTI (as systemd and runc attach theirs)"
				}
				c.unenforced = append(c.unenforced, Unenforced{Limit: DeviceRulesLimit, Reason: err.Error(), Fix: fix})
			}
		}
	}
	for _, n := range c.v1 {
		f, err := l.openFile(n.dir, "cgroup.procs", unix.O_WRONLY)
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, f)
	}
	return c, nil
}

// swapless reports that v forbids swap through a file this kernel lacks
// (no swap accounting) on a host without swap: nothing to enforce.
func swapless(v value, err error) bool {
	if !errors.Is(err, unix.ENOENT) || (v.file != "memory.swap.max" && v.file != "memory.memsw.limit_in_bytes") {
		return false
	}
	b, rerr := os.ReadFile("/proc/swaps")
	return rerr == nil && strings.Count(strings.TrimSpace(string(b)), "\n") == 0
}

// tolerable errors are environment limits BestEffort may skip; anything
// else (EINVAL: a bad value) is a bug to report.
func tolerable(err error) bool {
	for _, e := range []unix.Errno{unix.ENOENT, unix.EACCES, unix.EPERM, unix.EROFS, unix.EBUSY, unix.EOPNOTSUPP, unix.ENOTSUP} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// makeNode makes the parent directories and the leaf in one hierarchy. For
// cgroup2 it enables the controllers in enable on the way down, and
// returns those it could enable and why the others failed. The returned
// node, even with an error, lists what to remove.
func makeNode(l *Layout, h *Hierarchy, parent, name string, enable []string) (*node, []string, map[string]error, error) {
	base, basePath := h.Dir(), h.Path
	if strings.HasPrefix(parent, "/") {
		base, basePath = h.resolve("/"), "/"
		if base == "" {
			return nil, nil, nil, fmt.Errorf("cgroups: parent %q: the %s hierarchy's root is not visible at %s", parent, h.Name(), h.Mount)
		}
	}
	n := &node{h: h}
	failed := map[string]error{}
	enabled := enable
	dir, cgPath := base, basePath
	if len(enabled) > 0 {
		enabled = l.enableControllers(dir, enabled, failed, ownHint(dir))
	}
	for _, el := range strings.Split(strings.Trim(parent, "/"), "/") {
		if el == "" {
			continue
		}
		dir, cgPath = filepath.Join(dir, el), path.Join(cgPath, el)
		made, err := mkdir(dir)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				err = retryError{err}
			}
			return n, nil, nil, err
		}
		if made || !strings.HasPrefix(parent, "/") {
			n.prune = append(n.prune, dir)
		}
		if len(enabled) > 0 {
			enabled = l.enableControllers(dir, enabled, failed, "")
		}
		if errors.Is(failed[""], unix.ENOENT) {
			return n, nil, nil, retryError{failed[""]}
		}
	}
	n.dir, n.cgPath = filepath.Join(dir, name), path.Join(cgPath, name)
	made, err := mkdir(n.dir)
	switch {
	case err != nil && errors.Is(err, unix.ENOENT):
		return n, nil, nil, retryError{err}
	case err != nil:
		return n, nil, nil, err
	case !made:
		err := fileError("mkdir", n.dir, "", unix.EEXIST)
		n.dir = "" // not ours
		return n, nil, nil, retryError{err}
	}
	delete(failed, "")
	return n, enabled, failed, nil
}

// ownBusy reports that h is a cgroup2 hierarchy where this process's own
// cgroup cannot enable ctrls for a sandbox subtree (it holds processes and
// has not enabled them) while the hierarchy's root is writable: the
// default parent then moves to the root.
func ownBusy(l *Layout, h *Hierarchy, ctrls []string) bool {
	own, root := h.Dir(), h.resolve("/")
	if len(ctrls) == 0 || own == root || root == "" || writable(h, root) != nil {
		return false
	}
	b, err := readFile(own, "cgroup.subtree_control")
	if err != nil {
		return false
	}
	enabled := strings.Fields(string(b))
	if !slices.ContainsFunc(ctrls, func(c string) bool { return !slices.Contains(enabled, c) }) {
		return false
	}
	pids, err := readPids(own)
	return err == nil && len(pids) > 0
}

// ownHint explains EBUSY on this process's own cgroup: cgroup v2 lets a
// non-root cgroup enable controllers for its children only while it holds
// no process ("no internal processes").
func ownHint(dir string) string {
	return dir + " holds processes, and cgroup v2 lets a cgroup enable controllers for its children only while it has none: move them into a leaf cgroup (Layout.Evacuate does it for this process), run under systemd-run --scope -p Delegate=yes, or set Config.Parent to a delegated cgroup"
}

// enableControllers makes sure every controller in want is in dir's
// cgroup.subtree_control, and returns those that are. Failures are
// recorded in failed by controller; a vanished directory under "".
func (l *Layout) enableControllers(dir string, want []string, failed map[string]error, busyHint string) []string {
	have := map[string]bool{}
	if b, err := readFile(dir, "cgroup.subtree_control"); err == nil {
		for _, c := range strings.Fields(string(b)) {
			have[c] = true
		}
	}
	var add []string
	for _, c := range want {
		if !have[c] {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return want
	}
	if l.writeFile(dir, "cgroup.subtree_control", strings.Join(add, " ")) == nil {
		return want
	}
	// Find out which controllers fail, one by one.
	var ok []string
	for _, c := range want {
		if have[c] {
			ok = append(ok, c)
			continue
		}
		err := l.writeFile(dir, "cgroup.subtree_control", "+"+c)
		switch {
		case err == nil:
			ok = append(ok, c)
		case errors.Is(err, unix.ENOENT) && isOpenErr(err):
			failed[""] = err // the directory is gone
			failed[c] = err
		default:
			var fe *FileError
			switch {
			case !errors.As(err, &fe):
			case errors.Is(err, unix.EBUSY) && busyHint != "":
				fe.Hint = busyHint
			case errors.Is(err, unix.ENOENT):
				// Writing a controller the cgroup's parent does not offer.
				fe.Hint = c + " is not in " + dir + "/cgroup.controllers: enable it in the parent's cgroup.subtree_control"
			}
			failed[c] = err
		}
	}
	return ok
}

// isOpenErr reports a failure to open a file (rather than to write it).
func isOpenErr(err error) bool {
	var fe *FileError
	return errors.As(err, &fe) && fe.Op == "open"
}

func (c *Cgroup) v1Node(ctrl string) *node {
	for _, n := range c.v1 {
		if slices.Contains(n.ctrls, ctrl) {
			return n
		}
	}
	return nil
}

// nodes lists every node, cgroup2 first.
func (c *Cgroup) nodes() []*node {
	ns := make([]*node, 0, 1+len(c.v1))
	if c.v2 != nil {
		ns = append(ns, c.v2)
	}
	return append(ns, c.v1...)
}

func (c *Cgroup) closeFiles() {
	if c.dir != nil {
		c.dir.Close()
		c.dir = nil
	}
	for _, f := range c.procs {
		f.Close()
	}
	c.procs = nil
}

// remove removes the node's leaf and its prunable parents, deepest first;
// a parent still holding another sandbox is left in place. With
// retry, a busy leaf is retried for a bounded time.
func (n *node) remove(l *Layout, retry bool) error {
	if n.dir != "" {
		if err := l.rmdir(n.dir, retry); err != nil {
			return err
		}
		n.dir = ""
	}
	for i := len(n.prune) - 1; i >= 0; i-- {
		err := l.rmdir(n.prune[i], false)
		if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.ENOTEMPTY) {
			return nil // another sandbox lives there; its Destroy may remove it
		}
		if err != nil {
			return err
		}
		n.prune = n.prune[:i]
	}
	return nil
}

// removeDirs removes every leaf, then the prunable parents, deepest
// first. A parent still holding another sandbox is left in place. With
// retry, a busy leaf is retried for a bounded time.
func (c *Cgroup) removeDirs(retry bool) error {
	var errs []error
	for _, n := range c.nodes() {
		errs = append(errs, n.remove(c.l, retry))
	}
	return errors.Join(errs...)
}

// Name is the sandbox's directory name.
func (c *Cgroup) Name() string { return c.name }

// Dirs lists the sandbox's directory in every hierarchy, cgroup2 first.
func (c *Cgroup) Dirs() []string {
	var ds []string
	for _, n := range c.nodes() {
		if n.dir != "" {
			ds = append(ds, n.dir)
		}
	}
	return ds
}

// Paths maps each hierarchy's name ("unified", "memory", "cpu,cpuacct"…)
// to the sandbox's cgroup path as /proc/<pid>/cgroup shows it.
func (c *Cgroup) Paths() map[string]string {
	m := map[string]string{}
	for _, n := range c.nodes() {
		m[n.h.Name()] = n.cgPath
	}
	return m
}

// Unenforced lists the requested limits New skipped under BestEffort.
func (c *Cgroup) Unenforced() []Unenforced { return slices.Clone(c.unenforced) }
