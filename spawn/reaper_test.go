//go:build linux

package spawn

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosandbox/sandbox/internal/testutil"
	"golang.org/x/sys/unix"
)

func reaperProgram(t *testing.T, argv ...string) *Program {
	t.Helper()
	b := NewBuilder(3)
	b.CloneFlags(unix.CLONE_NEWPID)
	b.Reaper()
	b.Rlimits(nil)
	b.RestoreSigmask()
	b.MarkExec()
	b.Exec(argv[0], argv, []string{"PATH=/usr/bin:/bin"})
	p, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestReaper runs the command under the pid-1 reaper: it is pid 2, its
// exit status and its killing signal come back exactly, signals are
// forwarded, orphans are reaped, and the whole tree dies with the command.
func TestReaper(t *testing.T) {
	testutil.RequireRoot(t)
	leakCheck(t)
	checker := testutil.Checker(t)

	out, st := runOut(t, reaperProgram(t, checker, "probe"), nil)
	if st.ExitCode() != 0 || !strings.Contains(string(out), `"Pid": 2,`) || !strings.Contains(string(out), `"Ppid": 1,`) {
		t.Fatalf("%v: command should be pid 2 under pid 1:\n%s", st, out)
	}
	if _, st := runOut(t, reaperProgram(t, checker, "exit", "42"), nil); st.ExitCode() != 42 {
		t.Errorf("exit status %v, want 42", st)
	}

	// Forwarding: SIGTERM to the reaper reaches the command, whose death by
	// that signal is reported as such (not as 128+15).
	p, err := Start(reaperProgram(t, checker, "sleep", "1h"), &Attr{Files: make([]*os.File, 3)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the checker install its handlers
	p.Signal(unix.SIGTERM)
	st, err = p.Wait()
	if sig, ok := st.Signaled(); err != nil || !ok || sig != unix.SIGTERM {
		t.Errorf("%v %v, want the command killed by SIGTERM", st, err)
	}

	// Orphans: a grandchild that exits is reaped by pid 1, and one that
	// outlives the command dies with the namespace.
	tag := "4242" + strconv.Itoa(os.Getpid()) + "s"
	p, err = Start(reaperProgram(t, "/bin/sh", "-c", "("+checker+" exit 0 &); "+checker+" daemon "+tag+" >/dev/null; sleep 1"), &Attr{Files: make([]*os.File, 3)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	kids := strings.Fields(readFile(filepath.Join("/proc", strconv.Itoa(p.Pid), "task", strconv.Itoa(p.Pid), "children")))
	for _, k := range kids {
		if state(k) == "Z" {
			t.Errorf("the reaper left zombie %s", k)
		}
	}
	if _, err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if pids := testutil.Processes(func(c string) bool { return strings.Contains(c, tag) }); len(pids) > 0 {
		t.Errorf("daemon %v survived the command", pids)
		for _, pid := range pids {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func state(pid string) string {
	s := readFile("/proc/" + pid + "/stat")
	if i := strings.LastIndexByte(s, ')'); i > 0 && len(s) > i+2 {
		return s[i+2 : i+3]
	}
	return ""
}

// TestRelease gives children up: the pidfd is closed, a pid-1 reaper's
// arena is freed once it exits, and the children stay for whoever reaps
// them (here the test, by pid).
func TestRelease(t *testing.T) {
	leakCheck(t)
	progs := []*Program{mustCompile(t, &Exec{Path: "/bin/true"})}
	if os.Geteuid() == 0 {
		progs = append(progs, reaperProgram(t, "/bin/true"))
	}
	for _, prog := range progs {
		p, err := Start(prog, &Attr{Files: make([]*os.File, 3)})
		if err != nil {
			t.Fatal(err)
		}
		if p.Pidfd() == nil {
			t.Fatal("no pidfd before Release")
		}
		if err := p.Release(); err != nil {
			t.Fatal(err)
		}
		if err := p.Signal(unix.SIGKILL); err == nil {
			t.Error("Signal after Release succeeded")
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(p.Pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
			t.Errorf("reaping the released child: %v %v", ws, err)
		}
	}
}

// TestNewPidNoReaper starts a program with a new pid namespace and no
// reaper: the child is pid 1 there, so it cannot use the pid clone3
// reports to open its own pidfd (see arena.load); Wait must still work.
func TestNewPidNoReaper(t *testing.T) {
	testutil.RequireRoot(t)
	leakCheck(t)
	p := runProbe(t, &Exec{CloneFlags: unix.CLONE_NEWPID}, nil)
	if p.Pid != 1 {
		t.Errorf("pid %d in the new namespace, want 1", p.Pid)
	}
}

// TestReaperKeepsNoDescriptors: the reaper closes its copies of the
// command's descriptors once the command is cloned: a reader of the
// command's stdout sees EOF when the command closes it, while the command
// still runs.
func TestReaperKeepsNoDescriptors(t *testing.T) {
	testutil.RequireRoot(t)
	leakCheck(t)
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	// With descriptor 0 closed the reaper's signalfd is 0; with it open,
	// above the command's: both sides of it are closed.
	for _, stdin := range []*os.File{nil, null} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p, err := Start(reaperProgram(t, "/bin/sh", "-c", "echo out; exec 1>&-; sleep 30"), &Attr{Files: []*os.File{stdin, w, os.Stderr}})
		w.Close()
		if err != nil {
			r.Close()
			t.Fatal(err)
		}
		done := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(r)
			done <- string(b)
		}()
		select {
		case got := <-done:
			if got != "out\n" {
				t.Errorf("stdin %v: read %q", stdin, got)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("stdin %v: no EOF on stdout while the command, which closed it, runs on: the reaper holds a copy", stdin)
		}
		p.Signal(unix.SIGKILL)
		p.Wait()
		r.Close()
	}
}
