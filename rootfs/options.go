//go:build linux

package rootfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOpts is an OCI mount's options sorted into what each syscall takes:
// mount attributes (fsmount, mount_setattr), propagation (mount_setattr
// after attach), and filesystem parameters (fsconfig).
type mountOpts struct {
	bind, recursive bool
	attrSet         uint64
	attrClr         uint64
	propagation     uint64
	propRecursive   bool
	params          []fsParam
}

type fsParam struct {
	key, value string
	flag       bool // FSCONFIG_SET_FLAG: key only
}

type attrOpt struct {
	set, clr uint64
}

var attrOpts = map[string]attrOpt{
	"ro":          {set: unix.MOUNT_ATTR_RDONLY},
	"rw":          {clr: unix.MOUNT_ATTR_RDONLY},
	"nosuid":      {set: unix.MOUNT_ATTR_NOSUID},
	"suid":        {clr: unix.MOUNT_ATTR_NOSUID},
	"nodev":       {set: unix.MOUNT_ATTR_NODEV},
	"dev":         {clr: unix.MOUNT_ATTR_NODEV},
	"noexec":      {set: unix.MOUNT_ATTR_NOEXEC},
	"exec":        {clr: unix.MOUNT_ATTR_NOEXEC},
	"nodiratime":  {set: unix.MOUNT_ATTR_NODIRATIME},
	"diratime":    {clr: unix.MOUNT_ATTR_NODIRATIME},
	"nosymfollow": {set: unix.MOUNT_ATTR_NOSYMFOLLOW},
	"symfollow":   {clr: unix.MOUNT_ATTR_NOSYMFOLLOW},
	// The atime modes share one field: setting one clears the others.
	"noatime":     {set: unix.MOUNT_ATTR_NOATIME, clr: unix.MOUNT_ATTR__ATIME},
	"relatime":    {set: unix.MOUNT_ATTR_RELATIME, clr: unix.MOUNT_ATTR__ATIME},
	"strictatime": {set: unix.MOUNT_ATTR_STRICTATIME, clr: unix.MOUNT_ATTR__ATIME},
	"atime":       {clr: unix.MOUNT_ATTR__ATIME},
}

var propOpts = map[string]uint64{
	"private": unix.MS_PRIVATE, "shared": unix.MS_SHARED, "slave": unix.MS_SLAVE, "unbindable": unix.MS_UNBINDABLE,
}

// sbFlags are superblock flags the VFS takes through fsconfig as flags.
var sbFlags = map[string]bool{"sync": true, "dirsync": true, "lazytime": true, "mand": true, "silent": true}

// unsupportedOpts are options other runtimes know that this one refuses
// rather than ignores.
var unsupportedOpts = map[string]string{
	"remount":   "remounting is not a mount of its own",
	"tmpcopyup": "copying the underlying directory into a tmpfs is not supported",
	"idmap":     "idmapped mounts are not supported yet",
	"ridmap":    "idmapped mounts are not supported yet",
	"move":      "moving mounts is not supported",
}

// parseOptions sorts options; bind is whether the mount's type or options
// make it a bind mount.
func parseOptions(typ string, options []string) (mountOpts, error) {
	var o mountOpts
	if typ == "bind" || typ == "rbind" {
		o.bind = true
		o.recursive = typ == "rbind"
	}
	for _, opt := range options {
		switch {
		case opt == "bind":
			o.bind = true
		case opt == "rbind":
			o.bind, o.recursive = true, true
		case opt == "defaults" || opt == "":
		case attrOpts[opt] != (attrOpt{}):
			a := attrOpts[opt]
			o.attrClr |= a.clr
			o.attrSet = o.attrSet&^a.clr | a.set
			o.attrClr &^= a.set
		case propOpts[strings.TrimPrefix(opt, "r")] != 0:
			o.propagation = propOpts[strings.TrimPrefix(opt, "r")]
			o.propRecursive = strings.HasPrefix(opt, "r")
		case unsupportedOpts[opt] != "":
			return o, fmt.Errorf("option %q: %s", opt, unsupportedOpts[opt])
		case strings.HasPrefix(opt, "X-") || strings.HasPrefix(opt, "x-"):
			return o, fmt.Errorf("option %q: userspace mount options are not supported", opt)
		default:
			k, v, hasValue := strings.Cut(opt, "=")
			if k == "" {
				return o, fmt.Errorf("option %q: empty key", opt)
			}
			if hasValue {
				o.params = append(o.params, fsParam{key: k, value: v})
			} else {
				o.params = append(o.params, fsParam{key: k, flag: true})
			}
		}
	}
	if o.bind {
		for _, p := range o.params {
			return o, fmt.Errorf("option %q: a bind mount takes no filesystem options", p.String())
		}
	} else {
		for _, p := range o.params {
			if p.flag && sbFlags[p.key] {
				continue
			}
		}
	}
	return o, nil
}

func (p fsParam) String() string {
	if p.flag {
		return p.key
	}
	return p.key + "=" + p.value
}

// attrNames renders MOUNT_ATTR_* bits for listings and errors.
func attrNames(a uint64) string {
	var out []string
	for _, n := range []struct {
		bit  uint64
		name string
	}{
		{unix.MOUNT_ATTR_RDONLY, "ro"}, {unix.MOUNT_ATTR_NOSUID, "nosuid"}, {unix.MOUNT_ATTR_NODEV, "nodev"},
		{unix.MOUNT_ATTR_NOEXEC, "noexec"}, {unix.MOUNT_ATTR_NODIRATIME, "nodiratime"}, {unix.MOUNT_ATTR_NOSYMFOLLOW, "nosymfollow"},
	} {
		if a&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	switch a & unix.MOUNT_ATTR__ATIME {
	case unix.MOUNT_ATTR_NOATIME:
		out = append(out, "noatime")
	case unix.MOUNT_ATTR_STRICTATIME:
		out = append(out, "strictatime")
	}
	return strings.Join(out, ",")
}
