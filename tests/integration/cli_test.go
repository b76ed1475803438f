//go:build linux

// Package integration drives the sandbox binary as a black box: every
// flag, every limit, every status and exit code, the whole-tree kill, and
// that nothing is left behind.
package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/hostids"
	"github.com/gosandbox/sandbox/internal/testutil"
)

var bin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// sandboxBin builds cmd/sandbox once (or takes SANDBOX_BIN, for runs as a
// user who cannot use the Go caches).
func sandboxBin(t *testing.T) string {
	t.Helper()
	bin.once.Do(func() {
		if p := os.Getenv("SANDBOX_BIN"); p != "" {
			bin.path = p
			return
		}
		dir, err := os.MkdirTemp("", "sandbox-bin-")
		if err != nil {
			bin.err = err
			return
		}
		os.Chmod(dir, 0o755)
		bin.path = filepath.Join(dir, "sandbox")
		_, file, _, _ := runtime.Caller(0)
		// As make build ships it: sandbox without cgo, sandbox-seccomp
		// (libseccomp, for custom profiles) beside it.
		cmd := exec.Command("go", "build", "-buildvcs=false", "-o", bin.path, "./cmd/sandbox")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if bin.out, bin.err = cmd.CombinedOutput(); bin.err != nil {
			return
		}
		cmd = exec.Command("go", "build", "-buildvcs=false", "-o", filepath.Join(dir, "sandbox-seccomp"), "./cmd/sandbox-seccomp")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
		bin.out, bin.err = cmd.CombinedOutput()
	})
	if bin.err != nil {
		t.Fatalf("building sandbox: %v\n%s", bin.err, bin.out)
	}
	return bin.path
}

// record is the --status-json document.
type record struct {
	Status     string   `json:"status"`
	ExitCode   int      `json:"exit_code"`
	Signal     int      `json:"signal"`
	CPUTime    float64  `json:"cpu_time"`
	WallTime   float64  `json:"wall_time"`
	PeakMemory uint64   `json:"peak_memory"`
	Unenforced []string `json:"unenforced"`
	SetupError *struct {
		Step   int    `json:"step"`
		Op     string `json:"op"`
		Target string `json:"target"`
		Errno  string `json:"errno"`
	} `json:"setup_error"`
}

type run struct {
	stdout, stderr string
	code           int
	rec            *record
}

// sandbox runs `sandbox run ARGS…` with --status-json and returns what
// came out.
func sandbox(t *testing.T, args ...string) run {
	t.Helper()
	status := filepath.Join(t.TempDir(), "status.json")
	full := append([]string{"run", "--status-json", status}, args...)
	cmd := exec.Command(sandboxBin(t), full...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := run{stdout: so.String(), stderr: se.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sandbox %v: %v", args, err)
	}
	if b, err := os.ReadFile(status); err == nil {
		r.rec = new(record)
		if err := json.Unmarshal(b, r.rec); err != nil {
			t.Fatalf("status record: %v\n%s", err, b)
		}
	}
	return r
}

func (r run) String() string {
	return fmt.Sprintf("exit %d, record %+v\nstdout: %s\nstderr: %s", r.code, r.rec, r.stdout, r.stderr)
}

func checker(t *testing.T) []string {
	return []string{"--ro-bind", testutil.Checker(t) + ":/checker"}
}

func want(t *testing.T, r run, code int, status string) {
	t.Helper()
	if r.code != code || r.rec == nil || r.rec.Status != status {
		t.Errorf("want exit %d and status %q; got %s", code, status, r)
	}
}

func TestFlags(t *testing.T) {
	testutil.RequireUserNS(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o777) // the sandbox's root is an unprivileged host id
	os.WriteFile(filepath.Join(dir, "in"), []byte("from host\n"), 0o644)
	cases := []struct {
		name string
		args []string
		out  string
	}{
		{"bind", []string{"--bind", dir + ":/data", "--", "sh", "-c", "cat /data/in; echo new > /data/out && cat /data/out"}, "from host\nnew\n"},
		{"ro-bind", []string{"--ro-bind", dir + ":/data", "--", "sh", "-c", "cat /data/in; echo x > /data/x 2>/dev/null || echo read-only"}, "from host\nread-only\n"},
		{"bind-ro-suffix", []string{"--bind", dir + ":/data:ro", "--", "sh", "-c", "echo x > /data/x 2>/dev/null || echo read-only"}, "read-only\n"},
		{"tmpfs", []string{"--tmpfs", "/scratch:size=64k", "--", "sh", "-c", "head -c 100000 /dev/zero > /scratch/f 2>/dev/null || echo full; df -k /scratch | tail -1 | awk '{print $2}'"}, "full\n64\n"},
		{"chdir", []string{"--chdir", "/tmp", "--", "pwd"}, "/tmp\n"},
		{"env", []string{"--env", "A=1", "--env", "B=x y", "--", "sh", "-c", "echo $A $B; env | wc -l"}, "1 x y\n5\n"},
		{"hostname", []string{"--hostname", "box", "--", "hostname"}, "box\n"},
		{"uid-gid", []string{"--uid", "1000", "--gid", "1001", "--", "sh", "-c", "id -u; id -g"}, "1000\n1001\n"},
		{"cap-add", []string{"--cap-add", "NET_BIND_SERVICE", "--", "sh", "-c", "grep CapEff /proc/self/status"}, "CapEff:\t0000000000000400\n"},
		{"cap-add-nonroot", []string{"--uid", "1000", "--cap-add", "NET_BIND_SERVICE", "--", "sh", "-c", "grep CapAmb /proc/self/status"}, "CapAmb:\t0000000000000400\n"},
		{"seccomp-unconfined", []string{"--seccomp", "unconfined", "--", "sh", "-c", "grep '^Seccomp:' /proc/self/status"}, "Seccomp:\t0\n"},
		{"seccomp-default", []string{"--", "sh", "-c", "grep '^Seccomp:' /proc/self/status"}, "Seccomp:\t2\n"},
		// Fewer descriptors than the setup itself holds: the limit is
		// set once the setup is done.
		{"nofile", []string{"--nofile", "6", "--", "sh", "-c", "ulimit -n; ulimit -Hn"}, "6\n6\n"},
	}
	if os.Geteuid() != 0 {
		// Only the caller's own id exists in an unprivileged sandbox.
		cases = slices.DeleteFunc(cases, func(c struct {
			name string
			args []string
			out  string
		}) bool {
			return c.name == "uid-gid" || c.name == "cap-add-nonroot"
		})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sandbox(t, c.args...)
			if r.code != 0 || r.stdout != c.out {
				t.Errorf("want %q, exit 0; got %s", c.out, r)
			}
		})
	}
}

func TestShareNet(t *testing.T) {
	testutil.RequireUserNS(t)
	host, _ := os.Readlink("/proc/self/ns/net")
	r := sandbox(t, "--share-net", "--", "readlink", "/proc/self/ns/net")
	if strings.TrimSpace(r.stdout) != host {
		t.Errorf("--share-net: net namespace %q, want the host's %q", r.stdout, host)
	}
	r = sandbox(t, "--", "readlink", "/proc/self/ns/net")
	if strings.TrimSpace(r.stdout) == host || r.code != 0 {
		t.Errorf("default: shares the host's network namespace: %s", r)
	}
}

