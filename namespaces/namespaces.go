//go:build linux

// Package namespaces compiles the namespace part of an OCI runtime spec
// (linux.namespaces, linux.uidMappings/gidMappings, hostname, domainname)
// into spawn steps: clone3 flags for namespaces to create, setns on
// descriptors the parent opened for namespaces to join, the id maps (written
// by the child for an unprivileged caller, by the parent at a sync point
// otherwise), hostname and domainname, and bringing loopback up in a new
// network namespace.
//
// It never imports the compilers of the other parts; the oci package
// decides where in the program each Emit call goes.
package namespaces

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/spawn"
)

// Options are the facts about the caller that the spec does not hold.
type Options struct {
	// Privileged says the parent may write any id map (it has CAP_SETUID
	// and CAP_SETGID in its user namespace); otherwise the child maps only
	// the caller's own ids, one line each.
	Privileged bool
	// Euid and Egid are the caller's ids, for the unprivileged single-line
	// maps.
	Euid, Egid int
	// UsernsLast creates every other namespace first, while the child is
	// still the caller, and enters the new user namespace last (unshare).
	// The other namespaces are then owned by the caller's user namespace:
	// nothing in the sandbox, whatever its capabilities, can remount,
	// reconfigure the network or rename the host. Needs Privileged.
	UsernsLast bool
	// Setgroups, for a new user namespace, allows setgroups(2) inside;
	// false writes "deny" to /proc/<pid>/setgroups. An unprivileged
	// caller's namespace always denies it (the kernel requires that).
	Setgroups bool
}

// SyncMaps is the sync point at which the parent writes the id maps.
const SyncMaps = 0x1d

// Plan is the compiled namespace setup.
type Plan struct {
	opts       Options
	cloneFlags uint64 // namespaces created by clone3
	newUser    bool
	joins      []join
	uidMap     []specs.LinuxIDMapping
	gidMap     []specs.LinuxIDMapping
	hostname   *string
	domainname *string
	newNet     bool
	newCgroup  bool
	joinsPid   bool
}

type join struct {
	typ  specs.LinuxNamespaceType
	flag uint64
	path string
	file *os.File
}

var nsFlags = map[specs.LinuxNamespaceType]uint64{
	specs.PIDNamespace:     unix.CLONE_NEWPID,
	specs.NetworkNamespace: unix.CLONE_NEWNET,
	specs.MountNamespace:   unix.CLONE_NEWNS,
	specs.IPCNamespace:     unix.CLONE_NEWIPC,
	specs.UTSNamespace:     unix.CLONE_NEWUTS,
	specs.UserNamespace:    unix.CLONE_NEWUSER,
	specs.CgroupNamespace:  unix.CLONE_NEWCGROUP,
	specs.TimeNamespace:    unix.CLONE_NEWTIME,
}

