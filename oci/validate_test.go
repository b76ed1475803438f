//go:build linux

package oci_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/spawn"
)

// TestValidationListsEveryError feeds a spec with many mistakes: the error
// must name each field path, and nothing may be left behind.
func TestValidationListsEveryError(t *testing.T) {
	fdsBefore := countFds(t)
	mountsBefore, _ := os.ReadFile("/proc/self/mountinfo")
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/true"}})
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"}, specs.LinuxNamespace{Type: specs.PIDNamespace},
		specs.LinuxNamespace{Type: specs.TimeNamespace})
	s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 10}}
	s.Mounts = append(s.Mounts,
		specs.Mount{Destination: "relative/path", Type: "tmpfs"},
		specs.Mount{Destination: "/bindless", Type: "bind"},
		specs.Mount{Destination: "/remount", Type: "tmpfs", Options: []string{"remount"}},
		specs.Mount{Destination: "/notype"},
		specs.Mount{Destination: "/missing", Type: "bind", Source: "/nonexistent/source"},
		specs.Mount{Destination: "/", Type: "tmpfs"},
	)
	s.Process.User.UID = 70000
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: []string{"CAP_BOGUS"}}
	s.Process.Rlimits = append(s.Process.Rlimits, specs.POSIXRlimit{Type: "RLIMIT_BOGUS"}, specs.POSIXRlimit{Type: "RLIMIT_CPU", Soft: 10, Hard: 5})
	adj := 5000
	s.Process.OOMScoreAdj = &adj
	s.Process.Cwd = "relative"
	s.Process.Env = append(s.Process.Env, "NOEQUALS")
	s.Linux.Sysctl = map[string]string{"kernel.panic": "1"}
	s.Linux.RootfsPropagation = "sideways"
	s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "x"}}
	s.Linux.Resources = &specs.LinuxResources{}
	s.Hooks = &specs.Hooks{}
	s.Windows = &specs.Windows{}

	_, err := oci.Compile(s, oci.Options{})
	if err == nil {
		t.Fatal("Compile accepted the spec")
	}
	for _, want := range []string{
		`linux.namespaces[7].type: unknown namespace type "bogus"`,
		`linux.namespaces[8].type: pid namespace already given at linux.namespaces[2]`,
		`linux.timeOffsets: time namespace offsets are not supported yet`,
		`.destination: "relative/path" is not absolute`,
		`.source: a bind mount needs a source`,
		`.options: option "remount"`,
		`.type: required for a mount that is not a bind mount`,
		`.source: stat /nonexistent/source: no such file or directory`,
		`.destination: / is the sandbox's root, which root.path chooses`,
		`process.user.uid: 70000 is not mapped in linux.uidMappings`,
		`process.capabilities.bounding[0]: unknown capability "CAP_BOGUS"`,
		`process.rlimits[1].type: unknown resource "RLIMIT_BOGUS"`,
		`process.rlimits[2]: soft limit 10 above hard limit 5`,
		`process.oomScoreAdj: 5000`,
		`process.cwd: "relative" is not absolute`,
		`process.env[2]: "NOEQUALS" is not KEY=VALUE`,
		`linux.sysctl["kernel.panic"]: not a namespaced sysctl`,
		`linux.rootfsPropagation: "sideways"`,
		`linux.devices[0].type: "x"`,
		`linux.resources: nothing here applies them`,
		`hooks: not supported yet`,
		`windows: not a Linux container`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not report %q", want)
		}
	}
	if t.Failed() {
		t.Logf("the error:\n%v", err)
	}
	var ve *spawn.VerifyError
	if errors.As(err, &ve) {
		t.Errorf("a spec error reached the verifier: %v", ve)
	}
	if got := countFds(t); got != fdsBefore {
		t.Errorf("descriptors %d → %d", fdsBefore, got)
	}
	if after, _ := os.ReadFile("/proc/self/mountinfo"); string(after) != string(mountsBefore) {
		t.Errorf("the host's mounts changed")
	}
}