func TestSeccompProfileFile(t *testing.T) {
	testutil.RequireUserNS(t)
	profile := filepath.Join(t.TempDir(), "p.json")
	os.WriteFile(profile, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42},
		{"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}]}`), 0o644)
	r := sandbox(t, "--seccomp", profile, "--", "sh", "-c", "mkdir /tmp/x 2>&1 | grep -c 'No message of desired type'")
	if r.code != 0 || r.stdout != "1\n" {
		t.Errorf("errno 42 from mkdir: %s", r)
	}
	r = sandbox(t, "--seccomp", profile, "--", "uname")
	want(t, r, 128+31, "seccomp-violation")
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"defaultAction": "SCMP_ACT_FOO"}`), 0o644)
	r = sandbox(t, "--seccomp", bad, "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "linux.seccomp.defaultAction") {
		t.Errorf("bad profile: %s", r)
	}
}

func TestSpecAndPrintSpec(t *testing.T) {
	testutil.RequireUserNS(t)
	out, err := exec.Command(sandboxBin(t), "run", "--print-spec", "--hostname", "from-flags", "--", "hostname").Output()
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(out, &spec); err != nil {
		t.Fatalf("--print-spec is not JSON: %v\n%s", err, out)
	}
	if spec["hostname"] != "from-flags" {
		t.Errorf("hostname %v", spec["hostname"])
	}
	spec["hostname"] = "from-spec"
	b, _ := json.Marshal(spec)
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, b, 0o644)
	r := sandbox(t, "--spec", path, "--env", "X=1", "--", "sh", "-c", "hostname; echo $X")
	if r.code != 0 || r.stdout != "from-spec\n1\n" || strings.Contains(r.stderr, "warning") {
		t.Errorf("--spec: %s", r)
	}

	// A spec weaker than the default sandbox is run, loudly; --seccomp
	// default puts the default profile on it (seen from inside: Seccomp: 2).
	delete(spec["linux"].(map[string]any), "seccomp")
	b, _ = json.Marshal(spec)
	os.WriteFile(path, b, 0o644)
	r = sandbox(t, "--spec", path, "--", "sh", "-c", "grep ^Seccomp: /proc/self/status")
	if r.code != 0 || !strings.Contains(r.stdout, "\t0") || !strings.Contains(r.stderr, "warning: --spec: no seccomp profile") {
		t.Errorf("--spec without seccomp: %s", r)
	}
	r = sandbox(t, "--spec", path, "--seccomp", "default", "--", "sh", "-c", "grep ^Seccomp: /proc/self/status")
	if r.code != 0 || !strings.Contains(r.stdout, "\t2") || strings.Contains(r.stderr, "warning") {
		t.Errorf("--spec with --seccomp default: %s", r)
	}
	// Each protection of the default sandbox a spec leaves out is named.
	lx := spec["linux"].(map[string]any)
	lx["namespaces"] = slices.DeleteFunc(lx["namespaces"].([]any), func(n any) bool { return n.(map[string]any)["type"] == "cgroup" })
	delete(lx, "maskedPaths")
	spec["process"].(map[string]any)["noNewPrivileges"] = false
	b, _ = json.Marshal(spec)
	os.WriteFile(path, b, 0o644)
	r = sandbox(t, "--spec", path, "--seccomp", "default", "--", "true")
	for _, w := range []string{"host's cgroup namespace", "noNewPrivileges is false", "linux.maskedPaths leaves out /proc/acpi, /proc/asound, /proc/kcore"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("no warning with %q: %s", w, r)
		}
	}
	// A map onto the host's root is named (root may write such maps).
	if os.Geteuid() == 0 {
		m := []any{map[string]any{"containerID": 0, "hostID": 0, "size": 1}}
		lx["uidMappings"], lx["gidMappings"] = m, m
		b, _ = json.Marshal(spec)
		os.WriteFile(path, b, 0o644)
		out, _ = exec.Command(sandboxBin(t), "explain", "--spec", path, "--", "/bin/true").Output()
		if !bytes.Contains(out, []byte("linux.uidMappings[0] maps id 0 to the host's root")) {
			t.Errorf("explain of a spec mapping the host's root does not say so:\n%s", out)
		}
	}
	// root.path beside the tmpfs-root annotation: one of them would be
	// ignored, so the spec is refused.
	spec["root"] = map[string]any{"path": t.TempDir()}
	b, _ = json.Marshal(spec)
	os.WriteFile(path, b, 0o644)
	if r = sandbox(t, "--spec", path, "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "root.path") {
		t.Errorf("root.path with the tmpfs annotation: %s", r)
	}
	// A spec that says nothing of its root is refused (the runtime-spec
	// requires root on Linux); the host's root, asked for, runs loudly.
	empty := filepath.Join(t.TempDir(), "empty.json")
	os.WriteFile(empty, []byte("{}"), 0o644)
	if r = sandbox(t, "--spec", empty, "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "root: required") {
		t.Errorf("a spec without root: %s", r)
	}
	os.WriteFile(empty, []byte(`{"root": {"path": "/"}}`), 0o644)
	out, _ = exec.Command(sandboxBin(t), "explain", "--spec", empty, "--", "/bin/true").Output()
	if !bytes.Contains(out, []byte("# warning: --spec: the command shares the host's user, mount, pid")) {
		t.Errorf("explain of a spec without namespaces does not say so:\n%s", out)
	}
}

// TestSharedRootPropagation: a spec asking for a shared root gets one, and
// the setup's mounts stay out of the caller's mount namespace even when
// the caller's "/" is shared (as systemd makes it; here a private copy of
// the host's, made shared by unshare(1)).
func TestSharedRootPropagation(t *testing.T) {
	testutil.RequireRoot(t)
	out, err := exec.Command(sandboxBin(t), "run", "--print-spec", "--", "true").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, prop := range []string{"rshared", "shared", "private", "rslave"} {
		var spec map[string]any
		if err := json.Unmarshal(out, &spec); err != nil {
			t.Fatal(err)
		}
		spec["linux"].(map[string]any)["rootfsPropagation"] = prop
		b, _ := json.Marshal(spec)
		path := filepath.Join(t.TempDir(), "config.json")
		os.WriteFile(path, b, 0o644)
		// Mount counts of the caller's namespace before and after, and
		// the sandbox's own view of its "/".
		script := `before=$(wc -l </proc/self/mountinfo)
"$0" run --spec "$1" -- sh -c 'grep " / / " /proc/self/mountinfo'; rc=$?
after=$(wc -l </proc/self/mountinfo)
echo "rc=$rc before=$before after=$after"`
		cmd := exec.Command("unshare", "--mount", "--propagation", "shared", "sh", "-c", script, sandboxBin(t), path)
		got, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", prop, err, got)
		}
		lines := strings.Split(strings.TrimSpace(string(got)), "\n")
		last := lines[len(lines)-1]
		var rc, before, after int
		if _, err := fmt.Sscanf(last, "rc=%d before=%d after=%d", &rc, &before, &after); err != nil {
			t.Fatalf("%s: %q: %v", prop, got, err)
		}
		if rc != 0 || before != after {
			t.Errorf("%s: exit %d, caller's mounts %d before and %d after:\n%s", prop, rc, before, after, got)
			continue
		}
		root := strings.Join(lines[:len(lines)-1], "\n")
		if shared := strings.Contains(root, "shared:"); shared != strings.HasSuffix(prop, "shared") {
			t.Errorf("%s: the sandbox's / is %q", prop, root)
		}
	}
}

// TestStatuses reaches every status and attributes it.
func TestStatuses(t *testing.T) {
	testutil.RequireUserNS(t)
	chk := checker(t)
	// Memory, pids and the tree's CPU time need a cgroup: root here.
	cgroupCases := map[string]bool{"time-limit": true, "time-limit-tree": true, "memory-limit": true, "pids-limit": true}
	cases := []struct {
		name   string
		args   []string
		code   int
		status string
	}{
		{"ok", []string{"--", "true"}, 0, "ok"},
		{"exit", []string{"--", "sh", "-c", "exit 3"}, 3, "exit"},
		{"signal", []string{"--", "sh", "-c", "kill -TERM $$"}, 128 + 15, "signal"},
		{"time-limit", append(chk, "--time", "0.5", "--", "/checker", "spin"), 137, "time-limit"},
		{"time-limit-tree", append(chk, "--time", "0.6", "--", "sh", "-c", "/checker spin & /checker spin & wait"), 137, "time-limit"},
		{"wall-limit", []string{"--wall-time", "0.3", "--", "sleep", "30"}, 137, "wall-limit"},
		{"memory-limit", append(chk, "--memory", "32m", "--", "/checker", "alloc", "268435456"), 137, "memory-limit"},
		{"pids-limit", append(chk, "--pids", "8", "--", "sh", "-c", "/checker fork 50 && exit 1"), 1, "pids-limit"},
		{"output-limit", []string{"--output-limit", "1000", "--", "yes"}, 137, "output-limit"},
		{"not-found", []string{"--", "/nonexistent/cmd"}, 127, "setup-error"},
		{"not-executable", []string{"--", "/etc/hostname"}, 126, "setup-error"},
		{"path-not-found", []string{"--", "no-such-command-anywhere"}, 127, "setup-error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if cgroupCases[c.name] {
				testutil.RequireRoot(t)
			}
			r := sandbox(t, c.args...)
			want(t, r, c.code, c.status)
			if c.name == "path-not-found" && !strings.Contains(r.stderr, "execve no-such-command-anywhere in $PATH (/usr/local/sbin:") {
				t.Errorf("the error names the last directory searched, not the command and $PATH: %s", r)
			}
			if r.rec != nil && r.rec.Status != "setup-error" && r.rec.WallTime <= 0 {
				t.Errorf("wall_time %v", r.rec.WallTime)
			}
		})
	}
	// The accounting: CPU time of a spinner near its limit; peak memory of
	// an allocator.
	testutil.RequireRoot(t)
	r := sandbox(t, append(chk, "--time", "0.5", "--", "/checker", "spin")...)
	if r.rec == nil || r.rec.CPUTime < 0.45 || r.rec.CPUTime > 1.5 {
		t.Errorf("cpu_time of a 0.5 s spinner: %s", r)
	}
	r = sandbox(t, append(chk, "--memory", "256m", "--", "/checker", "alloc", "67108864")...)
	if r.rec == nil || r.rec.PeakMemory < 64<<20 || r.rec.PeakMemory > 256<<20 {
		t.Errorf("peak_memory of a 64 MiB allocator: %s", r)
	}
}

// TestBadBind: a bind the kernel refuses is a setup-error naming the step
// and the mount.
func TestBadBind(t *testing.T) {
	testutil.RequireUserNS(t)
	dir := t.TempDir()
	r := sandbox(t, "--bind", dir+":/usr/sandbox-mountpoint", "--", "true")
	want(t, r, 125, "setup-error")
	if r.rec == nil || r.rec.SetupError == nil || r.rec.SetupError.Errno != "EROFS" ||
		!strings.Contains(r.rec.SetupError.Target, "/usr/sandbox-mountpoint") {
		t.Errorf("setup_error should name the mount and EROFS: %s", r)
	}
	if !strings.Contains(r.stderr, "/usr/sandbox-mountpoint") {
		t.Errorf("stderr does not name the mount: %q", r.stderr)
	}
	r = sandbox(t, "--bind", "/nonexistent/src:/x", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "/nonexistent/src") {
		t.Errorf("missing bind source: %s", r)
	}
}

// TestStatusRecordNotRedirected: a command that can write where the record
// goes (a bind of its directory) cannot point the record at another file.
// It replaces the record with a link during its run, or leaves a link or a
// FIFO there for the next run: the file it names stays as it was, the next
// run refuses the path (exit 125, nothing run), and a FIFO does not hang it.
func TestStatusRecordNotRedirected(t *testing.T) {
	testutil.RequireUserNS(t)
	work := t.TempDir()
	os.Chmod(work, 0o777) // the sandbox's root is an unprivileged host id
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	status := filepath.Join(work, "status.json")
	runAt := func(status string, args ...string) (int, string) {
		cmd := exec.Command(sandboxBin(t), append([]string{"run", "--status-json", status}, args...)...)
		var se bytes.Buffer
		cmd.Stderr = &se
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("sandbox run %v hung", args)
		}
		return cmd.ProcessState.ExitCode(), se.String()
	}
	runWith := func(args ...string) (int, string) { return runAt(status, args...) }
	intact := func(when string) {
		t.Helper()
		if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
			t.Errorf("%s: the linked file became %q (%v)", when, b, err)
		}
	}

	// During the run: the record was opened before the command started.
	code, stderr := runWith("--bind", work+":/work", "--", "sh", "-c", "ln -sf "+victim+" /work/status.json; exit 3")
	if code != 3 {
		t.Errorf("link during the run: exit %d, want 3; stderr %q", code, stderr)
	}
	intact("link during the run")
	if fi, err := os.Lstat(status); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the command did not leave its link: %v %v", fi, err)
	}

	// Left for the next run: refused before anything runs.
	code, stderr = runWith("--", "sh", "-c", "echo ran")
	if code != 125 || !strings.Contains(stderr, "symbolic link") {
		t.Errorf("planted link: exit %d, stderr %q; want 125 naming the link", code, stderr)
	}
	intact("planted link")

	// An earlier record does not survive into a run that never writes
	// its own (sandbox run killed): the file is emptied at open.
	os.Remove(status)
	if err := os.WriteFile(status, []byte(`{"status":"ok","stale":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := "44" + strconv.Itoa(os.Getpid())
	cmd := exec.Command(sandboxBin(t), "run", "--status-json", status, "--", "sleep", tag)
	startUntil(t, cmd, tag)
	cmd.Process.Kill()
	cmd.Wait()
	waitGone(t, tag)
	if b, err := os.ReadFile(status); err != nil || len(b) != 0 {
		t.Errorf("after sandbox run was killed, the record holds %q (%v), want it empty", b, err)
	}

	// A link in place of a directory above the record, left by a
	// sandbox (of a root caller's: an unprivileged caller's sandbox
	// makes its links as the caller), is not followed: the record
	// would land in a directory of its choosing.
	if os.Geteuid() == 0 {
		elsewhere := t.TempDir()
		runWith("--bind", work+":/work", "--", "ln", "-s", elsewhere, "/work/out")
		code, stderr = runAt(filepath.Join(work, "out", "status.json"), "--", "true")
		if code != 125 || !strings.Contains(stderr, "owned by uid 100000") {
			t.Errorf("a planted directory link: exit %d, stderr %q; want 125 naming the link", code, stderr)
		}
		if _, err := os.Lstat(filepath.Join(elsewhere, "status.json")); err == nil {
			t.Errorf("the record was written through the planted link")
		}
	}

	// A FIFO in its place: refused at once instead of blocking.
	os.Remove(status)
	if err := unix.Mkfifo(status, 0o666); err != nil {
		t.Fatal(err)
	}
	code, stderr = runWith("--", "true")
	if code != 125 || !strings.Contains(stderr, "--status-json") {
		t.Errorf("planted FIFO: exit %d, stderr %q; want 125", code, stderr)
	}
}

// TestStdoutReaderGone: with --output-limit, sandbox run relays the
// command's output; when the reader of its stdout goes away (`| head -1`)
// the command gets SIGPIPE as it would writing there itself, and sandbox
// run survives to write the record.
func TestStdoutReaderGone(t *testing.T) {
	testutil.RequireUserNS(t)
	status := filepath.Join(t.TempDir(), "status.json")
	cmd := exec.Command(sandboxBin(t), "run", "--status-json", status, "--output-limit", "10m", "--", "sh", "-c", "yes; echo yes: $? >&2")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var se bytes.Buffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 2)
	if _, err := io.ReadFull(out, line); err != nil || string(line) != "y\n" {
		t.Fatalf("first line %q: %v", line, err)
	}
	out.Close()
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 0 || se.String() != "yes: 141\n" {
		t.Errorf("exit %d (%v), stderr %q; want 0 and yes killed by SIGPIPE", code, cmd.ProcessState, se.String())
	}
	var rec record
	if b, err := os.ReadFile(status); err != nil || json.Unmarshal(b, &rec) != nil {
		t.Fatalf("no record: %v %q", err, b)
	}
	if rec.Status != "ok" {
		t.Errorf("record %+v, want ok", rec)
	}
}