// Compile validates the namespace fields of spec and opens the namespaces
// to join. Every problem is reported, each with its field path. The
// returned Plan owns the opened files until Close; on error it is still
// returned (its files closed) for ToHost.
func Compile(spec *specs.Spec, opts Options) (*Plan, error) {
	p := &Plan{opts: opts}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var lnx specs.Linux
	if spec.Linux != nil {
		lnx = *spec.Linux
	}
	seen := map[specs.LinuxNamespaceType]int{}
	for i, ns := range lnx.Namespaces {
		field := fmt.Sprintf("linux.namespaces[%d]", i)
		flag, ok := nsFlags[ns.Type]
		if !ok {
			bad("%s.type: unknown namespace type %q", field, ns.Type)
			continue
		}
		if j, dup := seen[ns.Type]; dup {
			bad("%s.type: %s namespace already given at linux.namespaces[%d]", field, ns.Type, j)
			continue
		}
		seen[ns.Type] = i
		if ns.Path == "" {
			if ns.Type == specs.TimeNamespace && (len(lnx.TimeOffsets) > 0) {
				bad("linux.timeOffsets: time namespace offsets are not supported yet (a CLONE_VM child cannot write them; use a time namespace without offsets)")
			}
			if ns.Type == specs.UserNamespace {
				p.newUser = true
				if opts.UsernsLast {
					continue
				}
			}
			if ns.Type == specs.CgroupNamespace {
				// Created by EmitCgroup, once the child sits in its own
				// cgroups: a cgroup namespace's root is fixed when it is
				// made, and cgroup v1 joins happen after the clone.
				p.newCgroup = true
				continue
			}
			p.cloneFlags |= flag
			if ns.Type == specs.NetworkNamespace {
				p.newNet = true
			}
			continue
		}
		if ns.Type == specs.TimeNamespace {
			bad("%s.path: joining a time namespace is not supported yet (setns into a time namespace fails with EUSERS for a CLONE_VM child)", field)
			continue
		}
		f, err := os.Open(ns.Path)
		if err != nil {
			bad("%s.path: %w", field, err)
			continue
		}
		var st unix.Statfs_t
		if err := unix.Fstatfs(int(f.Fd()), &st); err != nil || st.Type != unix.NSFS_MAGIC {
			f.Close()
			bad("%s.path: %s is not a namespace file", field, ns.Path)
			continue
		}
		p.joins = append(p.joins, join{typ: ns.Type, flag: flag, path: ns.Path, file: f})
		if ns.Type == specs.PIDNamespace {
			p.joinsPid = true
		}
	}
	if len(lnx.TimeOffsets) > 0 {
		if _, ok := seen[specs.TimeNamespace]; !ok {
			bad("linux.timeOffsets: given without a time namespace")
		}
	}
	// A user namespace joined first lets the other joins be checked
	// against it, as runc does.
	slices.SortStableFunc(p.joins, func(a, b join) int {
		return boolInt(b.typ == specs.UserNamespace) - boolInt(a.typ == specs.UserNamespace)
	})

	p.uidMap, p.gidMap = lnx.UIDMappings, lnx.GIDMappings
	if p.newUser {
		if len(p.uidMap) == 0 || len(p.gidMap) == 0 {
			bad("linux.uidMappings: a new user namespace needs uidMappings and gidMappings")
		}
		errs = append(errs, checkMap("linux.uidMappings", p.uidMap)...)
		errs = append(errs, checkMap("linux.gidMappings", p.gidMap)...)
		if !opts.Privileged {
			errs = append(errs, checkUnprivilegedMap("linux.uidMappings", p.uidMap, opts.Euid)...)
			errs = append(errs, checkUnprivilegedMap("linux.gidMappings", p.gidMap, opts.Egid)...)
		}
		if opts.UsernsLast && !opts.Privileged {
			bad("linux.namespaces: entering the user namespace last needs a privileged caller")
		}
	} else if len(p.uidMap) > 0 || len(p.gidMap) > 0 {
		bad("linux.uidMappings: id mappings given without a new user namespace")
	}

	_, hasUTS := seen[specs.UTSNamespace]
	if spec.Hostname != "" {
		if !hasUTS {
			bad("hostname: setting the hostname needs a uts namespace")
		} else if len(spec.Hostname) > 64 {
			bad("hostname: %d bytes, at most 64", len(spec.Hostname))
		} else {
			h := spec.Hostname
			p.hostname = &h
		}
	}
	if spec.Domainname != "" {
		if !hasUTS {
			bad("domainname: setting the domain name needs a uts namespace")
		} else if len(spec.Domainname) > 64 {
			bad("domainname: %d bytes, at most 64", len(spec.Domainname))
		} else {
			d := spec.Domainname
			p.domainname = &d
		}
	}
	if err := errors.Join(errs...); err != nil {
		// The plan still answers ToHost, so the caller can check ids
		// against the maps and report those problems too.
		p.Close()
		return p, err
	}
	return p, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func checkMap(field string, m []specs.LinuxIDMapping) []error {
	var errs []error
	for i, e := range m {
		if e.Size == 0 {
			errs = append(errs, fmt.Errorf("%s[%d].size: must be at least 1", field, i))
		}
		for j := 0; j < i; j++ {
			o := m[j]
			if e.ContainerID < o.ContainerID+o.Size && o.ContainerID < e.ContainerID+e.Size {
				errs = append(errs, fmt.Errorf("%s[%d]: container ids overlap %s[%d]", field, i, field, j))
			}
			if e.HostID < o.HostID+o.Size && o.HostID < e.HostID+e.Size {
				errs = append(errs, fmt.Errorf("%s[%d]: host ids overlap %s[%d]", field, i, field, j))
			}
		}
	}
	if len(m) > 340 {
		errs = append(errs, fmt.Errorf("%s: %d ranges, the kernel takes at most 340", field, len(m)))
	}
	return errs
}

func checkUnprivilegedMap(field string, m []specs.LinuxIDMapping, own int) []error {
	if len(m) == 1 && m[0].Size == 1 && int(m[0].HostID) == own {
		return nil
	}
	return []error{fmt.Errorf("%s: an unprivileged caller can only map its own id (%d) with a single range of size 1", field, own)}
}

// Close releases the namespace files opened for joins.
func (p *Plan) Close() {
	for _, j := range p.joins {
		j.file.Close()
	}
	p.joins = nil
}

// CloneFlags are the namespaces clone3 creates.
func (p *Plan) CloneFlags() uint64 { return p.cloneFlags }

// NewUser reports whether the sandbox gets a new user namespace.
func (p *Plan) NewUser() bool { return p.newUser }

// NewNet reports whether the sandbox gets a new network namespace.
func (p *Plan) NewNet() bool { return p.newNet }

// JoinsPid reports whether an existing pid namespace is joined: the
// command must then be a child (see spawn.Builder.Reaper).
func (p *Plan) JoinsPid() bool { return p.joinsPid }

// SetupAsCaller reports whether the steps between the joins and EmitUser
// (mounts, hostname, network) run with the caller's own identity: true when
// the user namespace is entered last, or when there is none.
func (p *Plan) SetupAsCaller() bool { return !p.newUser || p.opts.UsernsLast }

// ToHost translates a container uid (or gid, with gid true) to the host id
// it maps to; ids are unchanged without a new user namespace. It reports
// false for an unmapped id.
func (p *Plan) ToHost(id uint32, gid bool) (uint32, bool) {
	if !p.newUser {
		return id, true
	}
	m := p.uidMap
	if gid {
		m = p.gidMap
	}
	for _, e := range m {
		if id >= e.ContainerID && id-e.ContainerID < e.Size {
			return e.HostID + (id - e.ContainerID), true
		}
	}
	return 0, false
}

// EmitJoins emits setns for every namespace to join, the user namespace
// first.
func (p *Plan) EmitJoins(b *spawn.Builder) {
	for _, j := range p.joins {
		fd := b.KeepFile(j.file, string(j.typ)+" namespace")
		b.Call(spawn.Call{Nr: unix.SYS_SETNS, Args: []spawn.Arg{spawn.Imm(fd), spawn.Imm(j.flag)},
			Op: "setns", Target: fmt.Sprintf("%s namespace %s", j.typ, j.path)})
	}
}

// EmitUser enters the new user namespace, if any: unshare it when it was
// not created by clone3, install the id maps (child-written for an
// unprivileged caller, else by the parent at sync point SyncMaps), and
// become the namespace's root. Place it after the setup that must run as
// the caller when UsernsLast is set, else right after the joins.
func (p *Plan) EmitUser(b *spawn.Builder, scratch int) {
	if !p.newUser {
		return
	}
	if p.opts.UsernsLast {
		// Create it as the host ids its root maps to, not as the caller:
		// the kernel charges what the namespace's processes hold (pending
		// signals, inotify instances, message queues) to the namespace's
		// owner as well, and a sandbox owned by host root would eat the
		// quotas of root's own daemons.
		// CAP_SYS_ADMIN is kept across the switch: kernels that restrict
		// user namespaces to privileged creators (Debian's
		// kernel.unprivileged_userns_clone=0, Ubuntu's AppArmor
		// restriction) look for it at the unshare.
		uid, uok := p.ToHost(0, false)
		gid, gok := p.ToHost(0, true)
		if uok && gok && uid != 0 {
			b.Call(spawn.Call{Nr: unix.SYS_PRCTL, Args: []spawn.Arg{spawn.Imm(unix.PR_SET_KEEPCAPS), spawn.Imm(1)},
				Op: "prctl PR_SET_KEEPCAPS", Target: "keep CAP_SYS_ADMIN for the unshare"})
			b.Call(spawn.Call{Nr: unix.SYS_SETGROUPS, Args: []spawn.Arg{spawn.Imm(0), spawn.Null}, Op: "setgroups", Target: "[] before the user namespace"})
			b.Call(spawn.Call{Nr: unix.SYS_SETRESGID, Args: []spawn.Arg{spawn.Imm(gid), spawn.Imm(gid), spawn.Imm(gid)},
				Op: "setresgid", Target: fmt.Sprintf("%d, the owner of the user namespace", gid)})
			b.Call(spawn.Call{Nr: unix.SYS_SETRESUID, Args: []spawn.Arg{spawn.Imm(uid), spawn.Imm(uid), spawn.Imm(uid)},
				Op: "setresuid", Target: fmt.Sprintf("%d, the owner of the user namespace", uid)})
			b.Capset(1<<unix.CAP_SYS_ADMIN, 1<<unix.CAP_SYS_ADMIN, 0, "&{eff=CAP_SYS_ADMIN perm=CAP_SYS_ADMIN inh=0}",
				"CAP_SYS_ADMIN only, for the unshare")
		}
		b.Call(spawn.Call{Nr: unix.SYS_UNSHARE, Args: []spawn.Arg{spawn.Imm(unix.CLONE_NEWUSER)},
			Op: "unshare", Target: "user namespace"})
	}
	if p.opts.Privileged {
		b.Sync(SyncMaps, spawn.Imm(0), "parent writes the id maps")
	} else {
		writeProcSelf(b, scratch, "setgroups", "deny")
		writeProcSelf(b, scratch, "gid_map", formatMap(p.gidMap))
		writeProcSelf(b, scratch, "uid_map", formatMap(p.uidMap))
	}
	// The child still holds the caller's ids, which the maps may not
	// cover: become the namespace's root (which has every capability in
	// it). The credentials compiler sets the final identity later.
	if p.opts.Privileged && p.opts.Setgroups {
		b.Call(spawn.Call{Nr: unix.SYS_SETGROUPS, Args: []spawn.Arg{spawn.Imm(0), spawn.Null}, Op: "setgroups", Target: "[] in the user namespace"})
	}
	b.Call(spawn.Call{Nr: unix.SYS_SETRESGID, Args: []spawn.Arg{spawn.Imm(0), spawn.Imm(0), spawn.Imm(0)}, Op: "setresgid", Target: "0 in the user namespace"})
	b.Call(spawn.Call{Nr: unix.SYS_SETRESUID, Args: []spawn.Arg{spawn.Imm(0), spawn.Imm(0), spawn.Imm(0)}, Op: "setresuid", Target: "0 in the user namespace"})
}

func writeProcSelf(b *spawn.Builder, reg int, file, content string) {
	path := "/proc/self/" + file
	b.Call(spawn.Call{Nr: unix.SYS_OPENAT, Args: []spawn.Arg{spawn.Imm(unix.AT_FDCWD), b.String(path).Arg(), spawn.Imm(unix.O_WRONLY | unix.O_CLOEXEC)},
		Save: &reg, Op: "open", Target: path})
	n := uint64(len(content))
	b.Call(spawn.Call{Nr: unix.SYS_WRITE, Args: []spawn.Arg{spawn.Reg(reg), b.String(content).Arg(), spawn.Imm(len(content))},
		Check: &n, Op: "write", Target: fmt.Sprintf("%q to %s", strings.TrimSpace(content), path)})
	b.Call(spawn.Call{Nr: unix.SYS_CLOSE, Args: []spawn.Arg{spawn.Reg(reg)}, Op: "close", Target: path})
}

func formatMap(m []specs.LinuxIDMapping) string {
	var sb strings.Builder
	for _, e := range m {
		fmt.Fprintf(&sb, "%d %d %d\n", e.ContainerID, e.HostID, e.Size)
	}
	return sb.String()
}

// WriteMaps writes the id maps of the user namespace pid is in: the
// parent's half of SyncMaps. Raw syscalls, not os files: the child waits
// meanwhile, and os.OpenFile's poller bookkeeping costs more than the
// writes.
func (p *Plan) WriteMaps(pid int) error {
	dir := "/proc/" + strconv.Itoa(pid) + "/"
	if err := writeFile(dir+"uid_map", formatMap(p.uidMap)); err != nil {
		return err
	}
	if !p.opts.Setgroups {
		if err := writeFile(dir+"setgroups", "deny"); err != nil {
			return err
		}
	}
	return writeFile(dir+"gid_map", formatMap(p.gidMap))
}

func writeFile(path, content string) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("namespaces: open %s: %w", path, err)
	}
	defer unix.Close(fd)
	if n, err := unix.Write(fd, []byte(content)); err != nil || n != len(content) {
		if err == nil {
			err = unix.EIO
		}
		return fmt.Errorf("namespaces: write %s: %w", path, err)
	}
	return nil
}

