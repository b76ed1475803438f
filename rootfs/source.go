//go:build linux

package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSymlinks bounds a source's resolution, as the kernel's own limit.
const maxSymlinks = 40

// resolveSource returns the path a bind mount's source names, with every
// symbolic link resolved, for the child to open with RESOLVE_NO_SYMLINKS.
// A link is followed only when root or trusted (the caller's euid) owns
// it: a sandbox that could write where a source lies (a bind of its
// parent directory, in an earlier or concurrent run) must not be able to
// point a later bind at a host path of its choice; its links belong to
// its own ids. The child's no-symlink open then refuses a link put in
// place between this check and the mount (ELOOP).
func resolveSource(src string, trusted uint32) (string, error) {
	return ResolveTrusted(src, trusted)
}

// ResolveTrusted returns path with every symbolic link resolved, following
// only links that root or trusted owns, for the caller to open with
// RESOLVE_NO_SYMLINKS (see resolveSource). path must exist.
func ResolveTrusted(src string, trusted uint32) (string, error) {
	fd, err := unix.Openat2(unix.AT_FDCWD, src, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS})
	if err == nil {
		unix.Close(fd)
		return src, nil
	}
	if !errors.Is(err, unix.ELOOP) {
		return "", &os.PathError{Op: "stat", Path: src, Err: err}
	}
	// Some component is a link: walk the path one component at a time.
	resolved := "/"
	rest := strings.Split(strings.TrimPrefix(filepath.Clean(src), "/"), "/")
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			resolved = next
			continue
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if st == nil || (st.Uid != 0 && st.Uid != trusted) {
			uid := -1
			if st != nil {
				uid = int(st.Uid)
			}
			return "", fmt.Errorf("%s: a symbolic link owned by uid %d, neither root nor the caller: not followed (bind its target instead)", next, uid)
		}
		if links++; links > maxSymlinks {
			return "", &os.PathError{Op: "resolve", Path: src, Err: unix.ELOOP}
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
	}
	return resolved, nil
}
