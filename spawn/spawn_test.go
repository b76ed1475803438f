//go:build linux

package spawn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosandbox/sandbox/internal/testutil"
	"golang.org/x/sys/unix"
)

// Every feature of the process basics, observed from inside the child.

func TestArgvEnvCwd(t *testing.T) {
	leakCheck(t)
	dir := t.TempDir()
	p := runProbe(t, &Exec{Args: []string{"checker", "probe", "extra arg"}, Env: []string{"A=1", "B=two words"}, Dir: dir}, nil)
	if p.Cwd != dir {
		t.Errorf("cwd %q, want %q", p.Cwd, dir)
	}
	if !slices.Equal(p.Env, []string{"A=1", "B=two words"}) {
		t.Errorf("env %q", p.Env)
	}
	out, st := runOut(t, mustCompile(t, &Exec{Path: "/bin/sh", Args: []string{"sh", "-c", `printf '%s|' "$0" "$@"`, "zero", "a b", ""}}), nil)
	if st.ExitCode() != 0 || string(out) != "zero|a b||" {
		t.Errorf("argv seen as %q (%v)", out, st)
	}
}

func TestFilesLayout(t *testing.T) {
	leakCheck(t)
	r1, w1, _ := os.Pipe()
	defer r1.Close()
	defer w1.Close()
	f, err := os.CreateTemp(t.TempDir(), "extra")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Six files: 0 closed, 3 closed, the same file twice; the descriptors
	// the parent holds (the pipe, the test binary's own) must not appear.
	// The shell's descriptors are listed by a child of it (ls), so the
	// listing shows exactly what the shell inherited.
	// No pipeline: the shell would hold its pipe while ls lists it. The
	// trailing "true" keeps the shell from exec'ing ls in its place.
	prog := mustCompile(t, &Exec{Path: "/bin/sh", Args: []string{"sh", "-c", `ls -l /proc/$$/fd; true`}, Files: 6})
	out, st := runOut(t, prog, &Attr{Files: []*os.File{nil, nil, os.Stderr, nil, f, f}})
	if st.ExitCode() != 0 {
		t.Fatalf("%v: %s", st, out)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// lr-x------ 1 root root 64 Nov 23 14:59 4 -> /tmp/x
		f := strings.Fields(l)
		if len(f) >= 3 && f[len(f)-2] == "->" {
			got[f[len(f)-3]] = f[len(f)-1]
		}
	}
	if len(got) != 4 || got["4"] != f.Name() || got["5"] != f.Name() || !strings.HasPrefix(got["1"], "pipe:") || got["2"] == "" {
		t.Errorf("child descriptors %v: want exactly 1 (stdout pipe), 2, 4 and 5 (%s)", got, f.Name())
	}
}