// TestPlantedBindSource: a root caller's sandbox leaves a link to a host
// directory in its writable bind; a later run that binds a path through
// that link is refused instead of mounting the directory it names.
func TestPlantedBindSource(t *testing.T) {
	testutil.RequireRoot(t)
	ws := t.TempDir()
	os.Chmod(ws, 0o777)
	secret := filepath.Join(t.TempDir(), "secret")
	os.Mkdir(secret, 0o700)
	os.WriteFile(filepath.Join(secret, "s"), []byte("TOPSECRET\n"), 0o644)
	if r := sandbox(t, "--bind", ws+":/ws", "--", "ln", "-s", secret, "/ws/cache"); r.code != 0 {
		t.Fatalf("planting the link: %s", r)
	}
	r := sandbox(t, "--ro-bind", ws+"/cache:/cache", "--", "cat", "/cache/s")
	if r.code != 125 || strings.Contains(r.stdout, "TOPSECRET") || !strings.Contains(r.stderr, "owned by uid 100000") {
		t.Errorf("bind through the planted link: %s", r)
	}
}

// TestBadFlags: every bad flag or value exits 125 with a message naming
// the flag, writes a setup-error record, and runs nothing (--print-spec
// and explain refuse the same flags).
func TestBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--bind", "onlyone", "--", "true"}, "--bind onlyone"},
		{[]string{"--bind", "/tmp:relative", "--", "true"}, "--bind /tmp:relative"},
		{[]string{"--tmpfs", "relative", "--", "true"}, "--tmpfs relative"},
		{[]string{"--tmpfs", "/t:size=zz", "--", "true"}, "--tmpfs /t:size=zz"},
		{[]string{"--cap-add", "CAP_BOGUS", "--", "true"}, "--cap-add"},
		{[]string{"--memory", "lots", "--", "true"}, `invalid value "lots" for flag --memory`},
		{[]string{"--memory", "10", "--", "true"}, "--memory 10: at least 1m"},
		{[]string{"--nofile", "99999999", "--", "true"}, "--nofile 99999999: at most"},
		{[]string{"--memory", "18014398509483032k", "--", "true"}, "-memory"}, // would wrap to 1 MiB
		{[]string{"--fsize", "18014398509481985k", "--", "true"}, "-fsize"},
		{[]string{"--uid", "4294967296", "--", "id"}, "-uid"}, // would wrap to 0
		{[]string{"--uid", "-5", "--", "id"}, "-uid"},
		{[]string{"--gid", "4294967295", "--", "id"}, "-gid"},
		{[]string{"--uid", "70000", "--", "id"}, "--uid 70000: not mapped in the sandbox's user namespace (ids 0"},
		{[]string{"--time", "inf", "--", "true"}, "-time"},
		{[]string{"--time", "NaN", "--", "true"}, "-time"},
		{[]string{"--wall-time", "1e300", "--", "true"}, "-wall-time"},
		{[]string{"--pids", "-3", "--", "true"}, "--pids -3: must be between"},
		{[]string{"--pids", "99999999999", "--memory", "64m", "--", "true"}, "--pids 99999999999: must be between 0 (no limit) and 4194304"}, // was: every cgroup limit dropped
		{[]string{"--time", "1e-12", "--", "true"}, "at least a microsecond"},                                                                // was: rounded to 0, no limit
		{[]string{"--wall-time", "1ns", "--", "true"}, "at least a microsecond"},
		{[]string{"--chdir", "relative", "--", "true"}, "--chdir relative"},
		{[]string{"--no-such-flag", "--", "true"}, "unknown flag: --no-such-flag (sandbox run -h lists them)"},
		{[]string{"--"}, "no command"},
		{[]string{"--bind", "/tmp:/", "--", "true"}, "destination / is the sandbox's root"},
		{[]string{"--tmpfs", "/", "--", "true"}, "destination / is the sandbox's root"},
		{[]string{"--ro-bind", "/proc:/proc/", "--", "true"}, "destination /proc is the sandbox's own procfs"},
		{[]string{"--tmpfs", "/proc", "--", "true"}, "destination /proc is the sandbox's own procfs"},
		{[]string{"--bind", "/tmp:/x", "--ro-bind", "/usr:/x/", "--", "true"}, "already mounted by --bind /tmp:/x"},
		{[]string{"--env", "=bar", "--", "true"}, "--env =bar"},
		{[]string{"--ro-bind", "/tmp:/x:rw", "--", "true"}, "--ro-bind /tmp:/x:rw"},
		{[]string{"--host-ids", "0", "--", "true"}, "-host-ids"},          // would map the sandbox's root to host root
		{[]string{"--host-ids", "4294901760", "--", "true"}, "-host-ids"}, // its last id would be 2^32-1, the kernel's "no id"
		{[]string{"--host-ids", "some", "--", "true"}, "-host-ids"},
		{[]string{"--host-ids", "-1", "--", "true"}, "-host-ids"},
	} {
		r := sandbox(t, c.args...)
		if r.code != 125 || !strings.Contains(r.stderr, c.msg) || r.stdout != "" {
			t.Errorf("%v: want exit 125 naming %q; got %s", c.args, c.msg, r)
			continue
		}
		if r.rec == nil || r.rec.Status != "setup-error" || r.rec.SetupError == nil {
			t.Errorf("%v: want a setup-error record; got %s", c.args, r)
		}
		if strings.HasPrefix(c.args[0], "--pids") {
			for _, sub := range [][]string{{"run", "--print-spec"}, {"explain"}} {
				out, err := exec.Command(sandboxBin(t), append(sub, c.args...)...).CombinedOutput()
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 125 {
					t.Errorf("%v %v: %v %s, want exit 125", sub, c.args, err, out)
				}
			}
		}
	}
	// On a merged-/usr host the root's /lib is a link to usr/lib: a mount
	// on /lib would hide one given before it on /usr/lib/….
	if fi, err := os.Lstat("/lib"); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		r := sandbox(t, "--ro-bind", "/etc:/usr/lib/x", "--bind", "/tmp:/lib", "--", "true")
		if r.code != 125 || !strings.Contains(r.stderr, "it would hide --ro-bind /etc:/usr/lib/x") {
			t.Errorf("a mount on /lib after one inside /usr/lib: %s", r)
		}
	}
	// A bad flag stops the parse, but a --status-json after it still
	// gets the record.
	status := filepath.Join(t.TempDir(), "late.json")
	out, err := exec.Command(sandboxBin(t), "run", "--memory", "abc", "--status-json="+status, "--", "true").CombinedOutput()
	if b, rerr := os.ReadFile(status); err == nil || !bytes.Contains(b, []byte(`"setup-error"`)) {
		t.Errorf("a bad flag before --status-json: %v %s; record %s %v", err, out, b, rerr)
	}
	// Other commands: bad input is 125 too.
	for _, args := range [][]string{{"doctor", "extra"}, {"no-such-command"}, {"explain", "--bogus"}, {}} {
		out, err := exec.Command(sandboxBin(t), args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 125 {
			t.Errorf("sandbox %v: %v %s, want exit 125", args, err, out)
		}
	}
	// -h is not an error; flags are listed as the long options they are.
	for _, sub := range []string{"run", "explain"} {
		out, err := exec.Command(sandboxBin(t), sub, "-h").CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("usage: sandbox "+sub)) ||
			!bytes.Contains(out, []byte("\n  --bind SRC:DST[:ro]\n")) || !bytes.Contains(out, []byte("\n  --cpus N\n")) {
			t.Errorf("%s -h: %v %s", sub, err, out)
		}
	}
}

