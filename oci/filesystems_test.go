//go:build linux

package oci_test

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/oci"
)

// TestFilesystems mounts sysfs, cgroup2 and an overlay in the sandbox and
// uses each from inside.
func TestFilesystems(t *testing.T) {
	requireUserNS(t)
	base := t.TempDir()
	os.Chmod(base, 0o755)
	for _, d := range []string{"lower", "upper", "work"} {
		os.Mkdir(filepath.Join(base, d), 0o777)
	}
	os.WriteFile(filepath.Join(base, "lower", "from-lower"), []byte("lower\n"), 0o644)
	if h, ok := toHostRoot(); ok {
		// The overlay's upper directory must belong to the sandbox's root.
		os.Chown(filepath.Join(base, "upper"), int(h), int(h))
		os.Chown(filepath.Join(base, "work"), int(h), int(h))
	}
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/sh", "-c",
		"cat /ov/from-lower; echo upper > /ov/new; ls /sys/class/net; test -e /sys/fs/cgroup/cgroup.procs && echo cgroup2; grep -c '^' /proc/self/cgroup"}})
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup2", Source: "cgroup2", Options: []string{"nosuid", "noexec", "nodev"}},
		specs.Mount{Destination: "/ov", Type: "overlay", Source: "overlay", Options: []string{
			"lowerdir=" + filepath.Join(base, "lower"), "upperdir=" + filepath.Join(base, "upper"), "workdir=" + filepath.Join(base, "work")}},
	)
	out, st := run(t, s, oci.Options{})
	if st.ExitCode() != 0 {
		t.Fatalf("%v: %s", st, out)
	}
	got := string(out)
	for _, want := range []string{"lower\n", "lo\n", "cgroup2\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output %q lacks %q", got, want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(base, "upper", "new")); err != nil || string(b) != "upper\n" {
		t.Errorf("the overlay's upper layer: %q %v", b, err)
	}
}

// toHostRoot is the host id of the default sandbox's root.
func toHostRoot() (uint32, bool) {
	if os.Geteuid() == 0 {
		return sandbox.DefaultHostIDBase, true
	}
	return 0, false
}

// TestSeccompAgent loads a notify profile with listenerPath: the agent
// receives the container state and the listener, and answers the call.
func TestSeccompAgent(t *testing.T) {
	requireUserNS(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/sh", "-c", "mkdir /tmp/x; echo $?"}})
	s.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		ListenerPath:  sock, ListenerMetadata: "from-test",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
	type got struct {
		state specs.ContainerProcessState
		err   error
	}
	agent := make(chan got, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			agent <- got{err: err}
			return
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		oob := make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := c.(*net.UnixConn).ReadMsgUnix(buf, oob)
		if err != nil {
			agent <- got{err: err}
			return
		}
		var st specs.ContainerProcessState
		json.Unmarshal(buf[:n], &st)
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		fds, _ := unix.ParseUnixRights(&msgs[0])
		listener := fds[0]
		agent <- got{state: st}
		// Answer the notified mkdir with errno 42 (ENOMSG).
		var req [80]byte
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafePointer(&req))); e != 0 {
			return
		}
		var resp [24]byte
		copy(resp[0:8], req[0:8]) // id
		errnoVal := int32(-42)
		resp[16] = byte(errnoVal)
		resp[17], resp[18], resp[19] = byte(errnoVal>>8), byte(errnoVal>>16), byte(errnoVal>>24)
		unix.Syscall(unix.SYS_IOCTL, uintptr(listener), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafePointer(&resp)))
		unix.Close(listener)
	}()
	out, st := run(t, s, oci.Options{ContainerID: "agent-test"})
	var a got
	select {
	case a = <-agent:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent got nothing")
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.state.Metadata != "from-test" || a.state.State.ID != "agent-test" || len(a.state.Fds) != 1 || a.state.Pid == 0 {
		t.Errorf("state sent to the agent: %+v", a.state)
	}
	if st.ExitCode() != 0 || strings.TrimSpace(string(out)) != "1" {
		t.Errorf("mkdir answered by the agent: %v %q", st, out)
	}
}
