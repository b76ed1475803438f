//go:build linux && cgo

package seccomp

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestBadInput(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		want    []string
	}{
		{"unknown action",
			`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW"},{"names":["b"],"action":"SCMP_ACT_ALLOW"},{"names":["c"],"action":"SCMP_ACT_ALLOW"},{"names":["getpid"],"action":"SCMP_ACT_FOO"}]}`,
			[]string{`linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`}},
		{"missing default",
			`{"syscalls":[]}`,
			[]string{`linux.seccomp.defaultAction: missing`}},
		{"unknown default",
			`{"defaultAction":"SCMP_ACT_MAYBE"}`,
			[]string{`linux.seccomp.defaultAction: unknown action "SCMP_ACT_MAYBE"`}},
		{"bad architecture",
			`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_PDP11"]}`,
			[]string{`linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_PDP11"`}},
		{"unknown operator",
			`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":1,"op":"SCMP_CMP_ALMOST"}]}]}`,
			[]string{`linux.seccomp.syscalls[0].args[1].op: unknown operator "SCMP_CMP_ALMOST"`}},
		{"seven args",
			`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW"},{"names":["b"],"action":"SCMP_ACT_ALLOW"},{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[
				{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":1,"value":1,"op":"SCMP_CMP_EQ"},{"index":2,"value":1,"op":"SCMP_CMP_EQ"},
				{"index":3,"value":1,"op":"SCMP_CMP_EQ"},{"index":4,"value":1,"op":"SCMP_CMP_EQ"},{"index":5,"value":1,"op":"SCMP_CMP_EQ"},
				{"index":5,"value":2,"op":"SCMP_CMP_EQ"}]}]}`,
			[]string{`linux.seccomp.syscalls[2].args: 7 arguments, at most 6`}},
		{"arg index",
			`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`,
			[]string{`linux.seccomp.syscalls[0].args[0].index: 6, at most 5`}},
		{"errnoRet on allow",
			`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","errnoRet":5}]}`,
			[]string{`linux.seccomp.syscalls[0].errnoRet: set, but SCMP_ACT_ALLOW returns no errno`}},
		{"defaultErrnoRet on kill",
			`{"defaultAction":"SCMP_ACT_KILL_PROCESS","defaultErrnoRet":1}`,
			[]string{`linux.seccomp.defaultErrnoRet: set, but SCMP_ACT_KILL_PROCESS returns no errno`}},
		{"errno too big",
			`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":5000}`,
			[]string{`linux.seccomp.defaultErrnoRet: 5000, at most 4095`}},
		{"empty names",
			`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]}`,
			[]string{`linux.seccomp.syscalls[0].names: empty`}},
		{"unknown flag",
			`{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_FAST"]}`,
			[]string{`linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_FAST"`}},
		{"notify default",
			`{"defaultAction":"SCMP_ACT_NOTIFY"}`,
			[]string{`linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action`}},
		{"notify write",
			`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_NOTIFY"}]}`,
			[]string{`linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot apply to write`}},
		{"metadata without path",
			`{"defaultAction":"SCMP_ACT_ALLOW","listenerMetadata":"x"}`,
			[]string{`linux.seccomp.listenerMetadata: set without listenerPath`}},
		{"all problems at once",
			`{"defaultAction":"SCMP_ACT_NOPE","architectures":["SCMP_ARCH_VAX"],"syscalls":[
				{"names":["read"],"action":"SCMP_ACT_BAD"},
				{"names":["write"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_WHAT"}]}]}`,
			[]string{
				`linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"`,
				`linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_VAX"`,
				`linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_BAD"`,
				`linux.seccomp.syscalls[1].args[0].op: unknown operator "SCMP_CMP_WHAT"`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(tt.profile))
			if err != nil {
				t.Fatal(err)
			}
			f, err := Compile(p)
			if err == nil {
				t.Fatalf("Compile succeeded (%d instructions), want errors %q", len(f.Insns), tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			if got, want := strings.Count(err.Error(), "\n")+1, len(tt.want); got != want {
				t.Errorf("%d errors, want %d:\n%v", got, want, err)
			}
		})
	}
}

func TestCompileNil(t *testing.T) {
	if _, err := Compile(nil); err == nil {
		t.Fatal("Compile(nil) succeeded")
	}
}

func TestParseProfileStrict(t *testing.T) {
	for _, in := range []string{
		`{"defaultAction":"SCMP_ACT_ALLOW","sycsalls":[]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW"} {}`,
		`[`,
	} {
		if _, err := ParseProfile([]byte(in)); err == nil {
			t.Errorf("ParseProfile(%s) succeeded", in)
		}
	}
}

