package cgroups

import (
	"errors"
	"path/filepath"
	"strings"
)

// FileError reports a failed operation on cgroupfs: a control file read or
// write, or a directory made or removed.
//
//	cgroups: write memory.max in /sys/fs/cgroup/sandbox/1-1: invalid argument
//	cgroups: mkdir /sys/fs/cgroup/pids/sandbox: permission denied (run as root, or …)
//
// errors.Is(err, unix.EINVAL) and errors.Is(err, fs.ErrPermission) work
// through Unwrap.
type FileError struct {
	Op   string // "read", "write", "open", "mkdir", "rmdir"
	File string // the control file; empty for directory operations
	Dir  string // the cgroup directory
	Err  error  // the cause, usually a unix.Errno
	Hint string // how to fix it, when known
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString("cgroups: ")
	b.WriteString(e.Op)
	b.WriteByte(' ')
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(" in ")
	}
	b.WriteString(e.Dir)
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteByte(')')
	}
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }

// problem is the message without the package prefix and the hint.
func (e *FileError) problem() string {
	c := *e
	c.Hint = ""
	return strings.TrimPrefix(c.Error(), "cgroups: ")
}

// Path is the file or directory the operation was on.
func (e *FileError) Path() string {
	if e.File == "" {
		return e.Dir
	}
	return filepath.Join(e.Dir, e.File)
}

// Unenforced names a requested limit that is not applied, and why.
type Unenforced struct {
	Limit  string // the control file that would enforce it: "memory.max", "pids.max"…
	Reason string // what is missing
	Fix    string // what would make it work; may be empty
}

func (u Unenforced) String() string {
	s := u.Limit + ": " + u.Reason
	if u.Fix != "" {
		s += " (fix: " + u.Fix + ")"
	}
	return s
}

// UnenforcedError is New's error when limits cannot be applied and
// Config.BestEffort is false. errors.Is(err, ErrUnenforced) holds.
type UnenforcedError struct {
	Limits []Unenforced
	// Err is the first underlying failure, when a file operation caused it.
	Err error
}

// ErrUnenforced matches every *UnenforcedError.
var ErrUnenforced = errors.New("cgroups: limits cannot be enforced")

func (e *UnenforcedError) Error() string {
	parts := make([]string, len(e.Limits))
	for i, u := range e.Limits {
		parts[i] = u.String()
	}
	return "cgroups: cannot enforce " + strings.Join(parts, "; ")
}

func (e *UnenforcedError) Is(target error) bool { return target == ErrUnenforced }

func (e *UnenforcedError) Unwrap() error { return e.Err }