// TestAttribution: a status never contradicts the exit code. A command
// that exits 0 on its own is ok even when a limit's timer fires as it
// exits, or when the OOM killer took one of its children.
func TestAttribution(t *testing.T) {
	testutil.RequireUserNS(t)
	for i := range 30 {
		r := sandbox(t, "--wall-time", "0.002", "--", "true")
		if r.rec == nil || (r.rec.ExitCode == 0 && r.rec.Signal == 0) != (r.rec.Status == "ok") || r.code != 0 && r.rec.Status == "ok" {
			t.Fatalf("run %d: %s", i, r)
		}
	}
	testutil.RequireRoot(t)
	chk := checker(t)
	r := sandbox(t, append(chk, "--memory", "32m", "--", "sh", "-c", "/checker alloc 268435456; exit 0")...)
	want(t, r, 0, "ok")
	r = sandbox(t, append(chk, "--memory", "32m", "--", "sh", "-c", "/checker alloc 268435456")...)
	want(t, r, 137, "memory-limit")
}

// TestWholeTreeKill: a double-forked daemon dies with the run, whether a
// limit ends it or sandbox run itself is SIGKILLed.
func TestWholeTreeKill(t *testing.T) {
	testutil.RequireUserNS(t)
	chk := checker(t)
	tag := "42" + strconv.Itoa(os.Getpid()) + "1s"
	r := sandbox(t, append(chk, "--wall-time", "0.5", "--", "sh", "-c", "/checker daemon "+tag+"; sleep 30")...)
	want(t, r, 137, "wall-limit")
	waitGone(t, tag)

	tag = "43" + strconv.Itoa(os.Getpid()) + "1s"
	cmd := exec.Command(sandboxBin(t), append(append([]string{"run"}, chk...), "--", "sh", "-c", "/checker daemon "+tag+"; sleep 30")...)
	startUntil(t, cmd, tag)
	cmd.Process.Kill() // SIGKILL: sandbox run gets no chance to clean up
	cmd.Wait()
	waitGone(t, tag)

	// With a limit, the killed run leaves its cgroup; the next run that
	// needs one sweeps it (TestMain checks no cgroup is left at the end).
	if os.Geteuid() == 0 {
		tag = "44" + strconv.Itoa(os.Getpid()) + "1s"
		cmd = exec.Command(sandboxBin(t), append(append([]string{"run", "--memory", "64m"}, chk...), "--", "sh", "-c", "/checker daemon "+tag+"; sleep 30")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for len(pidsWith(tag)) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		waitGone(t, tag)
		if r := sandbox(t, "--pids", "16", "--", "true"); r.code != 0 {
			t.Errorf("run after a killed run: %s", r)
		}
	}
}

// TestNamespaceCapsWarning: for a root caller the network namespace
// belongs to the host's user namespace, so --cap-add NET_BIND_SERVICE
// cannot act on it; sandbox run says so instead of failing quietly.
func TestNamespaceCapsWarning(t *testing.T) {
	testutil.RequireRoot(t)
	r := sandbox(t, "--cap-add", "NET_BIND_SERVICE", "--", "true")
	if r.code != 0 || !strings.Contains(r.stderr, "CAP_NET_BIND_SERVICE: no effect on the sandbox's network") {
		t.Errorf("want a warning naming CAP_NET_BIND_SERVICE: %s", r)
	}
	if r := sandbox(t, "--cap-add", "CHOWN", "--", "true"); r.code != 0 || r.stderr != "" {
		t.Errorf("--cap-add CHOWN: %s", r)
	}
}

// TestCapAddOpensSyscalls: a capability granted by name opens, in the
// default seccomp profile, the syscalls it exists for when they stay
// inside the sandbox (chroot; tracing the sandbox's own processes, never
// pid 1, which shares sandbox run's memory), and sandbox run names those
// it leaves refused.
func TestCapAddOpensSyscalls(t *testing.T) {
	testutil.RequireRoot(t)
	chk := checker(t)
	for _, c := range []struct {
		caps []string
		cmd  string
		out  string
	}{
		{nil, "/checker syscall chroot /", "EPERM\n"},
		{[]string{"--cap-add", "SYS_CHROOT"}, "/checker syscall chroot /", "ok\n"},
		{[]string{"--cap-add", "SYS_CHROOT", "--cap-drop", "SYS_CHROOT"}, "/checker syscall chroot /", "EPERM\n"},
		{nil, "sleep 5 & /checker syscall ptrace-attach $!; kill $!", "EPERM\n"},
		{[]string{"--cap-add", "SYS_PTRACE"}, "sleep 5 & /checker syscall ptrace-attach $!; /checker syscall ptrace-attach 1; kill -9 $!", "ok\nEPERM\n"},
	} {
		args := append(append(append([]string{}, chk...), c.caps...), "--", "sh", "-c", c.cmd)
		if r := sandbox(t, args...); r.code != 0 || r.stdout != c.out || r.stderr != "" {
			t.Errorf("%v %q: want %q; got %s", c.caps, c.cmd, c.out, r)
		}
	}
	r := sandbox(t, append(chk, "--cap-add", "SYS_ADMIN", "--", "/checker", "syscall", "mount-tmpfs", "/tmp")...)
	if r.stdout != "EPERM\n" || !strings.Contains(r.stderr, "CAP_SYS_ADMIN: the default seccomp profile still refuses mount,") {
		t.Errorf("--cap-add SYS_ADMIN: want mount refused and named; got %s", r)
	}
	// Without a user namespace of its own the command would hold
	// CAP_SYS_PTRACE in the host's, over pid 1, which shares sandbox
	// run's memory: refused, whatever the profile.
	spec := printedSpec(t)
	dropUserNS(spec)
	path := writeSpec(t, spec)
	for _, prof := range []string{"default", "unconfined"} {
		r = sandbox(t, append(chk, "--spec", path, "--seccomp", prof, "--cap-add", "SYS_PTRACE", "--", "/checker", "syscall", "ptrace-attach", "1")...)
		if r.code != 125 || !strings.Contains(r.stderr, "CAP_SYS_PTRACE is refused for a sandbox with a pid-1 reaper and no user namespace of its own") {
			t.Errorf("--spec without a user namespace, --seccomp %s, --cap-add SYS_PTRACE: %s", prof, r)
		}
	}
}

// TestUserNamespaceOwner: a root caller's sandbox enters its user
// namespace last, and creates it as the host ids that namespace's root
// maps to: the kernel charges what the sandbox holds (pending signals,
// inotify instances, message queues) to the namespace's owner too, which
// must not be host root.
func TestUserNamespaceOwner(t *testing.T) {
	testutil.RequireRoot(t)
	tag := "45" + strconv.Itoa(os.Getpid())
	cmd := exec.Command(sandboxBin(t), "run", "--", "sleep", tag)
	startUntil(t, cmd, tag)
	defer func() { cmd.Process.Kill(); cmd.Wait(); waitGone(t, tag) }()
	pids := pidsWith(tag)
	if len(pids) != 1 {
		t.Fatalf("processes running sleep %s: %v", tag, pids)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pids[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const nsGetOwnerUID = 0xb704 // _IO(0xb7, 0x4)
	var owner uint32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), nsGetOwnerUID, uintptr(unsafe.Pointer(&owner))); e != 0 {
		t.Fatal(e)
	}
	if owner != 100000 {
		t.Errorf("the sandbox's user namespace is owned by host uid %d, want 100000 (what its root maps to)", owner)
	}
}

// TestHostIDs: with --host-ids auto, each running sandbox of a root
// caller maps its ids to a range of its own, which it holds until it
// ends, and which is free again the moment sandbox run dies; --host-ids
// BASE maps them from BASE. An unprivileged caller, whose sandbox maps
// only its own ids, and a --spec, which has its own mappings, are refused.
func TestHostIDs(t *testing.T) {
	if os.Geteuid() != 0 {
		r := sandbox(t, "--host-ids", "auto", "--", "true")
		if r.code != 125 || !strings.Contains(r.stderr, "--host-ids: only for a root caller") {
			t.Errorf("unprivileged --host-ids auto: %s", r)
		}
		return
	}
	// A range overlapping the default sandboxes' would make their root
	// one of this sandbox's users.
	if r := sandbox(t, "--host-ids", "99999", "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "overlaps host ids 100000-165535") {
		t.Errorf("--host-ids 99999: %s", r)
	}
	if len(hostids.Conflicts(100000, 65536, "/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid")) == 0 {
		// (Where a user's subordinate range starts there, it is refused
		// for that.)
		if r := sandbox(t, "--host-ids", "100000", "--", "true"); r.code != 0 {
			t.Errorf("--host-ids 100000, the default's own range: %s", r)
		}
	}
	const lockDir = "/run/sandbox/hostids"
	// hostMap is the uid_map of the process running sleep tag, as the
	// host sees it: "0 BASE 65536".
	hostMap := func(tag string) uint64 {
		t.Helper()
		pids := pidsWith(tag)
		if len(pids) != 1 {
			t.Fatalf("processes running sleep %s: %v", tag, pids)
		}
		for _, m := range []string{"uid_map", "gid_map"} {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pids[0], m))
			if err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(string(b))
			if len(f) != 3 || f[0] != "0" || f[2] != "65536" {
				t.Fatalf("%s of sleep %s: %q", m, tag, b)
			}
			if m == "gid_map" {
				base, _ := strconv.ParseUint(f[1], 10, 32)
				return base
			}
		}
		return 0
	}
	start := func(tag string, args ...string) *exec.Cmd {
		cmd := exec.Command(sandboxBin(t), append(append([]string{"run"}, args...), "--", "sleep", tag)...)
		startUntil(t, cmd, tag)
		return cmd
	}
	tagA, tagB := "46"+strconv.Itoa(os.Getpid()), "47"+strconv.Itoa(os.Getpid())
	a := start(tagA, "--host-ids", "auto")
	defer func() { a.Process.Kill(); a.Wait(); waitGone(t, tagA) }()
	b := start(tagB, "--host-ids", "auto")
	defer func() { b.Process.Kill(); b.Wait(); waitGone(t, tagB) }()
	baseA, baseB := hostMap(tagA), hostMap(tagB)
	for _, base := range []uint64{baseA, baseB} {
		if base < 0x70000000 || base >= 0x7FFE0000 || base%65536 != 0 {
			t.Errorf("--host-ids auto mapped to %d, outside the pool", base)
		}
		if _, err := os.Stat(filepath.Join(lockDir, strconv.FormatUint(base, 10))); err != nil {
			t.Errorf("the lock of range %d while its sandbox runs: %v", base, err)
		}
	}
	if baseA == baseB {
		t.Fatalf("two running sandboxes share host ids %d", baseA)
	}
	// Its root's ids own its user namespace (see TestUserNamespaceOwner).
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pidsWith(tagA)[0]))
	if err != nil {
		t.Fatal(err)
	}
	const nsGetOwnerUID = 0xb704
	var owner uint32
	_, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), nsGetOwnerUID, uintptr(unsafe.Pointer(&owner)))
	f.Close()
	if e != 0 || uint64(owner) != baseA {
		t.Errorf("user namespace owner %d (%v), want %d", owner, e, baseA)
	}

	// A sandbox that ends releases its range and removes the lock.
	a.Process.Signal(unix.SIGTERM)
	a.Wait()
	waitGone(t, tagA)
	if _, err := os.Stat(filepath.Join(lockDir, strconv.FormatUint(baseA, 10))); !os.IsNotExist(err) {
		t.Errorf("the lock of range %d after its sandbox ended: %v", baseA, err)
	}
	// A sandbox run killed outright leaves its lock file, with its pid 1
	// recorded (see hostids.Reservation.Hold), but not its lock: once that
	// pid 1 is gone too, the range is free.
	b.Process.Kill()
	b.Wait()
	waitGone(t, tagB)
	lockB := filepath.Join(lockDir, strconv.FormatUint(baseB, 10))
	fd, err := unix.Open(lockB, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("the lock file of a killed sandbox run: %v", err)
	}
	rec := make([]byte, 128)
	n, _ := unix.Pread(fd, rec, 0)
	if len(strings.Fields(string(rec[:max(n, 0)]))) != 3 {
		t.Errorf("the lock file of a sandbox that ran: %q, want its holder, its pid 1 and that one's start time", rec[:max(n, 0)])
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Errorf("the range of a killed sandbox run is still locked: %v", err)
	} else {
		os.Remove(lockB) // while locked, as Release does
	}
	unix.Close(fd)

	// --host-ids BASE: a range nobody has; refused where an account, a
	// subordinate range or the auto pool has it.
	free := freeHostBase(t)
	d := start(tagB, "--host-ids", strconv.FormatUint(free, 10))
	defer func() { d.Process.Kill(); d.Wait(); waitGone(t, tagB) }()
	if got := hostMap(tagB); got != free {
		t.Errorf("--host-ids %d mapped to %d", free, got)
	}
	for _, c := range []struct{ base, msg string }{
		{"1", "(id 1 in /etc/passwd)"},
		{strconv.Itoa(0x70000000 + 5*65536), "are for --host-ids auto"},
		{strconv.Itoa(0x70000000 - 100), "are for --host-ids auto"},
	} {
		if r := sandbox(t, "--host-ids", c.base, "--", "true"); r.code != 125 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("--host-ids %s: want exit 125 with %q; got %s", c.base, c.msg, r)
		}
	}
	// explain and --print-spec run nothing, so they reserve nothing.
	before, _ := os.ReadDir(lockDir)
	out, err := exec.Command(sandboxBin(t), "explain", "--host-ids", "auto", "--", "true").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "the range is chosen when the sandbox runs") ||
		!strings.Contains(string(out), strconv.Itoa(0x70000000)) {
		t.Errorf("explain --host-ids auto: %v\n%s", err, out)
	}
	out, err = exec.Command(sandboxBin(t), "run", "--print-spec", "--host-ids", "auto", "--", "true").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "the range is chosen when the sandbox runs") {
		t.Errorf("run --print-spec --host-ids auto: %v\n%s", err, out)
	}
	if after, _ := os.ReadDir(lockDir); len(after) != len(before) {
		t.Errorf("explain or --print-spec took a range: %v, then %v", before, after)
	}

	spec := filepath.Join(t.TempDir(), "config.json")
	out, err = exec.Command(sandboxBin(t), "run", "--print-spec", "--", "true").Output()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(spec, out, 0o644)
	r := sandbox(t, "--spec", spec, "--host-ids", "auto", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "--host-ids: not with --spec") {
		t.Errorf("--spec with --host-ids: %s", r)
	}
}

