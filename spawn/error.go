//go:build linux

package spawn

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// StepError reports a step that failed in the child. The child sends only
// {step, errno, aux}; the parent, which holds the program, adds the rest.
//
//	spawn: step 7 mount proc on /proc: operation not permitted
//
// errors.Is(err, unix.EPERM) and errors.Is(err, fs.ErrPermission) work
// through Unwrap.
type StepError struct {
	Step   int        // index into the program
	Op     string     // what the step does: "mount", "execve", "setresuid"
	Target string     // what it acts on: "proc on /proc", "/bin/sh"
	Errno  unix.Errno // the failing syscall's errno
}

func (e *StepError) Error() string {
	s := fmt.Sprintf("spawn: step %d %s", e.Step, e.Op)
	if e.Target != "" {
		s += " " + e.Target
	}
	return s + ": " + e.Errno.Error()
}

func (e *StepError) Unwrap() error { return e.Errno }

// ErrDiedBeforeExec is returned when the child ended without reaching exec
// and without reporting a failed step: it was killed, or crashed.
var ErrDiedBeforeExec = errors.New("spawn: child died before exec")

// ErrCloneFailed wraps a failure of clone3 itself.
type CloneError struct {
	Flags uint64
	Errno unix.Errno
}

func (e *CloneError) Error() string {
	msg := fmt.Sprintf("spawn: clone3 (%s): %v", cloneFlagNames(e.Flags), e.Errno)
	switch {
	case e.Errno == unix.ENOSPC && e.Flags&unix.CLONE_NEWUSER != 0:
		msg += " (user namespace limit reached: see /proc/sys/user/max_user_namespaces)"
	case e.Errno == unix.EPERM && e.Flags&unix.CLONE_NEWUSER != 0:
		msg += " (user namespaces may be disabled: check kernel.unprivileged_userns_clone and apparmor_restrict_unprivileged_userns)"
	case e.Errno == unix.ENOSYS:
		msg += " (clone3 needs Linux 5.3; this package needs 5.12)"
	}
	return msg
}

func (e *CloneError) Unwrap() error { return e.Errno }