func TestUnknownSyscallWarns(t *testing.T) {
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow},
			{Names: []string{"getpid", "no_such_syscall_2099"}, Action: specs.ActAllow},
		},
	}
	f := mustCompile(t, p)
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], `linux.seccomp.syscalls[1].names[1]: unknown syscall "no_such_syscall_2099" skipped`) {
		t.Fatalf("warnings %q", f.Warnings)
	}
	if got := decide(t, f, sys(t, unix.SYS_GETPID)); got != "ALLOW" {
		t.Errorf("getpid: %s, want ALLOW (the rest of the rule stays)", got)
	}
}

func TestOverlapWarnings(t *testing.T) {
	eio := uint(unix.EIO)
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "ioctl", "socket"}, Action: specs.ActAllow},
			// Shadowed by the unconditional allow of ioctl.
			{Names: []string{"ioctl"}, Action: specs.ActErrno, ErrnoRet: &eio,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0xffffffff, ValueTwo: unix.TIOCSTI, Op: specs.OpMaskedEqual}}},
			// Conflicting unconditional rule.
			{Names: []string{"read"}, Action: specs.ActErrno, ErrnoRet: &eio},
			// Default action next to a broader rule.
			{Names: []string{"getpid"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpGreaterEqual}}},
			{Names: []string{"getpid"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 1, Op: specs.OpEqualTo}}},
		},
	}
	f := mustCompile(t, p)
	want := []string{
		`linux.seccomp.syscalls[2]: "read" already has an unconditional rule in syscalls[0]`,
		`linux.seccomp.syscalls[1]: conditional rule for "ioctl" is shadowed by the unconditional rule in syscalls[0]`,
		`linux.seccomp.syscalls[4]: conditional rule for "getpid" has the default action`,
	}
	all := strings.Join(f.Warnings, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("warnings\n%s\nlack %q", all, w)
		}
	}
	// What libseccomp does with them, as the warnings say.
	if got := decide(t, f, sys(t, unix.SYS_IOCTL, 0, unix.TIOCSTI)); got != "ALLOW" {
		t.Errorf("shadowed ioctl rule: %s", got)
	}
	if got := decide(t, f, sys(t, unix.SYS_READ)); got != "ALLOW" {
		t.Errorf("read: %s (the first unconditional rule wins)", got)
	}
}

func TestDefaultProfileCompilesCleanly(t *testing.T) {
	f := mustCompile(t, DefaultProfile())
	if len(f.Warnings) != 0 {
		v, api := LibraryVersion()
		t.Errorf("libseccomp %s (API %d) warnings for the default profile:\n%s", v, api, strings.Join(f.Warnings, "\n"))
	}
	if f.Notify || f.Flags != 0 {
		t.Errorf("Notify %v, Flags %#x", f.Notify, f.Flags)
	}
	t.Logf("default profile: %d instructions", len(f.Insns))
}

func TestCache(t *testing.T) {
	filterCache.reset()
	p := DefaultProfile()
	// Not the default profile itself, which is precompiled and bypasses
	// the cache.
	p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"getpid"}, Action: specs.ActAllow})
	var wg sync.WaitGroup
	got := make([]*Filter, 16)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := Compile(p)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = f
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, f := range got[1:] {
		if !slices.Equal(f.Insns, got[0].Insns) || f.Hash != got[0].Hash {
			t.Fatal("concurrent compiles differ")
		}
		if &f.Insns[0] == &got[0].Insns[0] {
			t.Fatal("callers share instructions")
		}
	}
	if n := len(filterCache.entries); n != 1 {
		t.Errorf("%d cache entries, want 1", n)
	}
	// A caller's change does not reach the cache.
	got[0].Insns[0].K ^= 1
	again := mustCompile(t, p)
	if again.Insns[0] == got[0].Insns[0] {
		t.Error("cache was modified through a returned filter")
	}
	// A changed profile is a different entry.
	p.Syscalls[0].Names = append(p.Syscalls[0].Names, "getcpu")
	other := mustCompile(t, p)
	if other.Hash == again.Hash {
		t.Error("different profiles share a hash")
	}
	// Failures are not cached.
	bad := &specs.LinuxSeccomp{DefaultAction: "nope"}
	for range 2 {
		if _, err := Compile(bad); err == nil {
			t.Fatal("bad profile compiled")
		}
	}
	if n := len(filterCache.entries); n != 2 {
		t.Errorf("%d cache entries, want 2", n)
	}
}

