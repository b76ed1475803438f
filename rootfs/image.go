//go:build linux

package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CheckImageRoot checks a directory to be a sandbox's read-only root of
// the caller's (AnnotationLockedRoot: an unpacked image, say): dir must
// be absolute and free of symbolic links (resolveSource's result), not
// the host's own root, and hold /proc, /dev and /tmp as directories, on
// which the sandbox mounts its own (nothing is made in the image).
//
// The setup looks dir and its mount points up again, in the child, after
// this check. So that what it finds is what was checked, nobody but root
// and the caller may change them meanwhile: dir and every directory above
// it must belong to root or the caller, and none may be writable by
// others, but for a sticky directory above dir (such as /tmp), where
// others cannot rename what they do not own. Otherwise another user could
// swap dir for a link to the host's root, or /proc in it for an empty
// directory, which would leave the sandbox's procfs without its masks.
func CheckImageRoot(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%s: not an absolute path", dir)
	}
	euid := uint32(os.Geteuid())
	var st, rootSt unix.Stat_t
	if err := unix.Stat("/", &rootSt); err != nil {
		return &os.PathError{Op: "stat", Path: "/", Err: err}
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if err := unix.Lstat(d, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: d, Err: err}
		}
		last := d == filepath.Clean(dir)
		switch {
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			return fmt.Errorf("%s: not a directory", d)
		case st.Uid != 0 && st.Uid != euid:
			return fmt.Errorf("%s belongs to uid %d, neither root nor the caller, who could change the image while the sandbox is set up (chown it, or copy the image)", d, st.Uid)
		case st.Mode&0o022 != 0 && (last || st.Mode&unix.S_ISVTX == 0):
			return fmt.Errorf("%s is writable by others (mode %#o), who could change the image while the sandbox is set up (chmod go-w it)", d, st.Mode&0o7777)
		}
		if last && st.Dev == rootSt.Dev && st.Ino == rootSt.Ino {
			return errors.New(`the host's own root: use the default root, or root.path "/" without the locked-root annotation`)
		}
		if d == "/" {
			break
		}
	}
	for _, mp := range []string{"proc", "dev", "tmp"} {
		var m unix.Stat_t
		if unix.Lstat(filepath.Join(dir, mp), &m) != nil || m.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("%s has no directory /%s (the read-only root must have /proc, /dev and /tmp: mkdir them)", dir, mp)
		}
	}
	return nil
}
