//go:build linux

package spawn

import (
	"errors"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosandbox/sandbox/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestStepFailures makes every kind of step fail in turn. Each failure
// must come back as a *StepError naming that step and its errno, with
// nothing left behind: no descriptor, no arena, no zombie.
func TestStepFailures(t *testing.T) {
	notExec, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	notExec.Close()
	tty := func(t *testing.T) *os.File {
		f, err := os.Open("/dev/null")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	type tc struct {
		name   string
		build  func(b *Builder)
		attr   func(t *testing.T) *Attr
		root   bool
		op     string
		target string
		errno  unix.Errno
	}
	exec := func(b *Builder) { b.MarkExec(); b.Exec("/bin/true", []string{"true"}, nil) }
	cases := []tc{
		{name: "chdir", build: func(b *Builder) { b.Chdir("/nonexistent/dir"); exec(b) }, op: "chdir", target: "/nonexistent/dir", errno: unix.ENOENT},
		{name: "setsid", build: func(b *Builder) { b.Setsid(); b.Setsid(); exec(b) }, op: "setsid", errno: unix.EPERM},
		{name: "ctty", build: func(b *Builder) { b.Setsid(); b.Ctty(0); exec(b) },
			attr: func(t *testing.T) *Attr { return &Attr{Files: []*os.File{tty(t), nil, nil}} },
			op:   "ioctl TIOCSCTTY", target: "fd 0", errno: unix.ENOTTY},
		{name: "prlimit", build: func(b *Builder) { b.Rlimit(Rlimit{Resource: unix.RLIMIT_CORE, Cur: 10, Max: 5}); exec(b) },
			op: "prlimit64", target: "RLIMIT_CORE 10/5", errno: unix.EINVAL},
		{name: "setgroups", build: func(b *Builder) { b.Creds(Cred{Uid: 1, Gid: 1, Groups: make([]uint32, 70000)}); exec(b) },
			root: true, op: "setgroups", errno: unix.EINVAL},
		{name: "setresgid", build: func(b *Builder) {
			b.Creds(Cred{Uid: 1000, Gid: 1000})
			b.Creds(Cred{Uid: 0, Gid: 0, KeepGroups: true})
			exec(b)
		}, root: true, op: "setresgid", target: "0", errno: unix.EPERM},
		{name: "setresuid", build: func(b *Builder) {
			b.Creds(Cred{Uid: 1000, Gid: 1000})
			b.Call(Call{Nr: unix.SYS_SETRESUID, Args: []Arg{Imm(0), Imm(0), Imm(0)}, Op: "setresuid", Target: "0"})
			exec(b)
		}, root: true, op: "setresuid", target: "0", errno: unix.EPERM},
		{name: "pdeathsig", build: func(b *Builder) { b.Pdeathsig(unix.Signal(99)); exec(b) }, op: "prctl PR_SET_PDEATHSIG", errno: unix.EINVAL},
		{name: "sigmask", build: func(b *Builder) {
			b.Call(Call{Nr: unix.SYS_RT_SIGPROCMASK, Args: []Arg{Imm(unix.SIG_SETMASK), hdrOldMask.Arg(), Null, Imm(3)}, Op: "rt_sigprocmask", Target: "bad size"})
			exec(b)
		}, op: "rt_sigprocmask", target: "bad size", errno: unix.EINVAL},
		{name: "seccomp", build: func(b *Builder) {
			b.MarkExec()
			// A jump past the end: the kernel's checker refuses it.
			b.Seccomp([]unix.SockFilter{{Code: 0x05, K: 5}}, 0, -1, "bad filter")
			b.Exec("/bin/true", []string{"true"}, nil)
		}, root: true, op: "seccomp", target: "bad filter", errno: unix.EINVAL},
		{name: "sync", build: func(b *Builder) { b.Sync(3, Imm(0), "refused"); exec(b) },
			attr: func(t *testing.T) *Attr {
				return &Attr{OnSync: func(*Process, uint32, uint32) error { return errSyncRefused }}
			}},
		{name: "execve", build: exec2("/nonexistent/bin"), op: "execve", target: "/nonexistent/bin", errno: unix.ENOENT},
		{name: "execve-noexec", build: exec2(notExec.Name()), op: "execve", target: notExec.Name(), errno: unix.EACCES},
		{name: "dup", build: exec, op: "dup3",
			// A file whose descriptor is not open in the parent.
			attr:   func(t *testing.T) *Attr { return &Attr{Files: []*os.File{os.NewFile(9999, "bogus"), nil, nil}} },
			target: "fd 9999 to 0", errno: unix.EBADF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.root {
				testutil.RequireRoot(t)
			}
			leakCheck(t)
			b := NewBuilder(3)
			c.build(b)
			prog, err := b.Build()
			if err != nil {
				t.Fatal(err)
			}
			defer prog.Close()
			attr := &Attr{}
			if c.attr != nil {
				attr = c.attr(t)
			}
			if attr.Files == nil {
				attr.Files = make([]*os.File, 3)
			}
			p, err := Start(prog, attr)
			if err == nil {
				p.Wait()
				t.Fatalf("Start succeeded")
			}
			if c.name == "sync" {
				if !errors.Is(err, errSyncRefused) {
					t.Fatalf("got %v, want the OnSync error", err)
				}
				return
			}
			var se *StepError
			if !errors.As(err, &se) {
				t.Fatalf("got %T %v, want *StepError", err, err)
			}
			if se.Op != c.op || se.Errno != c.errno || (c.target != "" && se.Target != c.target) {
				t.Errorf("got %+v (%v), want op %q target %q errno %v", se, err, c.op, c.target, c.errno)
			}
			if s, _ := prog.Step(se.Step); s.Nr >= pseudoBase && c.op != "dup3" {
				t.Errorf("step %d is a pseudo-op", se.Step)
			}
			if !errors.Is(err, c.errno) {
				t.Errorf("errors.Is(%v, %v) is false", err, c.errno)
			}
			if !strings.Contains(err.Error(), c.op) {
				t.Errorf("message %q does not name %q", err, c.op)
			}
		})
	}
}

var errSyncRefused = errors.New("refused by the test")

func exec2(path string) func(b *Builder) {
	return func(b *Builder) { b.MarkExec(); b.Exec(path, []string{"x"}, nil) }
}

func TestStepErrorIs(t *testing.T) {
	err := error(&StepError{Step: 4, Op: "mount", Target: "proc on /proc", Errno: unix.EPERM})
	if !errors.Is(err, fs.ErrPermission) || !errors.Is(err, unix.EPERM) {
		t.Error("StepError does not unwrap to its errno")
	}
	if got, want := err.Error(), "spawn: step 4 mount proc on /proc: operation not permitted"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

// TestCloneFailure makes clone3 itself fail (a cgroup descriptor that is
// not a cgroup directory) and checks nothing leaks.
func TestCloneFailure(t *testing.T) {
	leakCheck(t)
	prog := mustCompile(t, &Exec{Path: "/bin/true"})
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Start(prog, &Attr{Files: make([]*os.File, 3), Cgroup: f})
	var ce *CloneError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want *CloneError", err)
	}
}

// TestDiedBeforeExec kills a child waiting at a sync point.
func TestDiedBeforeExec(t *testing.T) {
	leakCheck(t)
	b := NewBuilder(3)
	b.Sync(1, Imm(0), "hold")
	b.MarkExec()
	b.Exec("/bin/true", []string{"true"}, nil)
	prog, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	_, err = Start(prog, &Attr{Files: make([]*os.File, 3), OnSync: func(p *Process, _, _ uint32) error {
		p.Kill()
		pidfd := p.Pidfd()
		// Wait for the child to be gone so the reply finds no reader.
		var st State
		for {
			rc, _ := pidfd.SyscallConn()
			var done bool
			rc.Control(func(fd uintptr) { done, _ = waitPidfd(int(fd), unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, &st) })
			if done {
				return nil
			}
		}
	}})
	if !errors.Is(err, ErrDiedBeforeExec) {
		t.Fatalf("got %v, want ErrDiedBeforeExec", err)
	}
	if !strings.Contains(err.Error(), "killed") {
		t.Errorf("%q does not say how the child died", err)
	}
}

// TestDiedBeforeExecCleartid kills a child blocked in a step of a program
// without sync points: Start sleeps on the arena's cleartid word, which
// the kernel clears at exit too, and must report the death, reap the
// child and free the arena.
func TestDiedBeforeExecCleartid(t *testing.T) {
	leakCheck(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	b := NewBuilder(3)
	buf := b.Zero(8)
	b.Call(Call{Nr: unix.SYS_READ, Args: []Arg{Imm(0), buf.Arg(), Imm(1)}, Op: "read", Target: "a pipe nobody writes"})
	b.MarkExec()
	b.Exec("/bin/true", []string{"true"}, nil)
	prog, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	before := children(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for _, c := range children(t) {
				if !slices.Contains(before, c) {
					pid, _ := strconv.Atoi(c)
					unix.Kill(pid, unix.SIGKILL)
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	_, err = Start(prog, &Attr{Files: []*os.File{r, nil, nil}})
	<-done
	if !errors.Is(err, ErrDiedBeforeExec) || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("got %v, want ErrDiedBeforeExec (killed)", err)
	}
}

// TestManyParentDescriptors spawns from a parent holding descriptors below
// and far above the ones it passes: the child, which copies the parent's
// table only up to the highest descriptor it keeps, must see exactly its
// layout.
func TestManyParentDescriptors(t *testing.T) {
	leakCheck(t)
	null, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	var extra []int
	for _, fd := range []int{200, 201, 1000, 4000} {
		if err := unix.Dup3(int(null.Fd()), fd, unix.O_CLOEXEC); err != nil {
			t.Skipf("dup3 to %d: %v", fd, err)
		}
		extra = append(extra, fd)
	}
	// One without close-on-exec, between descriptors that are kept.
	if err := unix.Dup3(int(null.Fd()), 150, 0); err != nil {
		t.Fatal(err)
	}
	extra = append(extra, 150)
	defer func() {
		for _, fd := range extra {
			unix.Close(fd)
		}
	}()
	high := os.NewFile(uintptr(201), "high")
	prog := mustCompile(t, &Exec{Path: "/bin/sh", Args: []string{"sh", "-c", "cd /proc/self/fd && echo *"}})
	out, st := runOut(t, prog, &Attr{Files: []*os.File{nil, nil, high}})
	if st.ExitCode() != 0 {
		t.Fatalf("%v", st)
	}
	fds := strings.Fields(string(out))
	// 1 is the output pipe, 2 the high descriptor; the shell holds one
	// more for the glob's directory, at the lowest free number (0).
	if !slices.Equal(fds, []string{"0", "1", "2"}) {
		t.Errorf("child has descriptors %v: want 1, 2 and the shell's own 0", fds)
	}
	runtime.KeepAlive(high)
}

// TestChildPidfdFallback covers a child that did not record the pidfd it
// opens for itself: never tried (killed first), or killed inside
// pidfd_open with the descriptor already in the table. The parent must
// open one itself and leave no stray pidfd behind.
func TestChildPidfdFallback(t *testing.T) {
	leakCheck(t)
	// syscall.ForkExec holds no pidfd of its own, as the spawn's parent
	// holds none for a new child.
	pid, err := syscall.ForkExec("/bin/sleep", []string{"sleep", "10"}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
	}()
	pidfds := func() int {
		n := 0
		want := "Pid:\t" + strconv.Itoa(pid) + "\n"
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l == "anon_inode:[pidfd]" {
				if b, _ := os.ReadFile("/proc/self/fdinfo/" + e.Name()); strings.Contains(string(b), want) {
					n++
				}
			}
		}
		return n
	}
	a, err := getArena(minArena, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer putArena(a)
	for _, state := range []uint32{0, 2} {
		if state == 2 {
			if _, err := unix.PidfdOpen(pid, 0); err != nil { // the stray one
				t.Fatal(err)
			}
		}
		a.hdr().pidfdState = state
		fd, err := a.childPidfd(pid)
		if err != nil {
			t.Fatalf("state %d: %v", state, err)
		}
		if n := pidfds(); n != 1 {
			t.Errorf("state %d: %d pidfds for the child, want 1", state, n)
		}
		unix.Close(fd)
	}
}