func TestCacheBounded(t *testing.T) {
	filterCache.reset()
	for i := range cacheSize + 10 {
		p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid"}, Action: specs.ActErrno, ErrnoRet: uintp(uint(1 + i%4000))},
		}}
		mustCompile(t, p)
	}
	if n := len(filterCache.entries); n > cacheSize {
		t.Errorf("%d cache entries, bound %d", n, cacheSize)
	}
}

func TestFlags(t *testing.T) {
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Flags: []specs.LinuxSeccompFlag{flagTsync, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow,
			specs.LinuxSeccompFlagWaitKillableRecv},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"getpid"}, Action: specs.ActErrno}},
	}
	f := mustCompile(t, p)
	if want := uint(unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW); f.Flags != want {
		t.Errorf("flags %#x, want %#x", f.Flags, want)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "WAIT_KILLABLE_RECV ignored: the profile uses no SCMP_ACT_NOTIFY") {
		t.Errorf("warnings %q", f.Warnings)
	}
	p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"getcpu"}, Action: specs.ActNotify})
	f = mustCompile(t, p)
	want := uint(unix.SECCOMP_FILTER_FLAG_LOG | unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER)
	if kernelHasFlag(unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV | unix.SECCOMP_FILTER_FLAG_NEW_LISTENER) {
		want |= unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
	}
	if !f.Notify || f.Flags != want {
		t.Errorf("notify filter: Notify %v, flags %#x, want %#x", f.Notify, f.Flags, want)
	}
}

func TestKernelHasFlag(t *testing.T) {
	if !kernelHasFlag(unix.SECCOMP_FILTER_FLAG_LOG) {
		t.Error("SECCOMP_FILTER_FLAG_LOG unsupported (Linux 4.14)")
	}
	if kernelHasFlag(1 << 30) {
		t.Error("bit 30 reported as a supported flag")
	}
}

func TestNoLibseccompErrorWraps(t *testing.T) {
	if !errors.Is(ErrNoLibseccomp, errors.ErrUnsupported) {
		t.Error("ErrNoLibseccomp does not wrap errors.ErrUnsupported")
	}
}

func ExampleCompile() {
	p, _ := ParseProfile([]byte(`{
		"defaultAction": "SCMP_ACT_ERRNO",
		"syscalls": [
			{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
			{"names": ["open"], "action": "SCMP_ACT_EXPLODE"},
			{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_ROUGHLY"}]}
		]
	}`))
	_, err := Compile(p)
	fmt.Println(err)
	// Output:
	// linux.seccomp.syscalls[1].action: unknown action "SCMP_ACT_EXPLODE"
	// linux.seccomp.syscalls[2].args[0].op: unknown operator "SCMP_CMP_ROUGHLY"
}

func TestArchitectureErrors(t *testing.T) {
	_, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86, specs.ArchS390X}})
	if err == nil || !strings.Contains(err.Error(), "linux.seccomp.architectures[1]: SCMP_ARCH_S390X: cannot share a filter with the native") {
		t.Errorf("big-endian arch on a little-endian host: %v", err)
	}
}

func TestSocketcallWarning(t *testing.T) {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86}, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"socket"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.AF_ALG, Op: specs.OpEqualTo}}},
	}}
	f := mustCompile(t, p)
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], `linux.seccomp.syscalls[0]: argument checks on "socket" do not apply to i386 socketcall(2)`) {
		t.Errorf("warnings %q", f.Warnings)
	}
	p.Architectures = nil
	if f := mustCompile(t, p); len(f.Warnings) != 0 {
		t.Errorf("native only: warnings %q", f.Warnings)
	}
}

// Different profiles compile concurrently: libseccomp contexts are
// independent, and the cache takes them in parallel.
func TestCompileConcurrentProfiles(t *testing.T) {
	filterCache.reset()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := DefaultProfile()
			p.DefaultErrnoRet = uintp(uint(100 + i))
			f, err := Compile(p)
			if err != nil {
				t.Error(err)
				return
			}
			ret, _, err := runBPF(f.Insns, sys(t, unix.SYS_MOUNT))
			if err != nil {
				t.Error(err)
				return
			}
			if got, want := actionString(ret), fmt.Sprintf("ERRNO(%s)", unix.ErrnoName(unix.Errno(100+i))); got != want {
				t.Errorf("profile %d: mount: %s, want %s", i, got, want)
			}
		}()
	}
	wg.Wait()
}