func TestValidationNamespaceFields(t *testing.T) {
	s := &specs.Spec{Process: &specs.Process{Args: []string{"/bin/true"}, Cwd: "/"}, Hostname: "h", Domainname: "d",
		Linux: &specs.Linux{UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1, Size: 0}}}}
	_, err := oci.Compile(s, oci.Options{})
	for _, want := range []string{"hostname: setting the hostname needs a uts namespace", "domainname: setting the domain name needs a uts namespace",
		"linux.uidMappings: id mappings given without a new user namespace"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.NetworkNamespace, Path: "/etc/passwd"}}
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 10}, {ContainerID: 5, HostID: 2000, Size: 10}}
	_, err = oci.Compile(s, oci.Options{})
	for _, want := range []string{"linux.uidMappings[1]: container ids overlap linux.uidMappings[0]",
		"linux.namespaces[1].path: /etc/passwd is not a namespace file", "a new user namespace needs uidMappings and gidMappings"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func countFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestResourcesApplied: linux.resources compile only for a caller that
// applies them (Options.ResourcesApplied), and then change nothing in the
// program: the cgroup is the runner's.
func TestResourcesApplied(t *testing.T) {
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/true"}})
	limit := int64(64 << 20)
	s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	if c, err := oci.Compile(s, oci.Options{}); err == nil || !strings.Contains(err.Error(), "linux.resources: nothing here applies them") {
		if c != nil {
			c.Close()
		}
		t.Fatalf("resources without ResourcesApplied: %v", err)
	}
	with, err := oci.Compile(s, oci.Options{ResourcesApplied: true})
	if err != nil {
		t.Fatal(err)
	}
	defer with.Close()
	s.Linux.Resources = nil
	without, err := oci.Compile(s, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer without.Close()
	if a, b := with.Program.String(), without.Program.String(); a != b {
		t.Errorf("resources changed the program:\n%s\n---\n%s", a, b)
	}
}

// TestTerminalNeedsTerminal: process.terminal makes descriptor 0 the
// controlling terminal; given something else, the step says so.
func TestTerminalNeedsTerminal(t *testing.T) {
	requireUserNS(t)
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/true"}})
	s.Process.Terminal = true
	c, err := oci.Compile(s, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	startFailsAt(t, c, "ioctl TIOCSCTTY", unix.ENOTTY, "terminal spec on /dev/null")
}

// startFailsAt starts c with /dev/null as its stdio and wants the start
// to fail at the step named op, with errno; what names the case.
func startFailsAt(t *testing.T, c *oci.Compiled, op string, errno unix.Errno, what string) {
	t.Helper()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	p, err := c.Start(&spawn.Attr{Files: []*os.File{null, null, null}})
	var se *spawn.StepError
	if !errors.As(err, &se) || se.Op != op || !errors.Is(err, errno) {
		if p != nil {
			p.Wait()
		}
		t.Errorf("%s: %v, want the %s step's %s", what, err, op, unix.ErrnoName(errno))
	}
}

// TestConsoleNeedsDevpts: Options.Console makes the terminal in the
// spec's devpts at /dev/pts; a spec without one (or whose later mount
// hides it) is refused by field, as is a consoleSize no terminal has.
func TestConsoleNeedsDevpts(t *testing.T) {
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/true"}})
	s.Process.Terminal = true
	if !oci.ConsoleInside(s) {
		t.Fatal("the default spec has a devpts at /dev/pts")
	}
	for _, m := range []specs.Mount{
		{Destination: "/dev/pts/ptmx", Type: "bind", Source: "/dev/ptmx", Options: []string{"bind"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
	} {
		s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/true"}})
		s.Mounts = append(s.Mounts, m)
		if oci.ConsoleInside(s) {
			t.Errorf("a mount on %s after /dev/pts hides what it holds", m.Destination)
		}
	}
	for i, m := range s.Mounts {
		if m.Destination == "/dev/pts" {
			s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return strings.HasPrefix(o, "ptmxmode=") })
		}
	}
	if oci.ConsoleInside(s) {
		t.Error("a devpts without ptmxmode=0666 (its ptmx is 0000) counts as one to make the terminal in")
	}
	_, err := oci.Compile(s, oci.Options{Console: true})
	if err == nil || !strings.Contains(err.Error(), "process.terminal: ") {
		t.Errorf("Console without a devpts: %v", err)
	}
	s = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/true"}})
	s.Process.Terminal = true
	s.Process.ConsoleSize = &specs.Box{Height: 70000, Width: 80}
	_, err = oci.Compile(s, oci.Options{Console: true})
	if err == nil || !strings.Contains(err.Error(), "process.consoleSize: ") {
		t.Errorf("consoleSize 70000x80: %v", err)
	}
	s.Process.ConsoleSize = nil
	_, err = oci.Compile(s, oci.Options{Console: true, Files: 2})
	if err == nil || !strings.Contains(err.Error(), "Options.Files is 2") {
		t.Errorf("a console with 2 files: %v", err)
	}
	for i, m := range s.Mounts {
		if m.Destination == "/dev/pts" {
			s.Mounts[i].Options = append(slices.Clone(m.Options), "ptmxmode=0")
		}
	}
	if oci.ConsoleInside(s) {
		t.Error("a later ptmxmode=0 (the kernel keeps the last) counts as open")
	}
}

// TestRootSwappedForLink: the root is opened in the child with no
// symbolic link on the way: a directory swapped for a link to the host's
// root after the checks fails the setup (ELOOP) instead of rooting the
// sandbox there.
func TestRootSwappedForLink(t *testing.T) {
	requireUserNS(t)
	img := filepath.Join(t.TempDir(), "img")
	for _, d := range []string{"proc", "dev", "tmp"} {
		if err := os.MkdirAll(filepath.Join(img, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Dir(img), 0o755)
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/bin/true"}, Root: img})
	c, err := oci.Compile(s, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := os.Rename(img, img+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", img); err != nil {
		t.Fatal(err)
	}
	startFailsAt(t, c, "openat2", unix.ELOOP, "a root swapped for a link to /")
}
