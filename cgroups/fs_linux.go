package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// writeFile writes data to one control file with a single write(2), as
// cgroupfs expects. In a fake layout the file is created.
func (l *Layout) writeFile(dir, file, data string) error {
	flags := unix.O_WRONLY | unix.O_CLOEXEC
	if l.fake {
		flags |= unix.O_CREAT | unix.O_TRUNC
	}
	fd, err := openRetry(filepath.Join(dir, file), flags, 0o644)
	if err != nil {
		return fileError("open", dir, file, err)
	}
	defer unix.Close(fd)
	for {
		_, err = unix.Write(fd, []byte(data))
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fileError("write", dir, file, err)
	}
	return nil
}

// openFile opens a control file as an *os.File (for descriptors handed to
// the spawn core).
func (l *Layout) openFile(dir, file string, flags int) (*os.File, error) {
	flags |= unix.O_CLOEXEC
	if l.fake && flags&unix.O_DIRECTORY == 0 {
		flags |= unix.O_CREAT
	}
	p := filepath.Join(dir, file)
	fd, err := openRetry(p, flags, 0o644)
	if err != nil {
		return nil, fileError("open", dir, file, err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

func openRetry(p string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Open(p, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readFile reads a whole control file.
func readFile(dir, file string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fileError("read", dir, file, err)
	}
	return b, nil
}

// readPids parses a cgroup.procs file. A missing file (the group is gone)
// reads as empty.
func readPids(dir string) ([]int, error) {
	b, err := readFile(dir, "cgroup.procs")
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fileError("read", dir, "cgroup.procs", errors.New("malformed pid "+strconv.Quote(f)))
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// readTreePids lists the processes in dir and in the cgroups below it (a
// sandbox allowed to manage its cgroup may have made some).
func readTreePids(dir string) ([]int, error) {
	pids, err := readPids(dir)
	if err != nil {
		return nil, err
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			sub, err := readTreePids(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			pids = append(pids, sub...)
		}
	}
	return pids, nil
}

// keyed returns the value of key in a flat keyed file ("key value" lines:
// memory.events, cpu.stat, memory.oom_control, pids.events…).
func keyed(b []byte, key string) (uint64, bool) {
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// single parses a file holding one number.
func single(b []byte) (uint64, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// mkdir makes one cgroup directory. It reports whether it made it
// (false with a nil error when it already existed and exist is allowed).
func mkdir(dir string) (bool, error) {
	err := unix.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		return true, nil
	case err == unix.EEXIST:
		return false, nil
	}
	return false, fileError("mkdir", dir, "", err)
}

// rmdir removes a cgroup directory, retrying a bounded number of times
// while the kernel still reports it busy (its last tasks are exiting).
// A directory already gone is not an error.
func (l *Layout) rmdir(dir string, retry bool) error {
	if l.fake {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Type().IsRegular() {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	delay := time.Millisecond
	for i := 0; ; i++ {
		err := unix.Rmdir(dir)
		switch {
		case err == nil || err == unix.ENOENT:
			return nil
		case err == unix.EINTR:
			continue
		case err == unix.EBUSY && retry && i == 0 && l.rmdirChildren(dir):
			continue // cgroups the sandbox made inside its own are gone now
		case err == unix.EBUSY && retry && i < rmdirRetries:
			time.Sleep(delay)
			delay = min(2*delay, 100*time.Millisecond)
			continue
		}
		return fileError("rmdir", dir, "", err)
	}
}

// rmdirChildren removes the cgroups below dir, deepest first: those a
// sandbox allowed to manage its own cgroup made inside it, which keep
// dir busy. Their processes are already dead or dying (the sandbox's tree
// was killed), so each is retried like a leaf. It reports whether dir had
// any.
func (l *Layout) rmdirChildren(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	found := false
	for _, e := range ents {
		if e.IsDir() {
			found = true
			l.rmdir(filepath.Join(dir, e.Name()), true) // its own children first, on EBUSY
		}
	}
	return found
}

// rmdirRetries bounds rmdir's retries on EBUSY: about 5 s in all.
const rmdirRetries = 60

func fileError(op, dir, file string, err error) *FileError {
	e := &FileError{Op: op, File: file, Dir: dir, Err: err}
	switch {
	case (errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM)) && !isCgroup2(dir):
		e.Hint = "run as root: cgroup v1 hierarchies are not delegated to users"
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		e.Hint = "run as root, or use a cgroup delegated to this user: systemd-run --user --scope -p Delegate=yes …"
	case errors.Is(err, unix.EROFS):
		e.Hint = "the cgroup filesystem is mounted read-only; in a container, give it a writable cgroup mount (docker run --cgroupns=private with a writable /sys/fs/cgroup, or --privileged)"
	case errors.Is(err, unix.ENOENT) && file != "" && op == "open":
		if ctrl, _, ok := strings.Cut(file, "."); ok && ctrl != "cgroup" {
			e.Hint = "the " + ctrl + " controller or this file is not available in this cgroup"
		}
	}
	return e
}

// isCgroup2 reports whether dir is on a cgroup2 filesystem (an unknown one
// counts as cgroup2, the common case).
func isCgroup2(dir string) bool {
	var st unix.Statfs_t
	for ; dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		if unix.Statfs(dir, &st) == nil {
			return st.Type == unix.CGROUP2_SUPER_MAGIC
		}
	}
	return true
}