// TestNoHostFdLeaks runs a child that lists its descriptors before any Go
// runtime could open more: /bin/ls of /proc/self/fd through a shell builtin.
func TestNoHostFdLeaks(t *testing.T) {
	leakCheck(t)
	keep, err := os.Open("/etc/hostname") // stays open in the parent
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	// Not close-on-exec, as a careless library might leave one.
	raw, err := unix.Open("/etc/passwd", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(raw)
	out, st := runOut(t, mustCompile(t, &Exec{Path: "/bin/sh", Args: []string{"sh", "-c", "cd /proc/self/fd && echo *"}}), nil)
	if st.ExitCode() != 0 {
		t.Fatalf("%v", st)
	}
	fds := strings.Fields(string(out))
	// The shell itself may hold one descriptor open for the glob's directory.
	for _, fd := range fds {
		n, _ := strconv.Atoi(fd)
		if n > 3 {
			t.Errorf("child has descriptors %v: only 0–2 (and the shell's own 3) expected", fds)
			break
		}
	}
	if slices.Contains(fds, strconv.Itoa(raw)) && raw > 3 {
		t.Errorf("the parent's non-close-on-exec descriptor %d leaked", raw)
	}
}

func TestRlimits(t *testing.T) {
	leakCheck(t)
	// A shell reports the limits (a Go checker would raise its own NOFILE).
	script := `echo $(ulimit -c) $(ulimit -Hc) $(ulimit -f) $(ulimit -Hf) $(ulimit -n) $(ulimit -Hn)`
	run := func(rl []Rlimit) []string {
		out, st := runOut(t, mustCompile(t, &Exec{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Rlimits: rl}), nil)
		if st.ExitCode() != 0 {
			t.Fatalf("%v: %s", st, out)
		}
		return strings.Fields(string(out))
	}
	got := run([]Rlimit{{Resource: unix.RLIMIT_CORE, Cur: 0, Max: 0}, {Resource: unix.RLIMIT_FSIZE, Cur: 1 << 20, Max: 2 << 20}})
	def := DefaultNofile()
	// ulimit -f counts 512-byte blocks.
	want := []string{"0", "0", "2048", "4096", strconv.FormatUint(def.Cur, 10), strconv.FormatUint(def.Max, 10)}
	if !slices.Equal(got, want) {
		t.Errorf("core/fsize/nofile %v, want %v", got, want)
	}
	got = run([]Rlimit{{Resource: unix.RLIMIT_NOFILE, Cur: 64, Max: 128}})
	if got[4] != "64" || got[5] != "128" {
		t.Errorf("NOFILE %v, want 64/128", got[4:])
	}
}

func TestSetsidCttyUmask(t *testing.T) {
	leakCheck(t)
	p := runProbe(t, &Exec{Setsid: true, SetUmask: true, Umask: 0o027}, nil)
	if p.Sid != p.Pid || p.Pgid != p.Pid {
		t.Errorf("sid %d pgid %d, want both = pid %d", p.Sid, p.Pgid, p.Pid)
	}
	if p.Umask != 0o027 {
		t.Errorf("umask %#o", p.Umask)
	}
	if p.TtyNr != 0 {
		t.Errorf("a new session without Setctty has tty %d", p.TtyNr)
	}

	_, pts := testutil.OpenPty(t)
	var st unix.Stat_t
	unix.Fstat(int(pts.Fd()), &st)
	p = runProbe(t, &Exec{Setsid: true, Setctty: true, Ctty: 0}, &Attr{Files: []*os.File{pts, nil, os.Stderr}})
	if p.TtyNr != int(st.Rdev) {
		t.Errorf("controlling tty %d, want the pty %d", p.TtyNr, st.Rdev)
	}
}

func TestCreds(t *testing.T) {
	testutil.RequireRoot(t)
	leakCheck(t)
	p := runProbe(t, &Exec{Cred: &Cred{Uid: 65534, Gid: 65533, Groups: []uint32{4, 24}}}, nil)
	if p.Uid != [3]int{65534, 65534, 65534} || p.Gid != [3]int{65533, 65533, 65533} {
		t.Errorf("uids %v gids %v", p.Uid, p.Gid)
	}
	if !slices.Equal(p.Groups, []int{4, 24}) {
		t.Errorf("groups %v", p.Groups)
	}
	p = runProbe(t, &Exec{Cred: &Cred{Uid: 1000, Gid: 1000}}, nil)
	if len(p.Groups) != 0 {
		t.Errorf("nil Groups should clear them: %v", p.Groups)
	}
	// The parent is made non-dumpable up front, so the child's uid change
	// (which shares the parent's mm until exec) changes nothing.
	if d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); d != 0 {
		t.Errorf("privileged parent dumpable = %d, want 0", d)
	}
}

func TestSigmaskRestored(t *testing.T) {
	leakCheck(t)
	// Go threads run with an empty mask; the child ran with everything
	// blocked until RestoreSigmask.
	p := runProbe(t, &Exec{}, nil)
	if m := sigBlk(p); m != 0 {
		t.Errorf("child's blocked mask %#x, want the parent thread's (0)", m)
	}
	if p.Status["SigIgn"] != "0000000000000000" {
		// CLONE_CLEAR_SIGHAND resets handled signals; ignored ones stay
		// ignored. The Go test binary ignores none.
		t.Logf("SigIgn %s", p.Status["SigIgn"])
	}
}

// TestPdeathsig spawns from a thread that then exits: the child gets its
// parent-death signal.
func TestPdeathsig(t *testing.T) {
	leakCheck(t)
	prog := mustCompile(t, &Exec{Path: testutil.Checker(t), Args: []string{"checker", "sleep", "1h"}, Pdeathsig: unix.SIGKILL})
	got := make(chan *Process, 1)
	var spawnFrom func()
	spawnFrom = func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if unix.Gettid() == os.Getpid() {
			// The main thread is wedged, not ended, when its locked
			// goroutine exits: try again from another thread.
			runtime.UnlockOSThread()
			go spawnFrom()
			return
		}
		p, err := Start(prog, &Attr{Files: []*os.File{nil, nil, nil}})
		if err != nil {
			t.Error(err)
			got <- nil
			return
		}
		got <- p
	}
	go spawnFrom()
	p := <-got
	if p == nil {
		return
	}
	done := make(chan *State, 1)
	go func() { st, _ := p.Wait(); done <- st }()
	select {
	case st := <-done:
		if sig, ok := st.Signaled(); !ok || sig != unix.SIGKILL {
			t.Errorf("child ended with %v, want SIGKILL", st)
		}
	case <-time.After(20 * time.Second):
		p.Kill()
		<-done
		t.Fatal("no parent-death signal after the spawning thread exited")
	}
}

func TestExecFile(t *testing.T) {
	leakCheck(t)
	f, err := os.Open(testutil.Checker(t))
	if err != nil {
		t.Fatal(err)
	}
	prog := mustCompile(t, &Exec{File: f, Args: []string{"checker", "exit", "7"}})
	f.Close() // the program keeps its own descriptor
	_, st := runOut(t, prog, nil)
	if st.ExitCode() != 7 {
		t.Errorf("%v, want exit 7", st)
	}
	if !strings.Contains(prog.String(), "execveat(") {
		t.Errorf("program does not use execveat:\n%s", prog)
	}
}