// EmitCgroup creates the new cgroup namespace, if any, rooted at the cgroups
// the child is in when it runs: place it after the cgroup joins.
func (p *Plan) EmitCgroup(b *spawn.Builder) {
	if p.newCgroup {
		b.Call(spawn.Call{Nr: unix.SYS_UNSHARE, Args: []spawn.Arg{spawn.Imm(unix.CLONE_NEWCGROUP)},
			Op: "unshare", Target: "cgroup namespace"})
	}
}

// EmitUTS sets hostname and domainname.
func (p *Plan) EmitUTS(b *spawn.Builder) {
	if p.hostname != nil {
		b.Call(spawn.Call{Nr: unix.SYS_SETHOSTNAME, Args: []spawn.Arg{b.String(*p.hostname).Arg(), spawn.Imm(len(*p.hostname))},
			Op: "sethostname", Target: *p.hostname})
	}
	if p.domainname != nil {
		b.Call(spawn.Call{Nr: unix.SYS_SETDOMAINNAME, Args: []spawn.Arg{b.String(*p.domainname).Arg(), spawn.Imm(len(*p.domainname))},
			Op: "setdomainname", Target: *p.domainname})
	}
}

// EmitLoopback brings lo up in a new network namespace; the kernel then
// adds 127.0.0.1 and ::1 itself.
func (p *Plan) EmitLoopback(b *spawn.Builder, scratch int) {
	if !p.newNet {
		return
	}
	b.Call(spawn.Call{Nr: unix.SYS_SOCKET, Args: []spawn.Arg{spawn.Imm(unix.AF_INET), spawn.Imm(unix.SOCK_DGRAM | unix.SOCK_CLOEXEC), spawn.Imm(0)},
		Save: &scratch, Op: "socket", Target: "AF_INET for lo"})
	var ifr [40]byte
	copy(ifr[:], "lo")
	flags := uint16(unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING)
	ifr[16], ifr[17] = byte(flags), byte(flags>>8)
	a := b.Bytes(ifr[:], 8)
	b.Name(a, `&{name="lo" flags=UP|LOOPBACK|RUNNING}`)
	b.Call(spawn.Call{Nr: unix.SYS_IOCTL, Args: []spawn.Arg{spawn.Reg(scratch), spawn.Imm(unix.SIOCSIFFLAGS), a.Arg()},
		Op: "ioctl SIOCSIFFLAGS", Target: "lo up"})
	b.Call(spawn.Call{Nr: unix.SYS_CLOSE, Args: []spawn.Arg{spawn.Reg(scratch)}, Op: "close", Target: "lo socket"})
}
