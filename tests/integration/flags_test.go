//go:build linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/internal/testutil"
)

// TestMountOrder: mount flags apply in the order given, so a mount may go
// inside an earlier one's destination: a writable bind inside a read-only
// one, a bind inside a tmpfs.
func TestMountOrder(t *testing.T) {
	testutil.RequireUserNS(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	rw := filepath.Join(dir, "rw")
	os.Mkdir(rw, 0o777)
	os.Chmod(rw, 0o777) // the sandbox's root is another uid for a root caller
	r := sandbox(t, "--ro-bind", dir+":/w", "--bind", rw+":/w/rw", "--", "sh", "-c", "touch /w/rw/new && ! touch /w/ro 2>/dev/null && echo ok")
	if r.code != 0 || r.stdout != "ok\n" {
		t.Errorf("--bind inside --ro-bind: %s", r)
	}
	if _, err := os.Stat(filepath.Join(rw, "new")); err != nil {
		t.Errorf("the write did not reach the bound directory: %v", err)
	}
	r = sandbox(t, "--tmpfs", "/home", "--ro-bind", dir+":/home/u/src", "--", "ls", "/home/u/src")
	if r.code != 0 || !strings.Contains(r.stdout, "rw") {
		t.Errorf("--ro-bind inside --tmpfs: %s", r)
	}
	// The other way round the outer mount would hide the inner one (a
	// --bind over a --ro-bind's parent would make it writable): refused.
	for _, args := range [][]string{
		{"--ro-bind", dir + ":/home/u/src", "--tmpfs", "/home"},
		{"--ro-bind", rw + ":/w/rw", "--bind", dir + ":/w"},
	} {
		r = sandbox(t, append(args, "--", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, "it would hide "+args[0]+" "+args[1]+", given before it") {
			t.Errorf("%v: %s", args, r)
		}
	}
}

// TestTmpfsOwner: tmpfs mounts belong to the sandbox's root (as they
// would made inside its user namespace), for a root caller too, whose
// setup makes them before entering it; mode= applies.
func TestTmpfsOwner(t *testing.T) {
	testutil.RequireUserNS(t)
	r := sandbox(t, "--tmpfs", "/x:mode=700,size=1m", "--", "sh", "-c", "stat -c '%u:%g %a' /x /tmp /dev; touch /x/f && echo wrote")
	if r.code != 0 || r.stdout != "0:0 700\n0:0 1777\n0:0 755\nwrote\n" {
		t.Errorf("tmpfs owners: %s", r)
	}
	// Owners among the sandbox's ids (0-65535 for a root caller, 0 alone
	// for an unprivileged one).
	id := "0"
	if os.Geteuid() == 0 {
		id = "1000"
	}
	r = sandbox(t, "--tmpfs", "/x:noexec,uid="+id+",gid="+id+",nr_inodes=100", "--", "sh", "-c", "stat -c '%u:%g' /x; grep ' /x ' /proc/self/mounts")
	if r.code != 0 || !strings.HasPrefix(r.stdout, id+":"+id+"\n") || !strings.Contains(r.stdout, "noexec") {
		t.Errorf("--tmpfs options: %s", r)
	}
	r = sandbox(t, "--tmpfs", "/x:uid=70000", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "--tmpfs /x:uid=70000: uid 70000 is not mapped in the sandbox's user namespace") {
		t.Errorf("--tmpfs with an unmapped owner: %s", r)
	}
	for _, bad := range []string{"/x:bogus", "/x:mode=999", "/x:size=lots", "x", "/x:suid", "/x:dev", "/x:exec", "/x:uid=me"} {
		if r := sandbox(t, "--tmpfs", bad, "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "--tmpfs "+bad+":") {
			t.Errorf("--tmpfs %s: %s", bad, r)
		}
	}
}

// TestOutputLimitOrder: with stdout and stderr on one file (2>&1),
// --output-limit keeps the first bytes in the order they were written.
func TestOutputLimitOrder(t *testing.T) {
	testutil.RequireUserNS(t)
	for range 5 {
		out, _ := exec.Command(sandboxBin(t), "run", "--output-limit", "10", "--", "sh", "-c", "echo 0123456789abcdef; echo more >&2").CombinedOutput()
		if string(out) != "0123456789" {
			t.Fatalf("got %q, want the first 10 bytes", out)
		}
	}
}

// TestEnvPassOn: --env K passes on sandbox run's own K when it is set,
// and nothing when it is not; --tty gives TERM (the caller's, or xterm).
func TestEnvPassOn(t *testing.T) {
	testutil.RequireUserNS(t)
	cmd := exec.Command(sandboxBin(t), "run", "--env", "SANDBOX_TEST_FOO", "--env", "SANDBOX_TEST_UNSET", "--env", "B=2", "--",
		"sh", "-c", `echo "$SANDBOX_TEST_FOO ${SANDBOX_TEST_UNSET-unset} $B ${TERM-none}"`)
	cmd.Env = append(os.Environ(), "SANDBOX_TEST_FOO=a b", "TERM=vt100")
	out, err := cmd.Output()
	if err != nil || string(out) != "a b unset 2 none\n" {
		t.Errorf("%v: %q", err, out)
	}
	spec := printedSpec(t, "--tty")
	env, _ := spec["process"].(map[string]any)["env"].([]any)
	want := "TERM=" + os.Getenv("TERM")
	if term := os.Getenv("TERM"); term == "" || term == "dumb" {
		want = "TERM=xterm"
	}
	if !slices.Contains(env, any(want)) {
		t.Errorf("--tty env %v, want %s", env, want)
	}
}

// TestBindUnwritableWarning: a root caller's writable bind that the
// sandbox's ids cannot write is named, with the fix.
func TestBindUnwritableWarning(t *testing.T) {
	testutil.RequireUserNS(t)
	testutil.RequireRoot(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	r := sandbox(t, "--bind", dir+":/rw", "--", "sh", "-c", "touch /rw/a 2>/dev/null || echo refused")
	if r.stdout != "refused\n" || !strings.Contains(r.stderr, "the command runs as host uid 100000 there, so it cannot write it (chown 100000:100000") {
		t.Errorf("root-owned 0755 bind: %s", r)
	}
	os.Chmod(dir, 0o777)
	r = sandbox(t, "--bind", dir+":/rw", "--", "touch", "/rw/a")
	if r.code != 0 || strings.Contains(r.stderr, "cannot write") {
		t.Errorf("0777 bind: %s", r)
	}
}

// TestStatusAfterBadFlag: a --status-json after a bad flag gets the record;
// one among the command's own arguments is left alone.
func TestStatusAfterBadFlag(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o644)
	cmd := exec.Command(sandboxBin(t), "run", "--memory", "10x", "sh", "-c", "true", "--status-json", victim)
	cmd.Dir = dir
	cmd.Run()
	cmd = exec.Command(sandboxBin(t), "run", "--hostname", "--status-json", "--memory", "abc", "--", "true")
	cmd.Dir = dir
	cmd.Run()
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("a command argument after a bad flag was taken for --status-json: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "--memory")); err == nil {
		t.Errorf("another flag's value was taken for --status-json's")
	}
	rec := filepath.Join(dir, "rec.json")
	out, _ := exec.Command(sandboxBin(t), "run", "--tty", "--host-ids=a:-b", "--status-json", rec, "--", "true").CombinedOutput()
	if b, _ := os.ReadFile(rec); !strings.Contains(string(b), "setup-error") || !strings.Contains(string(out), `"a:-b"`) {
		t.Errorf("record %q; message %s (the value quoted as given)", b, out)
	}
}

// TestRootDir: --root runs the command in a directory of the caller's,
// bound read-only, nosuid and nodev (submounts too), with the sandbox's
// /proc, /dev and /tmp and none of the host's /usr, /bin, /lib*, /etc;
// nothing is written to the directory.
func TestRootDir(t *testing.T) {
	testutil.RequireUserNS(t)
	root := t.TempDir()
	os.Chmod(root, 0o755)
	for _, d := range []string{"proc", "dev", "tmp", "sub", "noproc"} {
		os.Mkdir(filepath.Join(root, d), 0o755)
	}
	b, err := os.ReadFile(testutil.Checker(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "checker"), b, 0o755)
	r := sandbox(t, "--root", root, "--", "/checker", "ls", "/")
	if r.code != 0 || r.stdout != "checker dev noproc proc sub tmp\n" {
		t.Errorf("ls / under --root: %s", r)
	}
	r = sandbox(t, "--root", root, "--", "/checker", "write", "/new", "x")
	if r.stdout != "EROFS\n" {
		t.Errorf("a write to --root's directory: %s", r)
	}
	r = sandbox(t, "--root", root, "--", "/checker", "write", "/tmp/new", "x")
	if r.code != 0 || r.stdout != "ok\n" {
		t.Errorf("a write to /tmp under --root: %s", r)
	}
	if os.Geteuid() == 0 {
		// A device node in the image, and a writable filesystem mounted
		// inside it on the host: neither is usable from inside.
		if err := unix.Mknod(filepath.Join(root, "zero"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 5))); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(root, "zero"), 0o666)
		if err := unix.Mount("tmpfs", filepath.Join(root, "sub"), "tmpfs", 0, "mode=777"); err != nil {
			t.Fatal(err)
		}
		defer unix.Unmount(filepath.Join(root, "sub"), unix.MNT_DETACH)
		if r = sandbox(t, "--root", root, "--", "/checker", "cat", "/zero"); r.stdout != "error EACCES\n" {
			t.Errorf("a device node in --root's directory: %s", r)
		}
		if r = sandbox(t, "--root", root, "--", "/checker", "write", "/sub/x", "y"); r.stdout != "EROFS\n" {
			t.Errorf("a submount in --root's directory: %s", r)
		}
	}
	link := filepath.Join(t.TempDir(), "root-link")
	os.Symlink("/", link)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--root", filepath.Join(root, "missing")}, "--root " + filepath.Join(root, "missing") + ": lstat"},
		{[]string{"--root", filepath.Join(root, "checker")}, "not a directory"},
		{[]string{"--root", "/"}, "the host's own root"},
		{[]string{"--root", "/proc/self/root"}, "the host's own root"},
		{[]string{"--root", link}, "the host's own root"},
		{[]string{"--root", filepath.Join(root, "noproc")}, "has no directory /proc"},
		{[]string{"--root", root, "--spec", "/dev/null"}, "--root: not with --spec"},
		{[]string{"--root", root, "--ro-bind", "/etc:/etc"}, "--ro-bind /etc:/etc: destination /etc is not in --root " + root + ", which is read-only: make it there"},
	} {
		r := sandbox(t, append(c.args, "--", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("%v: %s", c.args, r)
		}
	}
	// Nobody but root and the caller may be able to change the image
	// while the sandbox is set up.
	os.Chmod(root, 0o777)
	if r := sandbox(t, "--root", root, "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "is writable by others") {
		t.Errorf("a root directory writable by others: %s", r)
	}
	os.Chmod(root, 0o755)
	if os.Geteuid() == 0 {
		os.Chown(root, 12345, 12345)
		if r := sandbox(t, "--root", root, "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "belongs to uid 12345") {
			t.Errorf("a root directory of another user's: %s", r)
		}
		os.Chown(root, 0, 0)
		other := filepath.Join(t.TempDir(), "other-link")
		os.Symlink(root, other)
		os.Lchown(other, 12345, 12345)
		if r := sandbox(t, "--root", other, "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "owned by uid 12345") {
			t.Errorf("a symbolic link of another user's to the root: %s", r)
		}
	}
	// A mount point that is a symbolic link is refused, not followed.
	os.Remove(filepath.Join(root, "tmp"))
	os.Symlink(".", filepath.Join(root, "tmp"))
	if r := sandbox(t, "--root", root, "--", "true"); r.code != 125 || !strings.Contains(r.stderr, "has no directory /tmp") {
		t.Errorf("a symbolic link for /tmp: %s", r)
	}
}

