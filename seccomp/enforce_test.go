//go:build linux && cgo

package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/spawn"
)

// These tests load filters into real children. Seccomp with no_new_privs
// needs no privilege, so they run as any user.

// result is what a child did: its output and how it ended.
type result struct {
	out, errOut string
	st          *spawn.State
}

func (r result) String() string {
	if sig, ok := r.st.Signaled(); ok {
		return "signal " + unix.SignalName(sig)
	}
	if r.st.ExitCode() != 0 {
		return fmt.Sprintf("exit %d: %s", r.st.ExitCode(), strings.TrimSpace(r.errOut))
	}
	return strings.TrimSpace(r.out)
}

type runOpts struct {
	install func(b *spawn.Builder) // default: f.Install
	onSync  func(p *spawn.Process, id, val uint32) error
}

// run executes path with args under f (no filter when f is nil) and
// returns what happened. stdin is /dev/null.
func run(t testing.TB, f *Filter, o runOpts, path string, args ...string) result {
	t.Helper()
	b := spawn.NewBuilder(3)
	b.Rlimits(nil)
	b.RestoreSigmask()
	b.MarkExec()
	switch {
	case o.install != nil:
		o.install(b)
	case f != nil:
		f.Install(b)
	}
	b.Exec(path, append([]string{path}, args...), []string{"PATH=/usr/bin:/bin", "LC_ALL=C"})
	prog, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer prog.Close()
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	p, err := spawn.Start(prog, &spawn.Attr{Files: []*os.File{stdin, outW, errW}, OnSync: o.onSync})
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		t.Fatalf("Start %s %q: %v", path, args, err)
	}
	var out, errOut bytes.Buffer
	done := make(chan struct{})
	go func() { errOut.ReadFrom(errR); close(done) }()
	out.ReadFrom(outR)
	<-done
	outR.Close()
	errR.Close()
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return result{out: out.String(), errOut: errOut.String(), st: st}
}

func checker(t testing.TB, f *Filter, args ...string) result {
	t.Helper()
	return run(t, f, runOpts{}, testutil.Checker(t), args...)
}

func num(v uint64) string { return fmt.Sprintf("%#x", v) }

func TestEnforceDefaultProfile(t *testing.T) {
	f := mustCompile(t, DefaultProfile())
	tests := []struct {
		name string
		args []string
		want string // exact, or a prefix ending in "="
	}{
		{"getpid", []string{"seccomp", "call", num(unix.SYS_GETPID)}, "ret="},
		{"mount", []string{"seccomp", "call", num(unix.SYS_MOUNT), "0", "0", "0", "0", "0"}, "EPERM"},
		{"umount2", []string{"seccomp", "call", num(unix.SYS_UMOUNT2), "0", "0"}, "EPERM"},
		{"fsopen", []string{"seccomp", "call", num(unix.SYS_FSOPEN), "0", "0"}, "EPERM"},
		{"unshare(0)", []string{"seccomp", "call", num(unix.SYS_UNSHARE), "0"}, "EPERM"},
		{"setns", []string{"seccomp", "call", num(unix.SYS_SETNS), "0", "0"}, "EPERM"},
		// The kernel would say EINVAL (NEWUSER with FS), the filter comes first.
		{"clone(NEWUSER)", []string{"seccomp", "call", num(unix.SYS_CLONE), num(unix.CLONE_NEWUSER | unix.CLONE_FS | uint64(unix.SIGCHLD))}, "EPERM"},
		{"clone3", []string{"seccomp", "call", num(unix.SYS_CLONE3), "0", "0"}, "ENOSYS"},
		{"fchmodat2 (newer)", []string{"seccomp", "call", "452", "-100", "0", "0", "0"}, "ENOSYS"},
		{"keyctl", []string{"seccomp", "call", num(unix.SYS_KEYCTL), "0"}, "EPERM"},
		{"bpf", []string{"seccomp", "call", num(unix.SYS_BPF), "0", "0", "0"}, "EPERM"},
		{"perf_event_open", []string{"seccomp", "call", num(unix.SYS_PERF_EVENT_OPEN), "0", "0", "0", "0", "0"}, "EPERM"},
		{"userfaultfd", []string{"seccomp", "call", num(unix.SYS_USERFAULTFD), "0"}, "EPERM"},
		{"io_uring_setup", []string{"seccomp", "call", num(unix.SYS_IO_URING_SETUP), "0", "0"}, "EPERM"},
		{"personality(ADDR_NO_RANDOMIZE)", []string{"seccomp", "call", num(unix.SYS_PERSONALITY), "0x40000"}, "EPERM"},
		{"personality(query)", []string{"seccomp", "call", num(unix.SYS_PERSONALITY), "0xffffffff"}, "ret="},
		// /dev/null is no tty: unfiltered, both answer ENOTTY.
		{"ioctl TIOCSTI", []string{"syscall", "ioctl", "0", num(unix.TIOCSTI), "ptr"}, "EIO"},
		{"ioctl TIOCSTI|1<<32", []string{"syscall", "ioctl", "0", "0x100005412", "ptr"}, "EIO"},
		{"ioctl TIOCLINUX", []string{"syscall", "ioctl", "0", num(unix.TIOCLINUX), "ptr"}, "EIO"},
		{"ioctl TCGETS", []string{"syscall", "ioctl", "0", num(unix.TCGETS), "ptr"}, "ENOTTY"},
		{"socket(AF_VSOCK)", []string{"seccomp", "call", num(unix.SYS_SOCKET), num(unix.AF_VSOCK), "1", "0"}, "EAFNOSUPPORT"},
		{"future syscall", []string{"seccomp", "call", "1000"}, "ENOSYS"},
	}
	if os.Geteuid() == 0 {
		// Root would mount without the filter.
		tests = append(tests, struct {
			name string
			args []string
			want string
		}{"mount tmpfs", []string{"syscall", "mount-tmpfs", "/tmp"}, "EPERM"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := checker(t, f, tt.args...)
			got := r.String()
			if strings.HasSuffix(tt.want, "=") && strings.HasPrefix(got, tt.want) {
				return
			}
			if got != tt.want {
				t.Errorf("%q: %s, want %s", tt.args, got, tt.want)
			}
		})
	}
}

