//go:build linux

// Package rootfs compiles the filesystem part of an OCI runtime spec —
// root, mounts, devices, masked and read-only paths, sysctls — into spawn
// steps that build the new root in the child's mount namespace and pivot
// into it.
//
// Everything uses the descriptor-based mount API (Linux 5.12): the new root
// is a tmpfs (fsopen/fsmount) or a bind of root.path (open_tree), attached
// over "/"; every mount is created detached (fsmount, open_tree) and
// attached with move_mount onto a target descriptor that openat2 resolved
// with RESOLVE_IN_ROOT from the new root's descriptor. Special filesystems
// (proc, sysfs, devpts, mqueue, cgroup2) are mounted before pivot_root,
// which the kernel requires inside a user namespace. pivot_root(".", ".")
// then detaches the old root.
//
// Mount targets are created when missing, as directories, or as files for
// file bind mounts. Devices are made with mknod when the setup runs as a
// privileged caller and bind-mounted from the host otherwise.
package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/spawn"
)

// Annotations this compiler reads.
const (
	// AnnotationTmpfsRoot makes the new root an empty tmpfs instead of a
	// bind of root.path; its value is tmpfs options ("size=16m"), or
	// "true".
	AnnotationTmpfsRoot = "org.gosandbox.rootfs.tmpfs"
	// AnnotationSymlinks lists symlinks to create in the new root before
	// the mounts, as comma-separated PATH:TARGET pairs
	// ("/bin:usr/bin,/lib:usr/lib"): a merged-/usr host's top-level links,
	// which would otherwise each cost a bind mount.
	AnnotationSymlinks = "org.gosandbox.rootfs.symlinks"
	// AnnotationLockedRoot, "true", makes a root.path bind read-only,
	// nosuid and nodev, recursively (its submounts too), before anything
	// is mounted on it: nothing is written to the directory (each mount's
	// destination must exist in it), and no setuid file or device node in
	// it counts.
	AnnotationLockedRoot = "org.gosandbox.rootfs.locked"
)

// Options are the facts beyond the spec.
type Options struct {
	// BundleDir resolves a relative root.path and relative bind sources.
	BundleDir string
	// SetupAsCaller says the setup runs with the caller's identity (no user
	// namespace yet): devices can be made with mknod when Privileged.
	SetupAsCaller bool
	// Privileged says the caller is root in the initial user namespace.
	Privileged bool
	// ToHost maps a container uid or gid to the host id the setup must use
	// for files it creates before entering the user namespace.
	ToHost func(id uint32, gid bool) (uint32, bool)
	// Namespaces holds the types of the namespaces the sandbox has (new or
	// joined), for sysctl checks.
	Namespaces map[specs.LinuxNamespaceType]bool
	// Masked are paths the runtime masks after linux.maskedPaths, for
	// reasons of its own (a missing one is skipped, as there).
	Masked []string
}

// Plan is the compiled rootfs setup.
type Plan struct {
	spec       *specs.Spec
	opts       Options
	rootPath   string
	lockedRoot bool
	tmpfsRoot  []fsParam
	symlinks   [][2]string
	mounts     []mountPlan
	devices    []specs.LinuxDevice
	devSymlink bool
	sysctls    []string
	active     bool
	warnings   []string
}

// Warnings lists what Compile accepted in another form than asked.
func (p *Plan) Warnings() []string { return p.warnings }

type mountPlan struct {
	index     int
	m         specs.Mount
	o         mountOpts
	srcIsFile bool
}

