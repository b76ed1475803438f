//go:build linux

package oci_test

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/creds"
	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/spawn"
)

// withCaps gives the command caps in all of its sets.
func withCaps(s *specs.Spec, caps ...string) *specs.Spec {
	s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	return s
}

// TestReaperMemoryOutOfReach: the pid-1 reaper shares the caller's
// memory, so the command must never be able to open /proc/1/mem. A root
// caller's memory is non-dumpable: even CAP_SYS_PTRACE in the sandbox
// cannot open it, which the command proves from inside. An unprivileged
// caller's memory stays dumpable (its children's id maps need that), so a
// command that could open it is refused before anything runs.
func TestReaperMemoryOutOfReach(t *testing.T) {
	requireUserNS(t)
	rdwr := strconv.Itoa(unix.O_RDWR)
	s := withCaps(defaultSpec(t, "syscall", "open", "/proc/1/mem", rdwr), "CAP_SYS_PTRACE")
	if os.Geteuid() == 0 {
		if spawn.ParentDumpable() {
			t.Fatal("a root caller reports dumpable memory")
		}
		for _, c := range []struct {
			name string
			spec *specs.Spec
		}{
			{"CAP_SYS_PTRACE", s},
			{"every capability", withCaps(defaultSpec(t, "syscall", "open", "/proc/1/environ", "0"), creds.CapNames()...)},
		} {
			if got := check(t, c.spec); got != "EACCES" && got != "EPERM" {
				t.Errorf("%s: opening the reaper's memory from inside: %s, want EACCES", c.name, got)
			}
		}
	} else {
		if !spawn.ParentDumpable() {
			t.Fatal("an unprivileged caller reports non-dumpable memory")
		}
		_, err := oci.Compile(s, oci.Options{})
		if err == nil || !strings.Contains(err.Error(), "/proc/1/mem") {
			t.Fatalf("unprivileged CAP_SYS_PTRACE beside the reaper: %v, want a refusal naming /proc/1/mem", err)
		}
	}

	// The rule itself, as an unprivileged caller sees it.
	defer oci.SetParentDumpable(func() bool { return true })()
	all := creds.CapNames()[:creds.LastCap()+1]
	noSysPtrace := slices.DeleteFunc(slices.Clone(all), func(c string) bool { return c == "CAP_SYS_PTRACE" })
	noReaper := withCaps(defaultSpec(t, "true"), "CAP_SYS_PTRACE")
	delete(noReaper.Annotations, oci.AnnotationInit)
	inheritOnly := defaultSpec(t, "true")
	inheritOnly.Process.Capabilities = &specs.LinuxCapabilities{Inheritable: []string{"CAP_SYS_PTRACE"}}
	for _, c := range []struct {
		name    string
		spec    *specs.Spec
		refused string // "" when it compiles
	}{
		{"CAP_SYS_PTRACE", withCaps(defaultSpec(t, "true"), "CAP_SYS_PTRACE"), "process.capabilities: CAP_SYS_PTRACE"},
		{"inheritable CAP_SYS_PTRACE", inheritOnly, "process.capabilities: CAP_SYS_PTRACE"},
		{"every capability", withCaps(defaultSpec(t, "true"), all...), "process.capabilities: CAP_SYS_PTRACE"},
		{"every capability but CAP_SYS_PTRACE", withCaps(defaultSpec(t, "true"), noSysPtrace...), ""},
		{"one capability", withCaps(defaultSpec(t, "true"), "CAP_NET_BIND_SERVICE"), ""},
		{"none", defaultSpec(t, "true"), ""},
		{"no reaper", noReaper, ""},
	} {
		compiled, err := oci.Compile(c.spec, oci.Options{})
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused)):
			t.Errorf("%s: %v, want a refusal with %q", c.name, err, c.refused)
		}
		if compiled != nil {
			compiled.Close()
		}
	}
}

// TestReaperReachRule shows, from inside, that the rule above is exact: in
// an unprivileged caller's layout (the user namespace first, the caller's
// own id mapped, its memory dumpable), CAP_SYS_PTRACE opens the reaper's
// memory, and every other capability together does not.
func TestReaperReachRule(t *testing.T) {
	testutil.RequireRoot(t)
	requireUserNS(t)
	check(t, defaultSpec(t, "exit", "0")) // the dumpable policy is applied at the first spawn
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	defer oci.SetParentDumpable(func() bool { return false })() // let the refused spec through
	all := creds.CapNames()[:creds.LastCap()+1]
	for _, c := range []struct {
		name string
		caps []string
		want string
	}{
		{"CAP_SYS_PTRACE", []string{"CAP_SYS_PTRACE"}, "ok"},
		{"every capability but CAP_SYS_PTRACE", slices.DeleteFunc(slices.Clone(all), func(c string) bool { return c == "CAP_SYS_PTRACE" }), "EACCES"},
	} {
		s := sandbox.DefaultSpec(sandbox.DefaultOptions{Unprivileged: true,
			Args: []string{"/checker", "syscall", "open", "/proc/1/mem", strconv.Itoa(unix.O_RDWR)}})
		s = withCaps(withChecker(t, s), c.caps...)
		out, st := run(t, s, oci.Options{Unprivileged: true})
		if got := strings.TrimSpace(string(out)); st.ExitCode() != 0 || got != c.want {
			t.Errorf("%s: opening the reaper's memory: %s (%v), want %s", c.name, got, st, c.want)
		}
	}
}