// int80Works reports whether this host runs i386 syscalls made with
// int 0x80. Some hosts have no such entry (IA32 emulation off, or a
// paravirtualised guest such as a PVM one): the instruction faults, so
// no process there can reach the i386 ABI, filtered or not.
func int80Works(t testing.TB) bool {
	t.Helper()
	r := checker(t, nil, "seccomp", "int80", fmt.Sprint(i386Getpid))
	sig, _ := r.st.Signaled()
	switch {
	case strings.HasPrefix(r.String(), "ret="):
		return true
	case r.st.ExitCode() == 2 && strings.Contains(r.errOut, "unexpected fault address"), sig == unix.SIGSEGV:
		t.Logf("int 0x80 faults on this host without a filter: no i386 ABI to reach (%s)", firstLine(r.String()))
		return false
	}
	t.Fatalf("int 0x80 getpid without a filter: %s", r)
	return false
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestEnforceCompatABIsKilled(t *testing.T) {
	needAmd64(t)
	f := mustCompile(t, DefaultProfile())
	// Without a filter i386 works where the host has it, and x32 is
	// either served or compiled out (ENOSYS).
	int80 := int80Works(t)
	for _, args := range [][]string{
		{"seccomp", "int80", fmt.Sprint(i386Getpid)},
		{"seccomp", "int80", fmt.Sprint(i386Mount), "0", "0", "0"},
		{"seccomp", "call", num(x32SyscallBit | unix.SYS_GETPID)},
		{"seccomp", "call", num(x32SyscallBit | 514), "0", num(unix.TIOCSTI)},
	} {
		r := checker(t, f, args...)
		sig, ok := r.st.Signaled()
		switch {
		case args[1] == "int80" && !int80:
			// The fault comes before the filter: the call must still
			// never return.
			if strings.HasPrefix(r.String(), "ret=") || r.st.ExitCode() == 0 {
				t.Errorf("%q: %s, want the process dead", args, r)
			}
		case !ok || sig != unix.SIGSYS:
			t.Errorf("%q: %s, want signal SIGSYS", args, r)
		}
	}
}

func TestEnforceNormalPrograms(t *testing.T) {
	f := mustCompile(t, DefaultProfile())
	tests := []struct {
		path string
		args []string
		want string
	}{
		{"/bin/sh", []string{"-c", `echo hello | tr a-z A-Z; ls / >/dev/null && echo ls; d=$(mktemp -d) && echo x >"$d/f" && cat "$d/f" && rm -r "$d"; sort -r </etc/passwd | head -n1 >/dev/null; date +%Y >/dev/null && id -u >/dev/null && echo done`},
			"HELLO\nls\nx\ndone"},
		{"/bin/bash", []string{"-c", `for i in 1 2 3; do (echo $i) & done; wait; sleep 0.01; echo ok`}, ""},
		{"/usr/bin/python3", []string{"-c", `
import os, subprocess, threading, socket, tempfile, json
t = threading.Thread(target=lambda: None); t.start(); t.join()
out = subprocess.run(["/bin/echo", "sub"], capture_output=True, text=True).stdout.strip()
s = socket.socketpair(); s[0].send(b"x"); assert s[1].recv(1) == b"x"
with tempfile.TemporaryDirectory() as d:
    open(os.path.join(d, "f"), "w").write("y")
print(json.dumps([out, os.getpid() > 0]))
`}, `["sub", true]`},
		{testutil.Checker(t), []string{"probe"}, ""},
	}
	for _, tt := range tests {
		if _, err := os.Stat(tt.path); err != nil {
			t.Logf("skipping %s: %v", tt.path, err)
			continue
		}
		r := run(t, f, runOpts{}, tt.path, tt.args...)
		if r.st.ExitCode() != 0 {
			t.Errorf("%s: %s\nstdout: %s", tt.path, r, r.out)
			continue
		}
		if tt.want != "" && strings.TrimSpace(r.out) != tt.want {
			t.Errorf("%s: output %q, want %q", tt.path, r.out, tt.want)
		}
		if tt.path == testutil.Checker(t) {
			var p struct{ Status map[string]string }
			if err := json.Unmarshal([]byte(r.out), &p); err != nil {
				t.Fatal(err)
			}
			if p.Status["Seccomp"] != "2" || p.Status["NoNewPrivs"] != "1" {
				t.Errorf("checker sees Seccomp %q, NoNewPrivs %q", p.Status["Seccomp"], p.Status["NoNewPrivs"])
			}
		}
	}
}

func TestEnforceActions(t *testing.T) {
	eacces := uint(unix.EACCES)
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getppid"}, Action: specs.ActKillProcess},
		{Names: []string{"getpgid"}, Action: specs.ActErrno, ErrnoRet: &eacces},
		{Names: []string{"getsid"}, Action: specs.ActTrace, ErrnoRet: uintp(5)},
		{Names: []string{"getpriority"}, Action: specs.ActLog},
		{Names: []string{"getcpu"}, Action: specs.ActTrap},
	}}
	f := mustCompile(t, p)
	if r := checker(t, f, "seccomp", "call", num(unix.SYS_GETPPID)); r.String() != "signal SIGSYS" {
		t.Errorf("kill_process: %s", r)
	}
	if r := checker(t, f, "seccomp", "call", num(unix.SYS_GETPGID), "0"); r.String() != "EACCES" {
		t.Errorf("errno: %s", r)
	}
	// With no tracer, SECCOMP_RET_TRACE fails the call with ENOSYS.
	if r := checker(t, f, "seccomp", "call", num(unix.SYS_GETSID), "0"); r.String() != "ENOSYS" {
		t.Errorf("trace: %s", r)
	}
	if r := checker(t, f, "seccomp", "call", num(unix.SYS_GETPRIORITY), "0", "0"); !strings.HasPrefix(r.String(), "ret=") {
		t.Errorf("log: %s", r)
	}
	// SIGSYS reaches the Go runtime, which dies of it.
	if r := checker(t, f, "seccomp", "call", num(unix.SYS_GETCPU), "0", "0", "0"); !strings.Contains(r.errOut, "SIGSYS") {
		t.Errorf("trap: %s", r)
	}
}