// TestBindVariants: --ro-bind-try skips a missing source; --dev-bind
// leaves device nodes usable where --bind makes them unusable (nodev).
func TestBindVariants(t *testing.T) {
	testutil.RequireUserNS(t)
	r := sandbox(t, "--ro-bind-try", "/nonexistent/src:/x", "--ro-bind-try", "/etc/hostname:/y", "--", "sh", "-c", "test -e /x || echo skipped; test -s /y && echo bound")
	if r.code != 0 || r.stdout != "skipped\nbound\n" {
		t.Errorf("--ro-bind-try: %s", r)
	}
	r = sandbox(t, "--bind", "/dev/null:/n", "--", "sh", "-c", "echo x > /n 2>/dev/null || echo nodev")
	if r.stdout != "nodev\n" {
		t.Errorf("--bind of a device: %s", r)
	}
	r = sandbox(t, "--dev-bind", "/dev/null:/n", "--", "sh", "-c", "echo x > /n && echo wrote")
	if r.code != 0 || r.stdout != "wrote\n" {
		t.Errorf("--dev-bind of a device: %s", r)
	}
	r = sandbox(t, "--ro-bind-try", "/nonexistent:/proc", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "destination /proc is the sandbox's own procfs") {
		t.Errorf("--ro-bind-try of a missing source onto /proc: %s", r)
	}
	r = sandbox(t, "--ro-bind-try", "onlyone", "--", "true")
	if r.code != 125 || !strings.Contains(r.stderr, "--ro-bind-try onlyone: want SRC:DST") {
		t.Errorf("--ro-bind-try with a bad argument: %s", r)
	}
}

// TestStatusToStdout: --status-json /dev/stdout writes the record after
// the command's output and an empty line; - and /dev/stderr to stderr.
func TestStatusToStdout(t *testing.T) {
	testutil.RequireUserNS(t)
	for _, c := range []struct {
		path   string
		stdout bool
	}{{"/dev/stdout", true}, {"/dev/stderr", false}, {"-", false}} {
		cmd := exec.Command(sandboxBin(t), "run", "--status-json", c.path, "--", "sh", "-c", "echo out")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v %s", c.path, err, stderr.String())
		}
		where, other := stdout.String(), stderr.String()
		if !c.stdout {
			where, other = other, where
		}
		if !strings.Contains(where, `"status": "ok"`) || strings.Contains(other, `"status"`) {
			t.Errorf("--status-json %s: stdout %q, stderr %q", c.path, stdout.String(), stderr.String())
		}
		if c.stdout && !strings.HasPrefix(where, "out\n\n{") {
			t.Errorf("--status-json /dev/stdout: the record does not follow the output: %q", where)
		}
	}
}
