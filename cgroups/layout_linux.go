package cgroups

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Mode is how the host mounts cgroups.
type Mode int

const (
	// ModeNone: no cgroup hierarchy is mounted (or none is reachable).
	ModeNone Mode = iota
	// ModeUnified: a cgroup2 hierarchy and no v1 controller hierarchy.
	ModeUnified
	// ModeHybrid: v1 controller hierarchies plus a cgroup2 hierarchy.
	ModeHybrid
	// ModeLegacy: v1 controller hierarchies only.
	ModeLegacy
)

func (m Mode) String() string {
	switch m {
	case ModeUnified:
		return "v2"
	case ModeHybrid:
		return "hybrid"
	case ModeLegacy:
		return "v1"
	}
	return "none"
}

// Hierarchy is one mounted cgroup hierarchy and this process's place in it.
type Hierarchy struct {
	// Version is 1 or 2.
	Version int
	// Controllers are, for v1, the controllers bound to the hierarchy; for
	// v2, those available in this process's cgroup (its cgroup.controllers,
	// read by Detect).
	Controllers []string
	// Mount is where the hierarchy is mounted.
	Mount string
	// Root is the hierarchy path visible at Mount: "/" unless a subtree is
	// mounted (bind mounts, another cgroup namespace).
	Root string
	// Path is this process's cgroup in the hierarchy, as /proc/self/cgroup
	// shows it.
	Path string
	// ReadOnly is set when the mount is read-only.
	ReadOnly bool
}

// Has reports whether ctrl is among h's controllers.
func (h *Hierarchy) Has(ctrl string) bool { return slices.Contains(h.Controllers, ctrl) }

// Name names the hierarchy: "unified" for v2, its controllers for v1.
func (h *Hierarchy) Name() string {
	if h.Version == 2 {
		return "unified"
	}
	return strings.Join(h.Controllers, ",")
}

// resolve returns the directory of hierarchy path p ("/a/b"), or "" when p
// lies outside the mounted subtree.
func (h *Hierarchy) resolve(p string) string {
	p = path.Clean("/" + p)
	root := path.Clean("/" + h.Root)
	switch {
	case root == "/":
	case p == root:
		p = "/"
	case strings.HasPrefix(p, root+"/"):
		p = p[len(root):]
	default:
		return ""
	}
	return filepath.Join(h.Mount, p)
}

// Dir is the directory of this process's own cgroup, or "" when it is not
// visible under Mount.
func (h *Hierarchy) Dir() string { return h.resolve(h.Path) }

// Layout describes the host's cgroup hierarchies as seen by this process.
type Layout struct {
	Mode Mode
	// V2 is the cgroup2 hierarchy; nil when none is mounted.
	V2 *Hierarchy
	// V1 are the mounted v1 hierarchies that have at least one controller;
	// named hierarchies such as name=systemd are left out.
	V1 []*Hierarchy

	// fake: plain directories stand in for cgroupfs (tests). Control files
	// are created by writes, and directories are emptied before removal.
	fake bool
}

// Controller returns the hierarchy ctrl is used from: the v1 hierarchy it
// is bound to, else V2 when ctrl is available there. Nil when neither.
func (l *Layout) Controller(ctrl string) *Hierarchy {
	for _, h := range l.V1 {
		if h.Has(ctrl) {
			return h
		}
	}
	if l.V2 != nil && l.V2.Has(ctrl) {
		return l.V2
	}
	return nil
}

// Detect reads /proc/self/mountinfo and /proc/self/cgroup, and the
// controllers available in this process's cgroup2 cgroup.
func Detect() (*Layout, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	l, err := ParseLayout(mi, cg)
	if err != nil {
		return nil, err
	}
	l.sinceEvacuation()
	l.readV2Controllers()
	return l, nil
}

// evacuation records where Evacuate moved this process from and to, in
// the cgroup2 hierarchy.
var evacuation struct {
	sync.Mutex
	from, to string
}

// sinceEvacuation makes a layout detected after Evacuate describe the
// cgroup this process left, which is where its sandboxes belong: the leaf
// it now sits in holds a process, so it cannot give children controllers.
func (l *Layout) sinceEvacuation() {
	evacuation.Lock()
	defer evacuation.Unlock()
	if l.V2 != nil && evacuation.to != "" && l.V2.Path == evacuation.to {
		l.V2.Path = evacuation.from
	}
}