func TestEnforceNotify(t *testing.T) {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"getcpu"}, Action: specs.ActNotify},
	}}
	f := mustCompile(t, p)
	if !f.Notify || f.Flags&unix.SECCOMP_FILTER_FLAG_NEW_LISTENER == 0 {
		t.Fatalf("Notify %v, flags %#x", f.Notify, f.Flags)
	}
	served := make(chan error, 1)
	handle := func(p *spawn.Process, l *os.File) error {
		go func() {
			defer l.Close()
			served <- serveOne(l, func(req *libseccomp.ScmpNotifReq) *libseccomp.ScmpNotifResp {
				if req.Data.Syscall != libseccomp.ScmpSyscall(unix.SYS_GETCPU) || req.Data.Args[0] != 7 {
					return &libseccomp.ScmpNotifResp{ID: req.ID, Error: int32(unix.EBADMSG)}
				}
				return &libseccomp.ScmpNotifResp{ID: req.ID, Val: 42}
			})
		}()
		return nil
	}
	r := run(t, f, runOpts{onSync: OnSync(handle, nil)}, testutil.Checker(t), "seccomp", "call", num(unix.SYS_GETCPU), "7", "0", "0")
	if err := <-served; err != nil {
		t.Fatalf("supervisor: %v", err)
	}
	if r.String() != "ret=42" {
		t.Errorf("notified getcpu: %s, want ret=42", r)
	}

	// Nobody took the listener: the close-on-exec copy went away at exec,
	// and the kernel answers ENOSYS.
	r = run(t, f, runOpts{onSync: func(p *spawn.Process, id, val uint32) error { return nil }},
		testutil.Checker(t), "seccomp", "call", num(unix.SYS_GETCPU), "7", "0", "0")
	if r.String() != "ENOSYS" {
		t.Errorf("notify without a listener: %s", r)
	}
}