// Compile validates the root, mounts, devices, masked/readonly paths and
// sysctls of spec, reporting every problem with its field path.
func Compile(spec *specs.Spec, opts Options) (*Plan, error) {
	p := &Plan{spec: spec, opts: opts}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	newMnt := opts.Namespaces[specs.MountNamespace]
	if !newMnt {
		if spec.Root == nil {
			// Required by the runtime-spec on Linux: a spec that says
			// nothing of its root would run in the host's, silently.
			bad(`root: required (root.path "/" for the host's root, which needs no mount namespace)`)
		}
		if spec.Root != nil && path.Clean(spec.Root.Path) != "/" {
			bad("root.path: a root other than / needs a new mount namespace")
		}
		if len(spec.Mounts) > 0 {
			bad("mounts: mounts need a new mount namespace")
		}
		if spec.Root != nil && spec.Root.Readonly {
			bad("root.readonly: a read-only root needs a new mount namespace")
		}
		if spec.Linux != nil && (len(spec.Linux.MaskedPaths) > 0 || len(spec.Linux.ReadonlyPaths) > 0 || len(spec.Linux.Devices) > 0) {
			bad("linux.maskedPaths: masked and read-only paths and devices need a new mount namespace")
		}
		p.sysctls = sysctlKeys(spec)
		errs = append(errs, p.checkSysctls()...)
		return p, errors.Join(errs...)
	}
	p.active = true

	if v, ok := spec.Annotations[AnnotationTmpfsRoot]; ok {
		o, err := parseOptions("tmpfs", strings.Split(v, ","))
		if v == "true" {
			o, err = mountOpts{}, nil
		}
		if err != nil || o.attrSet != 0 || o.attrClr != 0 {
			bad("annotations[%q]: %q: want tmpfs options such as size=16m", AnnotationTmpfsRoot, v)
		}
		p.tmpfsRoot = o.params
		if spec.Root != nil && spec.Root.Path != "" {
			bad("root.path: %q and annotations[%q] both choose the root; remove one", spec.Root.Path, AnnotationTmpfsRoot)
		}
	} else if spec.Root == nil || spec.Root.Path == "" {
		bad("root.path: required (or set the %s annotation)", AnnotationTmpfsRoot)
	} else {
		rp := spec.Root.Path
		if !filepath.IsAbs(rp) {
			rp = filepath.Join(opts.BundleDir, rp)
		}
		// Links on the way only as a bind source's (resolveSource): the
		// child opens the result with none.
		if res, err := resolveSource(rp, uint32(os.Geteuid())); err != nil {
			bad("root.path: %w", err)
		} else if fi, err := os.Stat(res); err != nil {
			bad("root.path: %w", err)
		} else if !fi.IsDir() {
			bad("root.path: %s is not a directory", rp)
		} else {
			p.rootPath = res
		}
	}
	switch v := spec.Annotations[AnnotationLockedRoot]; v {
	case "":
	case "true":
		if spec.Root == nil || spec.Root.Path == "" {
			bad("annotations[%q]: needs a root.path", AnnotationLockedRoot)
		} else if p.rootPath != "" {
			if err := CheckImageRoot(p.rootPath); err != nil {
				bad("root.path: %w", err)
			}
		}
		p.lockedRoot = true
	default:
		bad("annotations[%q]: %q: want true", AnnotationLockedRoot, v)
	}

	if v, ok := spec.Annotations[AnnotationSymlinks]; ok && v != "" {
		for _, pair := range strings.Split(v, ",") {
			link, target, ok := strings.Cut(pair, ":")
			if !ok || !path.IsAbs(link) || path.Clean(link) == "/" || target == "" || strings.ContainsRune(pair, 0) {
				bad("annotations[%q]: %q: want PATH:TARGET with an absolute PATH", AnnotationSymlinks, pair)
				continue
			}
			p.symlinks = append(p.symlinks, [2]string{path.Clean(link), target})
		}
	}

	hasDev := false
	for i, m := range spec.Mounts {
		field := fmt.Sprintf("mounts[%d]", i)
		if !path.IsAbs(m.Destination) {
			bad("%s.destination: %q is not absolute", field, m.Destination)
			continue
		}
		if path.Clean(m.Destination) == "/" {
			bad("%s.destination: / is the sandbox's root, which root.path chooses", field)
			continue
		}
		if strings.Contains(m.Destination, "\x00") || strings.Contains(m.Source, "\x00") {
			bad("%s: NUL in a path", field)
			continue
		}
		o, err := parseOptions(m.Type, m.Options)
		if err != nil {
			bad("%s.options: %w", field, err)
			continue
		}
		if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
			bad("%s.uidMappings: idmapped mounts are not supported yet", field)
			continue
		}
		mp := mountPlan{index: i, m: m, o: o}
		if o.bind {
			src := m.Source
			if src == "" {
				bad("%s.source: a bind mount needs a source", field)
				continue
			}
			if !filepath.IsAbs(src) {
				src = filepath.Join(opts.BundleDir, src)
			}
			src, err := resolveSource(src, uint32(os.Geteuid()))
			if err != nil {
				bad("%s.source: %w", field, err)
				continue
			}
			fi, err := os.Stat(src)
			if err != nil {
				bad("%s.source: %w", field, err)
				continue
			}
			mp.m.Source = src
			mp.srcIsFile = !fi.IsDir()
		} else {
			if m.Type == "" {
				bad("%s.type: required for a mount that is not a bind mount", field)
				continue
			}
			if m.Type == "cgroup" {
				// runc's specs say "cgroup" and mean the host's version;
				// this runtime mounts the unified hierarchy only.
				p.warnings = append(p.warnings, fmt.Sprintf("%s.type: cgroup mounted as cgroup2 (cgroup v1 hierarchies are not mounted in a sandbox)", field))
				mp.m.Type = "cgroup2"
			}
			if strings.Contains(m.Type, "\x00") {
				bad("%s.type: NUL", field)
				continue
			}
		}
		if path.Clean(m.Destination) == "/dev" && !o.bind {
			hasDev = true
		}
		p.mounts = append(p.mounts, mp)
	}

	// Devices: the defaults every container gets when /dev is a fresh
	// filesystem, then linux.devices (which override by path).
	byPath := map[string]specs.LinuxDevice{}
	if hasDev {
		for _, d := range defaultDevices {
			byPath[d.Path] = d
		}
		p.devSymlink = true
	}
	if spec.Linux != nil {
		for i, d := range spec.Linux.Devices {
			field := fmt.Sprintf("linux.devices[%d]", i)
			if !path.IsAbs(d.Path) || path.Clean(d.Path) == "/" {
				bad("%s.path: %q is not an absolute file path", field, d.Path)
				continue
			}
			switch d.Type {
			case "c", "u", "b", "p":
			default:
				bad("%s.type: %q, want c, u, b or p", field, d.Type)
				continue
			}
			if !opts.SetupAsCaller || !opts.Privileged {
				if _, err := os.Stat(d.Path); err != nil {
					bad("%s.path: in a user namespace devices are bind-mounted from the host: %w", field, err)
					continue
				}
			}
			byPath[path.Clean(d.Path)] = d
		}
	}
	for _, d := range byPath {
		p.devices = append(p.devices, d)
	}
	sort.Slice(p.devices, func(i, j int) bool { return p.devices[i].Path < p.devices[j].Path })

	if spec.Linux != nil {
		for i, mp := range spec.Linux.MaskedPaths {
			if !path.IsAbs(mp) {
				bad("linux.maskedPaths[%d]: %q is not absolute", i, mp)
			}
		}
		for i, rp := range spec.Linux.ReadonlyPaths {
			if !path.IsAbs(rp) {
				bad("linux.readonlyPaths[%d]: %q is not absolute", i, rp)
			}
		}
		if prop := spec.Linux.RootfsPropagation; prop != "" {
			if _, ok := rootPropagation[prop]; !ok {
				bad("linux.rootfsPropagation: %q, want one of private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable", prop)
			}
		}
	}
	p.sysctls = sysctlKeys(spec)
	errs = append(errs, p.checkSysctls()...)
	return p, errors.Join(errs...)
}