// readV2Controllers fills V2.Controllers from cgroup.controllers of this
// process's v2 cgroup; an unreadable file leaves it empty.
func (l *Layout) readV2Controllers() {
	if l.V2 == nil || l.V2.Dir() == "" {
		return
	}
	b, err := os.ReadFile(filepath.Join(l.V2.Dir(), "cgroup.controllers"))
	if err == nil {
		l.V2.Controllers = strings.Fields(string(b))
	}
}

// ParseLayout builds a Layout from the contents of /proc/self/mountinfo
// and /proc/self/cgroup. V2.Controllers stays empty (Detect fills it).
func ParseLayout(mountinfo, cgroup []byte) (*Layout, error) {
	type member struct {
		id    int
		ctrls []string
		path  string
	}
	var v2path string
	var hasV2 bool
	var v1 []member
	sc := bufio.NewScanner(bytes.NewReader(cgroup))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("cgroups: /proc/self/cgroup: malformed line %q", line)
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("cgroups: /proc/self/cgroup: malformed line %q", line)
		}
		if id == 0 && f[1] == "" {
			hasV2, v2path = true, f[2]
			continue
		}
		var ctrls []string
		for _, c := range strings.Split(f[1], ",") {
			if c != "" && !strings.HasPrefix(c, "name=") {
				ctrls = append(ctrls, c)
			}
		}
		if len(ctrls) > 0 {
			v1 = append(v1, member{id, ctrls, f[2]})
		}
	}

	mounts, err := parseMounts(mountinfo)
	if err != nil {
		return nil, err
	}
	l := &Layout{}
	if hasV2 {
		l.V2 = pickMount(mounts, v2path, func(m mount) bool { return m.fstype == "cgroup2" })
		if l.V2 != nil {
			l.V2.Version = 2
		}
	}
	for _, m := range v1 {
		h := pickMount(mounts, m.path, func(mt mount) bool {
			if mt.fstype != "cgroup" {
				return false
			}
			for _, c := range m.ctrls {
				if !slices.Contains(mt.super, c) {
					return false
				}
			}
			return true
		})
		if h != nil {
			h.Version = 1
			h.Controllers = m.ctrls
			l.V1 = append(l.V1, h)
		}
	}
	switch {
	case l.V2 != nil && len(l.V1) == 0:
		l.Mode = ModeUnified
	case l.V2 != nil:
		l.Mode = ModeHybrid
	case len(l.V1) > 0:
		l.Mode = ModeLegacy
	}
	return l, nil
}

type mount struct {
	root, point string
	ro          bool
	fstype      string
	super       []string
}

func parseMounts(mountinfo []byte) ([]mount, error) {
	var ms []mount
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := slices.Index(f, "-")
		if sep < 6 || len(f) < sep+4 {
			if len(f) == 0 {
				continue
			}
			return nil, fmt.Errorf("cgroups: /proc/self/mountinfo: malformed line %q", sc.Text())
		}
		if f[sep+1] != "cgroup" && f[sep+1] != "cgroup2" {
			continue
		}
		ms = append(ms, mount{
			root:   unescapeMount(f[3]),
			point:  unescapeMount(f[4]),
			ro:     slices.Contains(strings.Split(f[5], ","), "ro"),
			fstype: f[sep+1],
			super:  strings.Split(f[sep+3], ","),
		})
	}
	return ms, sc.Err()
}

// pickMount chooses, among the mounts that match, the first mount point
// whose subtree contains path p; a later mount at the same point hides an
// earlier one. When no mount shows p, the first match is returned anyway
// (its Dir is "") so that reports can say so.
func pickMount(ms []mount, p string, match func(mount) bool) *Hierarchy {
	var cands []mount
	for _, m := range ms {
		if !match(m) {
			continue
		}
		if i := slices.IndexFunc(cands, func(c mount) bool { return c.point == m.point }); i >= 0 {
			cands[i] = m
			continue
		}
		cands = append(cands, m)
	}
	for _, m := range cands {
		h := &Hierarchy{Mount: m.point, Root: m.root, Path: p, ReadOnly: m.ro}
		if h.Dir() != "" {
			return h
		}
	}
	if len(cands) > 0 {
		return &Hierarchy{Mount: cands[0].point, Root: cands[0].root, Path: p, ReadOnly: cands[0].ro}
	}
	return nil
}

// unescapeMount decodes the octal escapes (\040 for space…) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