// serveOne answers one notification on listener l with respond.
func serveOne(l *os.File, respond func(*libseccomp.ScmpNotifReq) *libseccomp.ScmpNotifResp) error {
	fd := int(l.Fd())
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd, 10000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("no notification in 10s")
		}
		break
	}
	req, err := libseccomp.NotifReceive(libseccomp.ScmpFd(fd))
	if err != nil {
		return fmt.Errorf("SECCOMP_IOCTL_NOTIF_RECV: %w", err)
	}
	if err := libseccomp.NotifRespond(libseccomp.ScmpFd(fd), respond(req)); err != nil {
		return fmt.Errorf("SECCOMP_IOCTL_NOTIF_SEND: %w", err)
	}
	return nil
}

func TestInstallNil(t *testing.T) {
	var f *Filter
	b := spawn.NewBuilder(3)
	b.MarkExec()
	f.Install(b)
	b.Exec("/bin/true", []string{"true"}, nil)
	if prog, err := b.Build(); err == nil {
		prog.Close()
		t.Fatal("a program with a nil filter was built")
	}
}

func TestInstallAllowNewPrivs(t *testing.T) {
	f := mustCompile(t, DefaultProfile())
	install := func(b *spawn.Builder) { f.InstallWith(b, InstallOptions{AllowNewPrivs: true}) }
	if os.Geteuid() != 0 {
		// Without CAP_SYS_ADMIN the kernel requires no_new_privs.
		b := spawn.NewBuilder(3)
		b.Rlimits(nil)
		b.MarkExec()
		install(b)
		b.Exec("/bin/true", []string{"true"}, nil)
		prog, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		defer prog.Close()
		_, err = spawn.Start(prog, &spawn.Attr{Files: make([]*os.File, 3)})
		var se *spawn.StepError
		if !errors.As(err, &se) || se.Op != "seccomp" || se.Errno != unix.EACCES {
			t.Fatalf("unprivileged seccomp without no_new_privs: %v, want a seccomp step failing with EACCES", err)
		}
		return
	}
	r := run(t, f, runOpts{install: install}, testutil.Checker(t), "probe")
	var p struct{ Status map[string]string }
	if err := json.Unmarshal([]byte(r.out), &p); err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	if p.Status["Seccomp"] != "2" || p.Status["NoNewPrivs"] != "0" {
		t.Errorf("Seccomp %q, NoNewPrivs %q; want 2 and 0", p.Status["Seccomp"], p.Status["NoNewPrivs"])
	}
}

func TestSendListener(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/agent.sock"
	lfd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	if err := unix.Bind(lfd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 1); err != nil {
		t.Fatal(err)
	}
	// Any descriptor stands in for the listener; a memfd has a name to check.
	mfd, err := unix.MemfdCreate("fake-listener", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	fake := os.NewFile(uintptr(mfd), "fake-listener")
	defer fake.Close()

	type got struct {
		payload []byte
		fds     []int
		err     error
	}
	ch := make(chan got, 1)
	go func() {
		c, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err != nil {
			ch <- got{err: err}
			return
		}
		defer unix.Close(c)
		buf := make([]byte, 4096)
		oob := make([]byte, unix.CmsgSpace(4*4))
		n, oobn, _, _, err := unix.Recvmsg(c, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil {
			ch <- got{err: err}
			return
		}
		var fds []int
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			r, _ := unix.ParseUnixRights(&m)
			fds = append(fds, r...)
		}
		// The connection is closed after one state.
		if m, _, _, _, _ := unix.Recvmsg(c, buf[n:], nil, 0); m != 0 {
			err = errors.New("more data after the state")
		}
		ch <- got{payload: buf[:n], fds: fds, err: err}
	}()

	st := specs.ContainerProcessState{
		Pid:      4422,
		Metadata: "MKNOD=/dev/null",
		State:    specs.State{Version: specs.Version, ID: "c1", Status: specs.StateCreating, Pid: 4422, Bundle: "/b"},
	}
	ctx := t.Context()
	if err := SendListener(ctx, path, fake, st); err != nil {
		t.Fatal(err)
	}
	var g got
	select {
	case g = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("agent received nothing")
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	var back specs.ContainerProcessState
	if err := json.Unmarshal(g.payload, &back); err != nil {
		t.Fatalf("%s: %v", g.payload, err)
	}
	if back.Version != specs.Version || len(back.Fds) != 1 || back.Fds[0] != specs.SeccompFdName ||
		back.Pid != 4422 || back.Metadata != "MKNOD=/dev/null" || back.State.ID != "c1" {
		t.Errorf("state %+v", back)
	}
	if len(g.fds) != 1 {
		t.Fatalf("%d descriptors received, want 1", len(g.fds))
	}
	defer unix.Close(g.fds[0])
	link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", g.fds[0]))
	if !strings.Contains(link, "fake-listener") {
		t.Errorf("received descriptor is %s", link)
	}
}