var rootPropagation = map[string]uint64{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// compiler holds the state of one emission.
type compiler struct {
	b    *spawn.Builder
	p    *Plan
	hows map[howKey]spawn.Addr
}

// rootPropagation is the propagation the spec asks for on "/": rslave
// when it says nothing.
func (p *Plan) rootPropagation() uint64 {
	if p.spec.Linux != nil && p.spec.Linux.RootfsPropagation != "" {
		return rootPropagation[p.spec.Linux.RootfsPropagation]
	}
	return unix.MS_SLAVE | unix.MS_REC
}

// buildPropagation is the propagation of "/" while the new root is built:
// recursive and never shared. A shared "/" would propagate every mount of
// the setup to the caller's peers (on a host whose "/" is shared, as
// systemd makes it, the tmpfs root would land over the host's "/"), and
// pivot_root refuses a shared parent; a non-recursive value would leave
// the host's submounts shared with the host when the old root is
// detached. The spec's value, when it is not one of rslave, rprivate or
// runbindable, is applied after pivot_root, to the new root.
func (p *Plan) buildPropagation() uint64 {
	if prop := p.rootPropagation(); prop&unix.MS_REC != 0 && prop&unix.MS_SHARED == 0 {
		return prop
	}
	return unix.MS_SLAVE | unix.MS_REC
}

// EmitBuild emits everything before pivot_root: root propagation, the new
// root attached over "/", the mounts in spec order, the devices.
func (p *Plan) EmitBuild(b *spawn.Builder) {
	if !p.active {
		return
	}
	c := &compiler{b: b, p: p, hows: map[howKey]spawn.Addr{}}
	prop := p.buildPropagation()
	// Umask 0 for the setup, so modes are what the spec says; the
	// credentials compiler sets the command's umask later.
	b.Call(spawn.Call{Nr: unix.SYS_UMASK, Args: []spawn.Arg{spawn.Imm(0)}, Op: "umask", Target: "0 during the rootfs setup"})
	b.Call(spawn.Call{Nr: unix.SYS_MOUNT, Args: []spawn.Arg{spawn.Null, b.String("/").Arg(), spawn.Null, spawn.Imm(prop), spawn.Null},
		Op: "mount", Target: "propagation of /"})
	if p.tmpfsRoot != nil || p.rootPath == "" {
		params := append([]fsParam{{key: "mode", value: "0755"}}, p.tmpfsRoot...)
		params = append(params, p.hostOwner()...)
		c.fsmount("tmpfs", "", params, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, regRoot, "tmpfs root")
	} else {
		// The path as Compile resolved it, with no link on the way now
		// (see resolveSource).
		noLinks := c.how(unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0, unix.RESOLVE_NO_SYMLINKS)
		b.Call(spawn.Call{Nr: unix.SYS_OPENAT2, Args: []spawn.Arg{spawn.Imm(unix.AT_FDCWD), b.String(p.rootPath).Arg(), noLinks.Arg(), spawn.Imm(24)},
			Save: ptr(regFS), Op: "openat2", Target: "root " + p.rootPath + " (no symbolic links)"})
		b.Call(spawn.Call{Nr: unix.SYS_OPEN_TREE, Args: []spawn.Arg{spawn.Reg(regFS), b.String("").Arg(), spawn.Imm(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_RECURSIVE | unix.AT_EMPTY_PATH)},
			Save: ptr(regRoot), Op: "open_tree", Target: "root " + p.rootPath})
		c.closeReg(regFS, "root "+p.rootPath)
		if p.lockedRoot {
			c.setattr(regRoot, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, 0, 0, true, "root "+p.rootPath)
		}
	}
	// Once attached, the mount's descriptor is the new root's directory.
	b.Call(spawn.Call{Nr: unix.SYS_MOVE_MOUNT, Args: []spawn.Arg{spawn.Reg(regRoot), b.String("").Arg(), spawn.Imm(unix.AT_FDCWD), b.String("/").Arg(), spawn.Imm(unix.MOVE_MOUNT_F_EMPTY_PATH)},
		Op: "move_mount", Target: "new root over /"})

	for _, l := range p.symlinks {
		c.symlink(l[0], l[1])
	}
	for _, mp := range p.mounts {
		c.mount(mp)
	}
	if len(p.devices) > 0 || p.devSymlink {
		c.devices()
	}
}

// hostOwner gives the tmpfs root to the container's root when the setup
// runs before entering a user namespace.
func (p *Plan) hostOwner() []fsParam {
	if !p.opts.SetupAsCaller || p.opts.ToHost == nil {
		return nil
	}
	uid, ok1 := p.opts.ToHost(0, false)
	gid, ok2 := p.opts.ToHost(0, true)
	if !ok1 || !ok2 || (uid == 0 && gid == 0) {
		return nil
	}
	return []fsParam{{key: "uid", value: fmt.Sprint(uid)}, {key: "gid", value: fmt.Sprint(gid)}}
}

// fsmount creates a filesystem and leaves its detached mount in register
// dst.
func (c *compiler) fsmount(typ, source string, params []fsParam, attrs uint64, dst int, what string) {
	b := c.b
	b.Call(spawn.Call{Nr: unix.SYS_FSOPEN, Args: []spawn.Arg{b.String(typ).Arg(), spawn.Imm(unix.FSOPEN_CLOEXEC)},
		Save: ptr(regFS), Op: "fsopen", Target: what})
	if source != "" {
		b.Call(spawn.Call{Nr: unix.SYS_FSCONFIG, Args: []spawn.Arg{spawn.Reg(regFS), spawn.Imm(unix.FSCONFIG_SET_STRING), b.String("source").Arg(), b.String(source).Arg(), spawn.Imm(0)},
			Op: "fsconfig", Target: "source=" + source + " for " + what})
	}
	for _, prm := range params {
		if prm.flag {
			b.Call(spawn.Call{Nr: unix.SYS_FSCONFIG, Args: []spawn.Arg{spawn.Reg(regFS), spawn.Imm(unix.FSCONFIG_SET_FLAG), b.String(prm.key).Arg(), spawn.Null, spawn.Imm(0)},
				Op: "fsconfig", Target: prm.key + " for " + what})
		} else {
			b.Call(spawn.Call{Nr: unix.SYS_FSCONFIG, Args: []spawn.Arg{spawn.Reg(regFS), spawn.Imm(unix.FSCONFIG_SET_STRING), b.String(prm.key).Arg(), b.String(prm.value).Arg(), spawn.Imm(0)},
				Op: "fsconfig", Target: prm.key + "=" + prm.value + " for " + what})
		}
	}
	b.Call(spawn.Call{Nr: unix.SYS_FSCONFIG, Args: []spawn.Arg{spawn.Reg(regFS), spawn.Imm(unix.FSCONFIG_CMD_CREATE), spawn.Null, spawn.Null, spawn.Imm(0)},
		Op: "fsconfig", Target: "create " + what})
	b.Call(spawn.Call{Nr: unix.SYS_FSMOUNT, Args: []spawn.Arg{spawn.Reg(regFS), spawn.Imm(unix.FSMOUNT_CLOEXEC), spawn.Imm(attrs)},
		Save: ptr(dst), Op: "fsmount", Target: what})
	c.closeReg(regFS, what)
}

func (c *compiler) mount(mp mountPlan) {
	b := c.b
	m, o := mp.m, mp.o
	dst := path.Clean(m.Destination)
	var what string
	if o.bind {
		what = fmt.Sprintf("%s on %s", m.Source, dst)
		flags := uint64(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH)
		if o.recursive {
			flags |= unix.AT_RECURSIVE
		}
		// The source as Compile resolved it, with no link on the way now
		// (see resolveSource).
		noLinks := c.how(unix.O_PATH|unix.O_CLOEXEC, 0, unix.RESOLVE_NO_SYMLINKS)
		b.Call(spawn.Call{Nr: unix.SYS_OPENAT2, Args: []spawn.Arg{spawn.Imm(unix.AT_FDCWD), b.String(m.Source).Arg(), noLinks.Arg(), spawn.Imm(24)},
			Save: ptr(regFS), Op: "openat2", Target: "source of " + what + " (no symbolic links)"})
		b.Call(spawn.Call{Nr: unix.SYS_OPEN_TREE, Args: []spawn.Arg{spawn.Reg(regFS), b.String("").Arg(), spawn.Imm(flags)},
			Save: ptr(regSrc), Op: "open_tree", Target: what})
		c.closeReg(regFS, "source of "+what)
		if o.attrSet != 0 || o.attrClr != 0 {
			c.setattr(regSrc, o.attrSet, o.attrClr, 0, o.recursive, what)
		}
	} else {
		what = fmt.Sprintf("%s on %s", m.Type, dst)
		params := c.translateIDs(o.params)
		if m.Type == "tmpfs" {
			// Made before the user namespace, a tmpfs would belong to the
			// caller, unmapped inside (nobody): the container's root, as
			// where it is made inside the namespace (runc), for each of
			// uid and gid the spec does not give.
			for _, o := range c.p.hostOwner() {
				if !slices.ContainsFunc(params, func(p fsParam) bool { return p.key == o.key }) {
					params = append(params, o)
				}
			}
		}
		c.fsmount(m.Type, m.Source, params, o.attrSet, regSrc, what)
	}
	c.resolveTarget(dst, mp.srcIsFile, regDst, what)
	b.Call(spawn.Call{Nr: unix.SYS_MOVE_MOUNT, Args: []spawn.Arg{spawn.Reg(regSrc), b.String("").Arg(), spawn.Reg(regDst), b.String("").Arg(),
		spawn.Imm(unix.MOVE_MOUNT_F_EMPTY_PATH | unix.MOVE_MOUNT_T_EMPTY_PATH)}, Op: "move_mount", Target: what})
	if o.propagation != 0 {
		c.setattr(regSrc, 0, 0, o.propagation, o.propRecursive, what)
	}
	c.closeReg(regDst, what)
	c.closeReg(regSrc, what)
}

// symlink creates link → target in the new root (an existing entry is left
// alone), its directory made like a mount target's.
func (c *compiler) symlink(link, target string) {
	what := "symlink " + link + " → " + target
	dir, base := path.Split(link)
	c.resolveTarget(dir, false, regDir, what)
	c.b.Call(spawn.Call{Nr: unix.SYS_SYMLINKAT, Args: []spawn.Arg{c.b.String(target).Arg(), spawn.Reg(regDir), c.b.String(base).Arg()},
		Op: "symlink", Target: link + " → " + target, OnErrno: []unix.Errno{unix.EEXIST}})
	c.closeReg(regDir, what)
}

// setattr emits mount_setattr on the mount in register r.
func (c *compiler) setattr(r int, set, clr, propagation uint64, recursive bool, what string) {
	var attr [32]byte
	putU64(attr[0:], set)
	putU64(attr[8:], clr)
	putU64(attr[16:], propagation)
	a := c.b.Bytes(attr[:], 8)
	desc := attrNames(set)
	if clr&^unix.MOUNT_ATTR__ATIME != 0 {
		desc += " clear " + attrNames(clr)
	}
	if propagation != 0 {
		desc += " " + propName(propagation)
	}
	c.b.Name(a, "&{"+strings.TrimSpace(desc)+"}")
	flags := uint64(unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	c.b.Call(spawn.Call{Nr: unix.SYS_MOUNT_SETATTR, Args: []spawn.Arg{spawn.Reg(r), c.b.String("").Arg(), spawn.Imm(flags), a.Arg(), spawn.Imm(32)},
		Op: "mount_setattr", Target: strings.TrimSpace(desc) + " for " + what})
}

func propName(p uint64) string {
	for k, v := range propOpts {
		if v == p {
			return k
		}
	}
	return fmt.Sprintf("propagation %#x", p)
}

func putU64(b []byte, v uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
}

// translateIDs rewrites uid= and gid= filesystem options to host ids when
// the filesystem is created before the user namespace is entered: the
// kernel reads them in the creator's namespace.
func (c *compiler) translateIDs(params []fsParam) []fsParam {
	if !c.p.opts.SetupAsCaller || c.p.opts.ToHost == nil {
		return params
	}
	out := make([]fsParam, len(params))
	for i, prm := range params {
		out[i] = prm
		if prm.flag || (prm.key != "uid" && prm.key != "gid") {
			continue
		}
		var id uint32
		if _, err := fmt.Sscan(prm.value, &id); err != nil {
			continue
		}
		if h, ok := c.p.opts.ToHost(id, prm.key == "gid"); ok {
			out[i].value = fmt.Sprint(h)
		}
	}
	return out
}

// EmitPivot makes the new root the process's root: fchdir into it,
// pivot_root(".", "."), detach the old root stacked underneath, chdir "/".
// Then the masked paths, read-only paths and sysctls, and a read-only root.
func (p *Plan) EmitPivot(b *spawn.Builder) {
	if !p.active {
		p.emitSysctls(b)
		return
	}
	c := &compiler{b: b, p: p, hows: map[howKey]spawn.Addr{}}
	b.Call(spawn.Call{Nr: unix.SYS_FCHDIR, Args: []spawn.Arg{spawn.Reg(regRoot)}, Op: "fchdir", Target: "new root"})
	b.Call(spawn.Call{Nr: unix.SYS_PIVOT_ROOT, Args: []spawn.Arg{b.String(".").Arg(), b.String(".").Arg()}, Op: "pivot_root", Target: "new root"})
	b.Call(spawn.Call{Nr: unix.SYS_UMOUNT2, Args: []spawn.Arg{b.String(".").Arg(), spawn.Imm(unix.MNT_DETACH)}, Op: "umount2", Target: "old root"})
	b.Chdir("/")
	if prop := p.rootPropagation(); prop != p.buildPropagation() {
		b.Call(spawn.Call{Nr: unix.SYS_MOUNT, Args: []spawn.Arg{spawn.Null, b.String("/").Arg(), spawn.Null, spawn.Imm(prop), spawn.Null},
			Op: "mount", Target: "propagation of / (linux.rootfsPropagation " + p.spec.Linux.RootfsPropagation + ")"})
	}
	p.emitSysctls(b)
	if p.spec.Linux != nil {
		for _, mp := range p.spec.Linux.MaskedPaths {
			c.mask(path.Clean(mp))
		}
		for _, rp := range p.spec.Linux.ReadonlyPaths {
			c.readonly(path.Clean(rp))
		}
	}
	for _, mp := range p.opts.Masked {
		c.mask(path.Clean(mp))
	}
	if p.spec.Root != nil && p.spec.Root.Readonly {
		c.setattr(regRoot, unix.MOUNT_ATTR_RDONLY, 0, 0, false, "root")
	}
	c.closeReg(regRoot, "new root")
}

// mask hides p: an empty read-only tmpfs over a directory, /dev/null over
// anything else; a missing path is skipped.
func (c *compiler) mask(p string) {
	b := c.b
	what := "mask " + p
	end, file := b.NewLabel(), b.NewLabel()
	anyHow := c.how(unix.O_PATH|unix.O_CLOEXEC, 0, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_MAGICLINKS)
	dirHow := c.how(unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_MAGICLINKS)
	b.Call(spawn.Call{Nr: unix.SYS_OPENAT2, Args: []spawn.Arg{spawn.Imm(unix.AT_FDCWD), b.String(p).Arg(), dirHow.Arg(), spawn.Imm(24)},
		Save: ptr(regDst), Op: "openat2", Target: what, OnErrno: []unix.Errno{unix.ENOENT, unix.ENOTDIR}, ErrTo: file})
	c.fsmount("tmpfs", "", []fsParam{{key: "size", value: "0"}}, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, regSrc, what)
	b.Call(spawn.Call{Nr: unix.SYS_MOVE_MOUNT, Args: []spawn.Arg{spawn.Reg(regSrc), b.String("").Arg(), spawn.Reg(regDst), b.String("").Arg(),
		spawn.Imm(unix.MOVE_MOUNT_F_EMPTY_PATH | unix.MOVE_MOUNT_T_EMPTY_PATH)}, Op: "move_mount", Target: what})
	c.closeReg(regSrc, what)
	b.Call(spawn.Call{Nr: unix.SYS_CLOSE, Args: []spawn.Arg{spawn.Reg(regDst)}, Op: "close", Target: what, OkTo: end})
	b.Bind(file)
	b.Call(spawn.Call{Nr: unix.SYS_OPENAT2, Args: []spawn.Arg{spawn.Imm(unix.AT_FDCWD), b.String(p).Arg(), anyHow.Arg(), spawn.Imm(24)},
		Save: ptr(regDst), Op: "openat2", Target: what, OnErrno: []unix.Errno{unix.ENOENT}, ErrTo: end})
	b.Call(spawn.Call{Nr: unix.SYS_OPEN_TREE, Args: []spawn.Arg{spawn.Imm(unix.AT_FDCWD), b.String("/dev/null").Arg(), spawn.Imm(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)},
		Save: ptr(regSrc), Op: "open_tree", Target: "/dev/null to " + what})
	b.Call(spawn.Call{Nr: unix.SYS_MOVE_MOUNT, Args: []spawn.Arg{spawn.Reg(regSrc), b.String("").Arg(), spawn.Reg(regDst), b.String("").Arg(),
		spawn.Imm(unix.MOVE_MOUNT_F_EMPTY_PATH | unix.MOVE_MOUNT_T_EMPTY_PATH)}, Op: "move_mount", Target: what})
	c.closeReg(regSrc, what)
	c.closeReg(regDst, what)
	b.Bind(end)
}

// readonly binds p onto itself read-only (recursively); a missing path is
// skipped.
func (c *compiler) readonly(p string) {
	b := c.b
	what := "read-only " + p
	end := b.NewLabel()
	anyHow := c.how(unix.O_PATH|unix.O_CLOEXEC, 0, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_MAGICLINKS)
	b.Call(spawn.Call{Nr: unix.SYS_OPENAT2, Args: []spawn.Arg{spawn.Imm(unix.AT_FDCWD), b.String(p).Arg(), anyHow.Arg(), spawn.Imm(24)},
		Save: ptr(regDst), Op: "openat2", Target: what, OnErrno: []unix.Errno{unix.ENOENT}, ErrTo: end})
	b.Call(spawn.Call{Nr: unix.SYS_OPEN_TREE, Args: []spawn.Arg{spawn.Reg(regDst), b.String("").Arg(), spawn.Imm(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_EMPTY_PATH | unix.AT_RECURSIVE)},
		Save: ptr(regSrc), Op: "open_tree", Target: what})
	c.setattr(regSrc, unix.MOUNT_ATTR_RDONLY, 0, 0, true, what)
	b.Call(spawn.Call{Nr: unix.SYS_MOVE_MOUNT, Args: []spawn.Arg{spawn.Reg(regSrc), b.String("").Arg(), spawn.Reg(regDst), b.String("").Arg(),
		spawn.Imm(unix.MOVE_MOUNT_F_EMPTY_PATH | unix.MOVE_MOUNT_T_EMPTY_PATH)}, Op: "move_mount", Target: what})
	c.closeReg(regSrc, what)
	c.closeReg(regDst, what)
	b.Bind(end)
}