// TestHostIDsQuotas: sandboxes with ranges of their own do not share the
// per-user quotas the kernel keeps for their ids: one that takes every
// inotify instance its host uid may have leaves a --host-ids auto sandbox
// its own, while another sandbox on the same range finds none.
func TestHostIDsQuotas(t *testing.T) {
	testutil.RequireRoot(t)
	chk := checker(t)
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_instances")
	if err != nil {
		t.Fatal(err)
	}
	quota := strings.TrimSpace(string(b))
	// --nofile as high as this caller may go: the hog must stop at the
	// quota, not at its descriptors.
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	nofile := min(rl.Max, 1<<20)
	if q, _ := strconv.ParseUint(quota, 10, 64); q+8 > nofile {
		testutil.Skip(t, fmt.Sprintf("fs.inotify.max_user_instances (%s) is not below the descriptors a sandbox may have (%d)", quota, nofile))
	}
	base := strconv.FormatUint(freeHostBase(t), 10)
	tag := "48" + strconv.Itoa(os.Getpid()) + "s"
	hog := exec.Command(sandboxBin(t), append(append([]string{"run", "--host-ids", base, "--nofile", strconv.FormatUint(nofile, 10)}, chk...),
		"--", "/checker", "inotify-hog", tag)...)
	out, err := hog.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	startUntil(t, hog, tag)
	defer func() { hog.Process.Kill(); hog.Wait(); waitGone(t, tag) }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if f := strings.Fields(line); len(f) != 2 || f[0] != quota || f[1] != "EMFILE" {
		t.Fatalf("the hog said %q, want %s EMFILE (fs.inotify.max_user_instances)", line, quota)
	}
	inotify := append(append([]string(nil), chk...), "--", "/checker", "syscall", "raw", strconv.Itoa(unix.SYS_INOTIFY_INIT1), "0")
	if r := sandbox(t, append([]string{"--host-ids", "auto"}, inotify...)...); r.stdout != "ok\n" {
		t.Errorf("inotify_init1 in a --host-ids auto sandbox: %s", r)
	}
	if r := sandbox(t, append([]string{"--host-ids", base}, inotify...)...); r.stdout != "EMFILE\n" {
		t.Errorf("inotify_init1 in another sandbox on the hog's range %s: %s", base, r)
	}
}

