//go:build linux

package seccomp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/spawn"
)

// SyncListener is the id of the sync point at which a child that loaded a
// notify filter waits while the parent takes its listener (TakeListener).
// Its value is the child's descriptor number of the listener.
const SyncListener uint32 = 0x5ecc0

// DefaultListenerReg is the spawn register that receives the listener
// descriptor when InstallOptions.ListenerReg is zero. The seccomp step is
// the last but the exec, so no other step needs it afterwards.
const DefaultListenerReg = spawn.NumRegs - 1

// InstallOptions adjusts InstallWith. The zero value is the safe default.
type InstallOptions struct {
	// AllowNewPrivs leaves no_new_privs unset. The child must then hold
	// CAP_SYS_ADMIN in its user namespace when the filter loads, or the
	// seccomp step fails with EACCES; set-user-ID programs it runs keep
	// their privileges. For OCI processes with noNewPrivileges false.
	AllowNewPrivs bool
	// ListenerReg is the register that receives the listener of a notify
	// filter; zero means DefaultListenerReg (register 0 cannot be chosen).
	ListenerReg int
}

// Install appends the steps that load f to b, with no_new_privs:
// InstallWith(b, InstallOptions{}).
func (f *Filter) Install(b *spawn.Builder) { f.InstallWith(b, InstallOptions{}) }

// InstallWith appends, in order: prctl(PR_SET_NO_NEW_PRIVS) unless
// o.AllowNewPrivs; seccomp(SECCOMP_SET_MODE_FILTER, f.Flags, f.Insns); and
// for a notify filter a sync point (SyncListener) at which the parent takes
// the listener with TakeListener. Call it last before the exec (after
// MarkExec): the filter may forbid what earlier steps do.
//
// After the filter is loaded the child still makes these syscalls, which
// the filter must allow: write and read (the sync point, notify filters
// only), and execve or execveat. A failure report also needs write and
// exit_group.
//
// For a notify filter the caller must answer the sync point: pass
// OnSync(handle, next) (or a callback that calls TakeListener) as
// spawn.Attr.OnSync, or Start fails. A supervisor that serves the listener
// must run concurrently with Start, since the child may make notified
// calls before it execs (execve itself, if the profile notifies it).
//
// A nil f appends a step the spawn verifier refuses, so Build fails: a
// program never silently runs without the filter its caller meant to load.
func (f *Filter) InstallWith(b *spawn.Builder, o InstallOptions) {
	if f == nil || len(f.Insns) == 0 {
		b.Seccomp(nil, 0, -1, "nil filter")
		return
	}
	if !o.AllowNewPrivs {
		b.NoNewPrivs()
	}
	reg := -1
	if f.Notify {
		reg = o.ListenerReg
		if reg == 0 {
			reg = DefaultListenerReg
		}
	}
	what := fmt.Sprintf("filter %x (%d instructions)", f.Hash[:4], len(f.Insns))
	b.Seccomp(f.Insns, f.Flags, reg, what)
	if f.Notify {
		b.Sync(SyncListener, spawn.Reg(reg), "seccomp listener to the parent")
	}
}

// TakeListener copies the child's listener descriptor childFd (the value
// of the SyncListener sync point) into the parent with pidfd_getfd(2)
// (Linux 5.6). Call it from Attr.OnSync, while the child waits; the
// child's own copy is close-on-exec. The caller owns the returned file.
func TakeListener(p *spawn.Process, childFd uint32) (*os.File, error) {
	pf := p.Pidfd()
	if pf == nil {
		return nil, errors.New("seccomp: take listener: process has no pidfd")
	}
	rc, err := pf.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("seccomp: take listener: %w", err)
	}
	fd := -1
	var gerr error
	if err := rc.Control(func(pidfd uintptr) {
		fd, gerr = unix.PidfdGetfd(int(pidfd), int(childFd), 0)
	}); err != nil {
		return nil, fmt.Errorf("seccomp: take listener: %w", err)
	}
	if gerr != nil {
		return nil, fmt.Errorf("seccomp: take listener: pidfd_getfd fd %d of pid %d: %w", childFd, p.Pid, gerr)
	}
	return os.NewFile(uintptr(fd), "seccomp-listener"), nil
}

// OnSync returns an Attr.OnSync callback for programs that install a
// notify filter: at SyncListener it takes the listener and passes it to
// handle (which owns it from then on, and must not block the child for
// long: the child waits until it returns); other sync points go to next,
// or fail when next is nil.
func OnSync(handle func(p *spawn.Process, listener *os.File) error,
	next func(p *spawn.Process, id, val uint32) error) func(p *spawn.Process, id, val uint32) error {
	return func(p *spawn.Process, id, val uint32) error {
		if id != SyncListener {
			if next == nil {
				return fmt.Errorf("seccomp: unexpected sync point %d", id)
			}
			return next(p, id, val)
		}
		l, err := TakeListener(p, val)
		if err != nil {
			return err
		}
		if err := handle(p, l); err != nil {
			return fmt.Errorf("seccomp: listener handler: %w", err)
		}
		return nil
	}
}

// SendListener sends the listener to an OCI seccomp agent as
// runtime-spec config-linux.md ("The Container Process State") describes:
// it connects to the AF_UNIX SOCK_STREAM socket at path, sends st as JSON
// in one sendmsg(2) with the listener in SCM_RIGHTS, and closes the
// connection. st.Fds is set to ["seccompFd"] and an empty st.Version to
// specs.Version. The caller keeps ownership of listener. ctx bounds the
// connect and the send.
func SendListener(ctx context.Context, path string, listener *os.File, st specs.ContainerProcessState) error {
	if st.Version == "" {
		st.Version = specs.Version
	}
	st.Fds = []string{specs.SeccompFdName}
	payload, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("seccomp: listener state: %w", err)
	}
	// Raw syscalls rather than package net, which this package would
	// otherwise pull into every sandbox binary for one message.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("seccomp: listener agent: socket: %w", err)
	}
	defer unix.Close(fd)
	timeout := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return fmt.Errorf("seccomp: listener agent %s: %w", path, context.DeadlineExceeded)
		}
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("seccomp: listener agent %s: connect: %w", path, err)
	}
	for {
		var n int
		n, err = unix.SendmsgN(fd, payload, unix.UnixRights(int(listener.Fd())), nil, 0)
		if err == unix.EINTR {
			continue
		}
		if err == nil && n != len(payload) {
			return fmt.Errorf("seccomp: listener agent %s: short send (%d of %d bytes)", path, n, len(payload))
		}
		break
	}
	if err != nil {
		return fmt.Errorf("seccomp: listener agent %s: send: %w", path, err)
	}
	return nil
}
