//go:build linux && cgo

package seccomp

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/spawn"
)

// The differential test: for every profile in testdata (and the default
// profile), the interpreter's decision for each probe must match what a
// real child observes. A decision turns into an expected observation:
// allow/log → what the same call does without a filter (the baseline);
// errno → that errno; trace and notify with nobody attached → ENOSYS;
// kill_process → death by SIGSYS; trap → the Go runtime dying of SIGSYS.

// probe is one syscall the checker makes; every one is harmless without a
// filter (bad descriptors, NULL pointers, invalid flag combinations).
type probe struct {
	name string
	abi  string // "native", "int80" or "x32"
	nr   uint32
	args []uint64
}

func (p probe) data(t testing.TB) *seccompData {
	d := &seccompData{Nr: int32(p.nr), Arch: nativeAudit(t)}
	switch p.abi {
	case "int80":
		d.Arch = auditArchI386
	case "x32":
		d.Nr |= x32SyscallBit
	}
	for i, a := range p.args {
		d.Args[i] = a
		if p.abi == "int80" {
			d.Args[i] = uint64(uint32(a)) // 32-bit registers
		}
	}
	return d
}

func (p probe) checkerArgs() []string {
	mode, nr := "call", uint64(p.nr)
	switch p.abi {
	case "int80":
		mode = "int80"
	case "x32":
		nr |= x32SyscallBit
	}
	out := []string{"seccomp", mode, num(nr)}
	for _, a := range p.args {
		out = append(out, num(a))
	}
	return out
}

func probes() []probe {
	n := func(name string, nr uintptr, args ...uint64) probe {
		return probe{name: name, abi: "native", nr: uint32(nr), args: args}
	}
	const atFdcwd = 0xffffffffffffff9c
	ps := []probe{
		n("getpid", unix.SYS_GETPID),
		n("getppid", unix.SYS_GETPPID),
		n("getpgid(0)", unix.SYS_GETPGID, 0),
		n("getpgid(1)", unix.SYS_GETPGID, 1),
		n("getpgid(101)", unix.SYS_GETPGID, 101),
		n("getpgid(100)", unix.SYS_GETPGID, 100),
		n("getpgid(1<<32|1)", unix.SYS_GETPGID, 1<<32|1),
		n("getsid(0)", unix.SYS_GETSID, 0),
		n("getsid(7)", unix.SYS_GETSID, 7),
		n("getsid(1<<40|7)", unix.SYS_GETSID, 1<<40|7),
		n("getpriority(0,0)", unix.SYS_GETPRIORITY, 0, 0),
		n("getpriority(0,1)", unix.SYS_GETPRIORITY, 0, 1),
		n("umask(022)", unix.SYS_UMASK, 0o22),
		n("umask(7)", unix.SYS_UMASK, 7),
		n("umask(0777)", unix.SYS_UMASK, 0o777),
		n("dup(-1)", unix.SYS_DUP, 0xffffffffffffffff),
		n("dup(1<<32)", unix.SYS_DUP, 1<<32),
		n("write(-1)", unix.SYS_WRITE, 0xffffffffffffffff, 0, 0),
		n("lseek(-1)", unix.SYS_LSEEK, 0xffffffffffffffff, 0, 0),
		n("sched_yield", unix.SYS_SCHED_YIELD),
		n("uname(NULL)", unix.SYS_UNAME, 0),
		n("mount(NULLs)", unix.SYS_MOUNT, 0, 0, 0, 0, 0),
		n("umount2(NULL)", unix.SYS_UMOUNT2, 0, 0),
		n("unshare(0)", unix.SYS_UNSHARE, 0),
		n("keyctl(-1)", unix.SYS_KEYCTL, 0xffffffff),
		n("add_key(NULLs)", unix.SYS_ADD_KEY, 0, 0, 0, 0, 0),
		n("ioctl(0,TCGETS)", unix.SYS_IOCTL, 0, unix.TCGETS, 0),
		n("ioctl(0,TIOCSTI)", unix.SYS_IOCTL, 0, unix.TIOCSTI, 0),
		n("ioctl(0,TIOCSTI|1<<32)", unix.SYS_IOCTL, 0, 1<<32|unix.TIOCSTI, 0),
		n("personality(query)", unix.SYS_PERSONALITY, 0xffffffff),
		n("personality(ADDR_NO_RANDOMIZE)", unix.SYS_PERSONALITY, 0x40000),
		n("clone(NEWUSER|FS)", unix.SYS_CLONE, unix.CLONE_NEWUSER|unix.CLONE_FS|uint64(unix.SIGCHLD)),
		n("clone3(NULL,0)", unix.SYS_CLONE3, 0, 0),
		n("fchmodat2(NULL)", 452, atFdcwd, 0, 0, 0),
		n("syscall 1000", 1000),
	}
	if runtime.GOARCH == "amd64" {
		ps = append(ps,
			probe{name: "int80 getpid", abi: "int80", nr: i386Getpid},
			probe{name: "int80 getppid", abi: "int80", nr: i386Getppid},
			probe{name: "int80 mount", abi: "int80", nr: i386Mount},
			probe{name: "int80 1000", abi: "int80", nr: 1000},
			probe{name: "x32 getpid", abi: "x32", nr: unix.SYS_GETPID},
			probe{name: "x32 getppid", abi: "x32", nr: unix.SYS_GETPPID},
			probe{name: "x32 mount", abi: "x32", nr: unix.SYS_MOUNT, args: []uint64{0, 0, 0, 0, 0}},
		)
	}
	return ps
}

