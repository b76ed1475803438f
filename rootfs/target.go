//go:build linux

package rootfs

import (
	"encoding/binary"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/spawn"
)

// Registers the rootfs steps use. Values live only within the rootfs
// phase.
const (
	regRoot = 0 // the new root's mount, attached over "/"
	regFS   = 1 // a filesystem context (fsopen)
	regSrc  = 2 // a detached mount: fsmount or open_tree
	regDst  = 3 // the resolved target
	regDir  = 4 // the parent directory during the walk
)

// howKey identifies a struct open_how.
type howKey struct{ flags, mode, resolve uint64 }

func (c *compiler) how(flags, mode, resolve uint64) spawn.Addr {
	k := howKey{flags, mode, resolve}
	if a, ok := c.hows[k]; ok {
		return a
	}
	var buf [24]byte
	binary.NativeEndian.PutUint64(buf[0:], flags)
	binary.NativeEndian.PutUint64(buf[8:], mode)
	binary.NativeEndian.PutUint64(buf[16:], resolve)
	a := c.b.Bytes(buf[:], 8)
	name := "&{O_PATH"
	if flags&unix.O_DIRECTORY != 0 {
		name += "|O_DIRECTORY"
	}
	if flags&unix.O_CREAT != 0 {
		name = "&{O_CREAT"
	}
	if resolve&unix.RESOLVE_IN_ROOT != 0 {
		name += ", RESOLVE_IN_ROOT"
	}
	if resolve&unix.RESOLVE_NO_SYMLINKS != 0 {
		name += ", RESOLVE_NO_SYMLINKS"
	}
	c.b.Name(a, name+"}")
	c.hows[k] = a
	return a
}

const inRoot = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// resolveTarget leaves in register dst an O_PATH descriptor of the mount
// target p (absolute, inside the new root), creating it when missing: a
// directory, or an empty file when file is set.
//
// Every lookup is an openat2 with RESOLVE_IN_ROOT from the new root's
// descriptor, and every mkdirat is relative to a directory descriptor the
// previous lookup returned: a symlink planted in the root resolves inside
// the root, and no path is resolved against the host's root, so no swap
// between steps can redirect a mount outside it.
//
// Postcondition: dst holds an open descriptor; every other descriptor the
// walk opened is closed. dst must be regDst or regDir.
func (c *compiler) resolveTarget(p string, file bool, dst int, what string) {
	rel := strings.TrimPrefix(path.Clean(p), "/")
	b := c.b
	dirHow := c.how(unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0, inRoot)
	if rel == "" {
		b.Call(spawn.Call{Nr: unix.SYS_OPENAT2, Args: []spawn.Arg{spawn.Reg(regRoot), b.String(".").Arg(), dirHow.Arg(), spawn.Imm(24)},
			Save: ptr(dst), Op: "openat2", Target: what})
		return
	}
	done := b.NewLabel()
	create := b.NewLabel()
	flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if !file {
		flags |= unix.O_DIRECTORY
	}
	b.Call(spawn.Call{Nr: unix.SYS_OPENAT2, Args: []spawn.Arg{spawn.Reg(regRoot), b.String(rel).Arg(), c.how(flags, 0, inRoot).Arg(), spawn.Imm(24)},
		Save: ptr(dst), Op: "openat2", Target: what, OnErrno: []unix.Errno{unix.ENOENT}, ErrTo: create, OkTo: done})
	b.Bind(create)
	comps := strings.Split(rel, "/")
	dirs := comps
	if file {
		dirs = comps[:len(comps)-1]
	}
	other := regDir
	if dst == regDir {
		other = regDst
	}
	// The last directory opened lands in dst (or, for a file, in other,
	// closed before the file is created); earlier ones alternate.
	regFor := func(i int) int {
		last := len(dirs) - 1
		if file {
			if (last-i)%2 == 0 {
				return other
			}
			return dst
		}
		if (last-i)%2 == 0 {
			return dst
		}
		return other
	}
	parent := regRoot
	for i, comp := range dirs {
		prefix := strings.Join(comps[:i+1], "/")
		b.Call(spawn.Call{Nr: unix.SYS_MKDIRAT, Args: []spawn.Arg{spawn.Reg(parent), b.String(comp).Arg(), spawn.Imm(0o755)},
			Op: "mkdir", Target: "/" + prefix + " for " + what, OnErrno: []unix.Errno{unix.EEXIST}})
		r := regFor(i)
		b.Call(spawn.Call{Nr: unix.SYS_OPENAT2, Args: []spawn.Arg{spawn.Reg(regRoot), b.String(prefix).Arg(), dirHow.Arg(), spawn.Imm(24)},
			Save: ptr(r), Op: "openat2", Target: "/" + prefix + " for " + what})
		if parent != regRoot {
			c.closeReg(parent, "/"+path.Dir(prefix))
		}
		parent = r
	}
	if file {
		if parent != regRoot {
			c.closeReg(parent, "parent of "+what)
		}
		b.Call(spawn.Call{Nr: unix.SYS_OPENAT2, Args: []spawn.Arg{spawn.Reg(regRoot), b.String(rel).Arg(),
			c.how(unix.O_CREAT|unix.O_RDONLY|unix.O_CLOEXEC, 0o644, inRoot).Arg(), spawn.Imm(24)},
			Save: ptr(dst), Op: "create", Target: what})
	}
	b.Bind(done)
}

func (c *compiler) closeReg(r int, what string) {
	c.b.Call(spawn.Call{Nr: unix.SYS_CLOSE, Args: []spawn.Arg{spawn.Reg(r)}, Op: "close", Target: what})
}

func ptr(i int) *int { return &i }