func TestExitStatusAndSignal(t *testing.T) {
	leakCheck(t)
	elf := exitArgcELF(t)
	_, st := runOut(t, mustCompile(t, &Exec{Path: elf, Args: []string{"a", "b", "c"}}), nil)
	if st.ExitCode() != 3 {
		t.Errorf("%v, want exit 3", st)
	}
	p, err := Start(mustCompile(t, &Exec{Path: testutil.Checker(t), Args: []string{"checker", "sleep", "1h"}}), &Attr{Files: make([]*os.File, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Signal(unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st, err = p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sig, ok := st.Signaled(); !ok || sig != unix.SIGTERM {
		t.Errorf("%v, want SIGTERM", st)
	}
	if err := p.Signal(unix.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("Signal after Wait: %v, want ErrProcessDone", err)
	}
	if _, err := p.Wait(); !errors.Is(err, ErrWaited) {
		t.Errorf("second Wait: %v", err)
	}
}

func TestStartAsync(t *testing.T) {
	leakCheck(t)
	prog := mustCompile(t, &Exec{Path: exitArgcELF(t), Args: []string{"x", "y"}})
	p, err := StartAsync(prog, &Attr{Files: make([]*os.File, 3)})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Started()
	if err := p.StartErr(); err != nil {
		t.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil || st.ExitCode() != 2 {
		t.Fatalf("%v %v", st, err)
	}
	// A failing async start reports through StartErr and Wait.
	bad := mustCompile(t, &Exec{Path: "/nonexistent/x"})
	p, err = StartAsync(bad, &Attr{Files: make([]*os.File, 3)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AwaitStart(context.Background()); !errors.Is(err, unix.ENOENT) {
		t.Errorf("AwaitStart: %v, want ENOENT", err)
	}
	if _, err := p.Wait(); !errors.Is(err, unix.ENOENT) {
		t.Errorf("Wait after a failed start: %v", err)
	}
}

// TestWaitParksNoThreads waits for many children at once: Wait goes through
// the netpoller, so the thread count stays flat.
func TestWaitParksNoThreads(t *testing.T) {
	leakCheck(t)
	const n = 64
	prog := mustCompile(t, &Exec{Path: testutil.Checker(t), Args: []string{"checker", "sleep", "1h"}})
	procs := make([]*Process, n)
	for i := range procs {
		p, err := Start(prog, &Attr{Files: make([]*os.File, 3)})
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = p
	}
	before := threads(t)
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.Wait() }()
	}
	time.Sleep(200 * time.Millisecond) // let every waiter park
	during := threads(t)
	for _, p := range procs {
		p.Kill()
	}
	wg.Wait()
	if during > before+8 {
		t.Errorf("threads %d → %d while %d goroutines wait: waiting parks threads", before, during, n)
	}
}

func threads(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

func TestUserNamespaceParentWrittenMaps(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireUserNS(t)
	leakCheck(t)
	b := NewBuilder(3)
	b.CloneFlags(unix.CLONE_NEWUSER)
	b.Sync(7, Imm(0), "id maps")
	b.Rlimits(nil)
	b.RestoreSigmask()
	b.MarkExec()
	b.Exec(testutil.Checker(t), []string{"checker", "probe"}, nil)
	prog, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	var synced []uint32
	out, st := runOut(t, prog, &Attr{OnSync: func(p *Process, id, val uint32) error {
		synced = append(synced, id)
		// Two ranges: only a writer with CAP_SETUID in the parent
		// namespace may write this, so the parent does.
		dir := filepath.Join("/proc", strconv.Itoa(p.Pid))
		if err := os.WriteFile(dir+"/uid_map", []byte("0 100000 1000\n1000 200000 1000\n"), 0); err != nil {
			return err
		}
		return os.WriteFile(dir+"/gid_map", []byte("0 100000 65536\n"), 0)
	}})
	if st.ExitCode() != 0 || !slices.Equal(synced, []uint32{7}) {
		t.Fatalf("%v synced %v: %s", st, synced, out)
	}
	if !strings.Contains(string(out), `"UidMap": "0     100000       1000\n      1000     200000       1000"`) {
		t.Errorf("uid map not as written:\n%s", out)
	}
}

func TestClosedProgram(t *testing.T) {
	prog := mustCompile(t, &Exec{Path: "/bin/true"})
	prog.Close()
	if _, err := Start(prog, &Attr{Files: make([]*os.File, 3)}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Start of a closed program: %v", err)
	}
	prog2 := mustCompile(t, &Exec{Path: "/bin/true"})
	if _, err := Start(prog2, &Attr{Files: make([]*os.File, 2)}); err == nil {
		t.Error("Start with the wrong number of files succeeded")
	}
}