// observe classifies what a checker run did: "ret" for success, an errno
// name, "SIGSYS" when killed by it, "trap" when the Go runtime died of it.
func observe(r result) string {
	if sig, ok := r.st.Signaled(); ok {
		return unix.SignalName(sig)
	}
	if r.st.ExitCode() == 2 && strings.Contains(r.errOut, "SIGSYS") {
		return "trap"
	}
	if r.st.ExitCode() != 0 {
		return r.String()
	}
	out := strings.TrimSpace(r.out)
	if strings.HasPrefix(out, "ret=") {
		return "ret"
	}
	return out
}

// expect turns a filter return value into the observation it causes;
// "" means the probe cannot be checked (KILL_THREAD leaves a Go program's
// other threads running).
func expect(ret uint32, baseline string) string {
	data := ret & unix.SECCOMP_RET_DATA
	switch ret & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_LOG:
		return baseline
	case unix.SECCOMP_RET_ERRNO:
		if data == 0 {
			return "ret"
		}
		if n := unix.ErrnoName(unix.Errno(data)); n != "" {
			return n
		}
		return fmt.Sprintf("errno%d", data)
	case unix.SECCOMP_RET_TRACE, unix.SECCOMP_RET_USER_NOTIF:
		return "ENOSYS"
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "SIGSYS"
	case unix.SECCOMP_RET_TRAP:
		return "trap"
	}
	return ""
}

// testProfiles loads testdata/*.json and adds the default profile.
func testProfiles(t testing.TB) map[string]*specs.LinuxSeccomp {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata profiles: %v", err)
	}
	out := map[string]*specs.LinuxSeccomp{"DefaultProfile": DefaultProfile()}
	for _, f := range files {
		p, err := LoadProfile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = p
	}
	return out
}

func TestDifferential(t *testing.T) {
	ps := probes()
	if runtime.GOARCH == "amd64" && !int80Works(t) {
		// No i386 entry on this host: those probes have no baseline
		// (TestEnforceCompatABIsKilled checks they still never return).
		ps = slices.DeleteFunc(ps, func(p probe) bool { return p.abi == "int80" })
	}
	baseline := make([]string, len(ps))
	for i, p := range ps {
		baseline[i] = observe(checker(t, nil, p.checkerArgs()...))
		if baseline[i] == "SIGSYS" || baseline[i] == "trap" {
			t.Fatalf("probe %s without a filter: %s", p.name, baseline[i])
		}
	}
	ignoreSync := func(*spawn.Process, uint32, uint32) error { return nil }
	for name, prof := range testProfiles(t) {
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(name, "arch-x") && runtime.GOARCH != "amd64" {
				testutil.SkipAlways(t, "an amd64 profile; runs on amd64")
			}
			f := mustCompile(t, prof)
			checked := 0
			for i, p := range ps {
				ret, _, err := runBPF(f.Insns, p.data(t))
				if err != nil {
					t.Fatalf("%s: interpreter: %v", p.name, err)
				}
				want := expect(ret, baseline[i])
				if want == "" {
					continue
				}
				got := observe(run(t, f, runOpts{onSync: ignoreSync}, testutil.Checker(t), p.checkerArgs()...))
				checked++
				if got != want {
					t.Errorf("%s: interpreter says %s (expect %s, baseline %s), the kernel did %s",
						p.name, actionString(ret), want, baseline[i], got)
				}
			}
			if checked < len(ps)/2 {
				t.Errorf("only %d of %d probes checked", checked, len(ps))
			}
		})
	}
}