// freeHostBase is a range below the auto pool that no account or
// subordinate range of this host has, and apart from the default
// sandboxes' 100000-165535: from systemd's unused 131072-524287 above
// that, else from its container ranges.
func freeHostBase(t *testing.T) uint64 {
	t.Helper()
	for base := uint64(0x30000); base < 0x70000000; base += 65536 {
		if len(hostids.Conflicts(base, 65536, "/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid")) == 0 {
			return base
		}
	}
	t.Fatal("no free range of host ids below the auto pool")
	return 0
}

// TestCallerSessionUntouched: pid 1 shares the caller's ids when the caller
// is unprivileged, so the command may write /proc/1/autogroup; pid 1 is in
// a session of its own, so that reaches no process of the caller's. The
// files of pid 1 that act on the memory it shares with sandbox run are out
// of reach.
func TestCallerSessionUntouched(t *testing.T) {
	testutil.RequireUserNS(t)
	before, err := os.ReadFile("/proc/self/autogroup")
	if err != nil {
		t.Logf("no autogroups on this host (%v): nothing to reach", err)
		return
	}
	r := sandbox(t, "--", "sh", "-c", "echo 19 >/proc/1/autogroup; cat /proc/1/autogroup")
	if r.code != 0 {
		t.Errorf("%s", r)
	}
	if after, _ := os.ReadFile("/proc/self/autogroup"); string(after) != string(before) {
		t.Errorf("the caller's autogroup became %q (was %q)", after, before)
	}
	// Nor, once the command runs, sandbox run's own settings through the
	// memory pid 1 shares with it.
	r = sandbox(t, "--", "sh", "-c", "sleep 0.1; for f in oom_score_adj coredump_filter clear_refs; do echo 1 2>/dev/null >/proc/1/$f && echo wrote $f; done; true")
	if r.code != 0 || r.stdout != "" {
		t.Errorf("the command changed sandbox run through /proc/1: %s", r)
	}
}

