//go:build linux

package rootfs

import (
	"fmt"
	"os"
	"path"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/spawn"
)

func mode(m os.FileMode) *os.FileMode { return &m }

// defaultDevices are the nodes every container gets with a fresh /dev, as
// runtime-spec config-linux.md lists them (console and ptmx aside).
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: mode(0o666)},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: mode(0o666)},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: mode(0o666)},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8, FileMode: mode(0o666)},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9, FileMode: mode(0o666)},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0, FileMode: mode(0o666)},
}

// DefaultDevices returns the nodes every sandbox with a fresh /dev gets
// (linux.devices adds to them); a device cgroup must allow them.
func DefaultDevices() []specs.LinuxDevice { return slices.Clone(defaultDevices) }

// devSymlinks are the links a fresh /dev gets.
var devSymlinks = [][2]string{
	{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"}, {"core", "/proc/kcore"}, {"ptmx", "pts/ptmx"},
}

// devices creates each device node — mknod when the setup runs as a
// privileged caller, a bind of the host's node otherwise — and /dev's
// symlinks.
func (c *compiler) devices() {
	b := c.b
	mknod := c.p.opts.SetupAsCaller && c.p.opts.Privileged
	for _, d := range c.p.devices {
		p := path.Clean(d.Path)
		what := "device " + p
		if !mknod {
			c.resolveTarget(p, true, regDst, what)
			b.Call(spawn.Call{Nr: unix.SYS_OPEN_TREE, Args: []spawn.Arg{spawn.Imm(unix.AT_FDCWD), b.String(p).Arg(), spawn.Imm(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)},
				Save: ptr(regSrc), Op: "open_tree", Target: "host " + what})
			b.Call(spawn.Call{Nr: unix.SYS_MOVE_MOUNT, Args: []spawn.Arg{spawn.Reg(regSrc), b.String("").Arg(), spawn.Reg(regDst), b.String("").Arg(),
				spawn.Imm(unix.MOVE_MOUNT_F_EMPTY_PATH | unix.MOVE_MOUNT_T_EMPTY_PATH)}, Op: "move_mount", Target: what})
			c.closeReg(regSrc, what)
			c.closeReg(regDst, what)
			continue
		}
		dir, base := path.Split(p)
		c.resolveTarget(dir, false, regDir, what)
		perm := uint64(0o666)
		if d.FileMode != nil {
			perm = uint64(d.FileMode.Perm())
		}
		var typ uint64
		switch d.Type {
		case "c", "u":
			typ = unix.S_IFCHR
		case "b":
			typ = unix.S_IFBLK
		case "p":
			typ = unix.S_IFIFO
		}
		dev := unix.Mkdev(uint32(d.Major), uint32(d.Minor))
		b.Call(spawn.Call{Nr: unix.SYS_MKNODAT, Args: []spawn.Arg{spawn.Reg(regDir), b.String(base).Arg(), spawn.Imm(typ | perm), spawn.Imm(dev)},
			Op: "mknod", Target: fmt.Sprintf("%s (%s %d:%d)", p, d.Type, d.Major, d.Minor), OnErrno: []unix.Errno{unix.EEXIST}})
		uid, gid := uint32(0), uint32(0)
		if d.UID != nil {
			uid = *d.UID
		}
		if d.GID != nil {
			gid = *d.GID
		}
		if c.p.opts.ToHost != nil {
			if h, ok := c.p.opts.ToHost(uid, false); ok {
				uid = h
			}
			if h, ok := c.p.opts.ToHost(gid, true); ok {
				gid = h
			}
		}
		if uid != 0 || gid != 0 {
			b.Call(spawn.Call{Nr: unix.SYS_FCHOWNAT, Args: []spawn.Arg{spawn.Reg(regDir), b.String(base).Arg(), spawn.Imm(uid), spawn.Imm(gid), spawn.Imm(unix.AT_SYMLINK_NOFOLLOW)},
				Op: "chown", Target: fmt.Sprintf("%s to %d:%d", p, uid, gid)})
		}
		c.closeReg(regDir, what)
	}
	if c.p.devSymlink {
		c.resolveTarget("/dev", false, regDir, "/dev links")
		for _, l := range devSymlinks {
			b.Call(spawn.Call{Nr: unix.SYS_SYMLINKAT, Args: []spawn.Arg{b.String(l[1]).Arg(), spawn.Reg(regDir), b.String(l[0]).Arg()},
				Op: "symlink", Target: "/dev/" + l[0] + " → " + l[1], OnErrno: []unix.Errno{unix.EEXIST}})
		}
		c.closeReg(regDir, "/dev")
	}
}