// TestDieWithParent: with --die-with-parent, the death of the process that
// started sandbox run (a shell, killed with SIGKILL) ends the sandbox;
// without it, sandbox run and its command outlive that shell.
func TestDieWithParent(t *testing.T) {
	testutil.RequireUserNS(t)
	for _, die := range []bool{true, false} {
		tag := "45" + strconv.Itoa(os.Getpid()) + "1s"
		if !die {
			tag = "46" + strconv.Itoa(os.Getpid()) + "1s"
		}
		args := "run -- sleep " + tag
		if die {
			args = "run --die-with-parent -- sleep " + tag
		}
		sh := exec.Command("sh", "-c", `"$0" `+args+` & wait`, sandboxBin(t))
		startUntil(t, sh, tag)
		sh.Process.Kill()
		sh.Wait()
		if die {
			waitGone(t, tag)
			continue
		}
		time.Sleep(200 * time.Millisecond)
		pids := pidsWith(tag)
		if len(pids) == 0 {
			t.Errorf("without --die-with-parent the command died with the shell")
		}
		for _, p := range testutil.Processes(func(c string) bool { return strings.Contains(c, tag) }) {
			syscallKill(p)
		}
		waitGone(t, tag)
	}
}

// TestSignalForwarding: a signal sent to sandbox run reaches the command
// (through pid 1), the command's handler runs, and sandbox run reports the
// command's own exit.
func TestSignalForwarding(t *testing.T) {
	testutil.RequireUserNS(t)
	for name, sig := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "USR1": syscall.SIGUSR1} {
		t.Run(name, func(t *testing.T) {
			// If the signal never reaches the command, it loops on until
			// startReady's watchdog ends it.
			cmd, out, status := startReady(t, "trap 'echo caught; exit 7' "+name+"; echo ready; while :; do sleep 0.05; done")
			cmd.Process.Signal(sig)
			rest := make([]byte, 64)
			m, _ := out.Read(rest)
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
				t.Errorf("want exit 7 from the command's handler, got %v", err)
			}
			if string(rest[:m]) != "caught\n" {
				t.Errorf("the command's handler did not run: %q", rest[:m])
			}
			var rec record
			if b, err := os.ReadFile(status); err != nil || json.Unmarshal(b, &rec) != nil || rec.Status != "exit" || rec.ExitCode != 7 {
				t.Errorf("want record {exit, 7}, got %+v (%v)", rec, err)
			}
		})
	}
}

// startReady starts `sandbox run --status-json STATUS -- sh -c script`
// and returns once the command printed "ready"; a watchdog kills sandbox
// run after 20 s, so that a signal that never arrives fails the test
// instead of hanging it.
func startReady(t *testing.T, script string) (cmd *exec.Cmd, out io.Reader, status string) {
	t.Helper()
	status = filepath.Join(t.TempDir(), "status.json")
	cmd = exec.Command(sandboxBin(t), "run", "--status-json", status, "--", "sh", "-c", script)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	t.Cleanup(func() { watchdog.Stop() })
	buf := make([]byte, 6)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("want ready, got %q %v", buf, err)
	}
	return cmd, stdout, status
}

// TestTerminalSignals: Ctrl-C ends a command that waits for a child (the
// terminal's SIGINT reaches the command's whole process group, not only
// the shell), and Ctrl-Z stops the command along with sandbox run until
// SIGCONT.
func TestTerminalSignals(t *testing.T) {
	testutil.RequireUserNS(t)
	start := startReady
	t.Run("INT", func(t *testing.T) {
		// Once the child runs: a SIGINT that lands while the shell forks
		// reaches only the shell, which defers it until its child exits
		// (dash does so in a terminal too).
		tag := "47" + strconv.Itoa(os.Getpid()) + "1s"
		cmd, out, status := start(t, "echo ready; sleep "+tag+"; echo after")
		for len(testutil.Processes(func(c string) bool { return c == "sleep\x00"+tag+"\x00" })) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGINT)
		rest, _ := io.ReadAll(out)
		cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGINT) || len(rest) != 0 {
			t.Errorf("exit %d, output %q; want 130 at once", code, rest)
		}
		var rec record
		if b, err := os.ReadFile(status); err != nil || json.Unmarshal(b, &rec) != nil || rec.Status != "signal" || rec.Signal != int(syscall.SIGINT) {
			t.Errorf("want record {signal, 2}, got %+v (%v)", rec, err)
		}
	})
	t.Run("TSTP", func(t *testing.T) {
		cmd, out, _ := start(t, "echo ready; while :; do echo tick; sleep 0.05; done")
		ticks := make(chan int, 1024)
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := out.Read(buf)
				if err != nil {
					close(ticks)
					return
				}
				ticks <- n
			}
		}()
		drain := func(d time.Duration) (n int) {
			end := time.After(d)
			for {
				select {
				case m := <-ticks:
					n += m
				case <-end:
					return n
				}
			}
		}
		cmd.Process.Signal(syscall.SIGTSTP)
		deadline := time.Now().Add(5 * time.Second)
		for procState(cmd.Process.Pid) != "T" {
			if time.Now().After(deadline) {
				t.Fatalf("sandbox run is %q after SIGTSTP, want stopped", procState(cmd.Process.Pid))
			}
			time.Sleep(10 * time.Millisecond)
		}
		drain(300 * time.Millisecond)
		if n := drain(500 * time.Millisecond); n != 0 {
			t.Errorf("the command wrote %d bytes while stopped", n)
		}
		cmd.Process.Signal(syscall.SIGCONT)
		if n := drain(500 * time.Millisecond); n == 0 {
			t.Errorf("the command did not resume after SIGCONT")
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
}

// procState is the state letter of /proc/PID/stat.
func procState(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}

// startUntil starts cmd and waits until a process whose command line
// holds tag runs (it ends cmd and fails the test after 10 s).
func startUntil(t *testing.T, cmd *exec.Cmd, tag string) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(pidsWith(tag)) == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("%v: nothing with %s ever ran", cmd.Args, tag)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitGone(t *testing.T, tag string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := pidsWith(tag)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range pids {
				syscallKill(p)
			}
			t.Fatalf("processes %v survived the sandbox", pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pidsWith lists the processes whose command line holds arg, but not
// sandbox run itself.
func pidsWith(arg string) []int {
	return testutil.Processes(func(c string) bool { return strings.Contains(c, arg) && !strings.Contains(c, "sandbox") })
}

// TestUnprivilegedLimits: without a writable cgroup the record lists what
// is not enforced, and --strict refuses to run.
func TestUnprivilegedLimits(t *testing.T) {
	testutil.RequireNonRoot(t)
	testutil.RequireUserNS(t)
	r := sandbox(t, "--memory", "64m", "--pids", "10", "--cpus", "0.5", "--", "true")
	if r.code != 0 || r.rec == nil || len(r.rec.Unenforced) < 3 {
		t.Errorf("want the run with memory, pids and cpu listed unenforced: %s", r)
	}
	for _, w := range []string{"warning: not enforced: memory", "warning: not enforced: pids", "warning: not enforced: cpu bandwidth"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q: %s", w, r)
		}
	}
	// Device rules need a BPF program, which only host root may load:
	// with the sandbox's user namespace they are listed, not refused.
	spec := resourcesSpec(t, `{"devices": [{"allow": false, "access": "rwm"}]}`, false)
	r = sandbox(t, "--spec", spec, "--", "true")
	if r.code != 0 || r.rec == nil || len(r.rec.Unenforced) != 1 || !strings.HasPrefix(r.rec.Unenforced[0], "device rules") {
		t.Errorf("device rules, unprivileged: %s", r)
	}
	r = sandbox(t, "--strict", "--memory", "64m", "--", "true")
	if r.code != 125 || r.rec == nil || r.rec.Status != "setup-error" || len(r.rec.Unenforced) == 0 {
		t.Errorf("--strict: %s", r)
	}
	// The pid-1 reaper shares this caller's memory, which stays dumpable:
	// CAP_SYS_PTRACE would open it through /proc/1/mem.
	r = sandbox(t, "--cap-add", "SYS_PTRACE", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "/proc/1/mem") {
		t.Errorf("--cap-add SYS_PTRACE as an unprivileged caller: %s", r)
	}
	// The limits that need no cgroup still hold.
	r = sandbox(t, "--wall-time", "0.3", "--", "sleep", "30")
	want(t, r, 137, "wall-limit")
	// Even when the command, which shares pid 1's ids here, leaves pid 1
	// no room to queue the request to end the tree.
	r = sandbox(t, "--wall-time", "0.5", "--", "sh", "-c", "prlimit --pid 1 --sigpending=0:0; sleep 30")
	want(t, r, 137, "wall-limit")
	r = sandbox(t, "--output-limit", "100", "--", "yes")
	want(t, r, 137, "output-limit")
	// Read-only mounts an unprivileged caller makes are not locked: with
	// CAP_SYS_ADMIN and no seccomp profile the command can remount them,
	// and sandbox run says so.
	dir := t.TempDir()
	r = sandbox(t, "--seccomp", "unconfined", "--cap-add", "SYS_ADMIN", "--ro-bind", dir+":/data", "--", "true")
	if r.code != 0 || !strings.Contains(r.stderr, "can remount read-only mounts read-write") {
		t.Errorf("no warning for CAP_SYS_ADMIN without seccomp: %s", r)
	}
}

// TestTerminalRestored: the command, in a session of its own, may change
// the settings of the caller's terminal on its stdin; sandbox run puts
// them back when it ends.
func TestTerminalRestored(t *testing.T) {
	testutil.RequireUserNS(t)
	_, pts := testutil.OpenPty(t)
	before, err := unix.IoctlGetTermios(int(pts.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if before.Lflag&unix.ECHO == 0 || before.Lflag&unix.ICANON == 0 {
		t.Fatalf("a new pty without echo or icanon: %#x", before.Lflag)
	}
	cmd := exec.Command(sandboxBin(t), "run", "--", "sh", "-c", "stty -echo -icanon && stty")
	cmd.Stdin = pts
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(string(out), "-echo") {
		t.Fatalf("the command could not change its terminal (so the test proves nothing): %s", out)
	}
	after, err := unix.IoctlGetTermios(int(pts.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if *after != *before {
		t.Errorf("terminal settings after the run %+v, want %+v", after, before)
	}

	// Output the command suspended (tcflow TCOOFF) is restarted: the
	// caller's next write must not block.
	cmd = exec.Command(sandboxBin(t), append(append([]string{"run"}, checker(t)...), "--", "/checker", "syscall", "ioctl", "0", strconv.Itoa(unix.TCXONC), strconv.Itoa(unix.TCOOFF))...)
	cmd.Stdin = pts
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Fatalf("TCOOFF: %v: %q", err, out)
	}
	wrote := make(chan error, 1)
	go func() { _, err := pts.Write([]byte("x")); wrote <- err }()
	select {
	case err := <-wrote:
		if err != nil {
			t.Errorf("write after the run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("the caller's terminal is still suspended after the run")
		unix.IoctlSetInt(int(pts.Fd()), unix.TCXONC, unix.TCOON)
		<-wrote
	}
}

// TestOutputLimitStdin: with --output-limit, a terminal or a socket on
// stdin reaches the command through a pipe, so it cannot write there
// around the limit (nor reopen it through /proc/self/fd/0 for writing);
// what is typed or sent still reaches it.
func TestOutputLimitStdin(t *testing.T) {
	testutil.RequireUserNS(t)
	const script = `[ -t 0 ] && echo tty; { head -c 3000 /dev/zero | tr '\0' B >&4; } 4<&0 2>/dev/null; ` +
		`{ head -c 3000 /dev/zero | tr '\0' C >&3; } 3>/proc/self/fd/0 2>/dev/null; ` +
		`while read x; do case $x in *hi*|*hello*) echo got ${x##*C}; break;; esac; done`
	run := func(t *testing.T, stdin *os.File) string {
		cmd := exec.Command(sandboxBin(t), "run", "--output-limit", "100", "--", "sh", "-c", script)
		cmd.Stdin = stdin
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.Output(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatal("sandbox run hung")
		}
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return string(out)
	}
	leaked := func(b []byte) bool { return bytes.ContainsAny(b, "BC") }

	t.Run("terminal", func(t *testing.T) {
		ptm, pts := testutil.OpenPty(t)
		var seen bytes.Buffer
		var mu sync.Mutex
		go func() {
			buf := make([]byte, 4096)
			for {
				n, err := ptm.Read(buf)
				mu.Lock()
				seen.Write(buf[:n])
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
		ptm.Write([]byte("hello\n"))
		if out := run(t, pts); out != "got hello\n" {
			t.Errorf("stdout %q, want got hello", out)
		}
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if leaked(seen.Bytes()) {
			t.Errorf("the command wrote %d bytes to the terminal", bytes.Count(seen.Bytes(), []byte("B"))+bytes.Count(seen.Bytes(), []byte("C")))
		}
	})
	t.Run("socket", func(t *testing.T) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		ours, theirs := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
		defer ours.Close()
		ours.Write([]byte("hi\n"))
		out := run(t, theirs)
		theirs.Close()
		if out != "got hi\n" {
			t.Errorf("stdout %q, want got hi", out)
		}
		ours.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		b, _ := io.ReadAll(ours)
		if leaked(b) {
			t.Errorf("the command wrote %d bytes to the socket", len(b))
		}
	})
}

func TestDoctorAndExplain(t *testing.T) {
	testutil.RequireUserNS(t)
	out, err := exec.Command(sandboxBin(t), "doctor").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok    default sandbox") {
		t.Errorf("doctor: %v\n%s", err, out)
	}
	out, err = exec.Command(sandboxBin(t), "explain", "--", "true").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "pivot_root") || !strings.Contains(string(out), "seccomp(") {
		t.Errorf("explain: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		if !strings.Contains(line, "#") {
			t.Errorf("step without a meaning: %q", line)
		}
	}
}
