//go:build linux && cgo

package seccomp

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/spawn"
)

// BenchmarkCompileCold is Compile of the default profile with an empty
// cache: on amd64 the profile's hash finds the embedded precompiled filter.
// BenchmarkCompileLibseccomp is the compile that replaces.
func BenchmarkCompileCold(b *testing.B) {
	p := DefaultProfile()
	for b.Loop() {
		filterCache.reset()
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileLibseccomp is a cold compile of the default profile
// through libseccomp (validation, rule building, export, the ENOSYS
// rewrite): what any profile not in the cache costs.
func BenchmarkCompileLibseccomp(b *testing.B) {
	p := DefaultProfile()
	key, err := profileHash(p)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := compileUncached(p, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompileCached(b *testing.B) {
	p := DefaultProfile()
	if _, err := Compile(p); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstall is the parent's cost of adding the default profile to a
// program: the no_new_privs and seccomp steps, the filter copied into the
// program data, and the verifier. Compare BenchmarkInstallNone.
func BenchmarkInstall(b *testing.B) {
	f := mustCompile(b, DefaultProfile())
	benchBuild(b, f.Install)
}

func BenchmarkInstallNone(b *testing.B) { benchBuild(b, func(*spawn.Builder) {}) }

func benchBuild(b *testing.B, install func(*spawn.Builder)) {
	b.ReportAllocs()
	for b.Loop() {
		trueProgram(b, install).Close()
	}
}

// trueProgram builds the program the benchmarks run: /bin/true with
// install's steps before the exec.
func trueProgram(b *testing.B, install func(*spawn.Builder)) *spawn.Program {
	bl := spawn.NewBuilder(3)
	bl.Rlimits(nil)
	bl.RestoreSigmask()
	bl.MarkExec()
	install(bl)
	bl.Exec("/bin/true", []string{"true"}, nil)
	prog, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	return prog
}

// BenchmarkSpawnDefaultProfile runs /bin/true under the default profile:
// spawn to exit, including the child's seccomp(2) load and every syscall
// the dynamic loader makes under the filter. Compare BenchmarkSpawnNoFilter.
func BenchmarkSpawnDefaultProfile(b *testing.B) {
	f := mustCompile(b, DefaultProfile())
	benchSpawn(b, f.Install)
}

func BenchmarkSpawnNoFilter(b *testing.B) { benchSpawn(b, func(*spawn.Builder) {}) }

func benchSpawn(b *testing.B, install func(*spawn.Builder)) {
	prog := trueProgram(b, install)
	defer prog.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	files := []*os.File{devnull, devnull, devnull}
	for b.Loop() {
		p, err := spawn.Start(prog, &spawn.Attr{Files: files})
		if err != nil {
			b.Fatal(err)
		}
		st, err := p.Wait()
		if err != nil || st.ExitCode() != 0 {
			b.Fatalf("%v %v", st, err)
		}
	}
}

// syscallMix is a representative workload: the syscalls of shells,
// interpreters, compilers and Go programs, weighted roughly by how often
// they appear in strace -c summaries of such runs.
var syscallMix = []struct {
	nr     uintptr
	args   []uint64
	weight float64
}{
	{unix.SYS_READ, nil, 18}, {unix.SYS_WRITE, nil, 12}, {unix.SYS_FUTEX, nil, 10},
	{unix.SYS_EPOLL_PWAIT, nil, 5}, {unix.SYS_CLOSE, nil, 6}, {unix.SYS_OPENAT, nil, 6},
	{unix.SYS_NEWFSTATAT, nil, 6}, {unix.SYS_FSTAT, nil, 3}, {unix.SYS_MMAP, nil, 5},
	{unix.SYS_MUNMAP, nil, 2}, {unix.SYS_MPROTECT, nil, 3}, {unix.SYS_BRK, nil, 2},
	{unix.SYS_MADVISE, nil, 1}, {unix.SYS_RT_SIGPROCMASK, nil, 5}, {unix.SYS_RT_SIGACTION, nil, 2},
	{unix.SYS_RT_SIGRETURN, nil, 1}, {unix.SYS_LSEEK, nil, 2}, {unix.SYS_PREAD64, nil, 1},
	{unix.SYS_FCNTL, nil, 2}, {unix.SYS_IOCTL, []uint64{0, unix.TCGETS}, 2},
	{unix.SYS_GETDENTS64, nil, 2}, {unix.SYS_READLINKAT, nil, 1}, {unix.SYS_STATX, nil, 1},
	{unix.SYS_GETPID, nil, 1}, {unix.SYS_GETTID, nil, 1}, {unix.SYS_CLOCK_GETTIME, nil, 2},
	{unix.SYS_NANOSLEEP, nil, 1}, {unix.SYS_SCHED_YIELD, nil, 1}, {unix.SYS_PPOLL, nil, 1},
	{unix.SYS_RECVFROM, nil, 1}, {unix.SYS_SENDTO, nil, 1}, {unix.SYS_PIPE2, nil, 1},
	{unix.SYS_DUP3, nil, 1}, {unix.SYS_GETRANDOM, nil, 1}, {unix.SYS_PRLIMIT64, nil, 1},
	{unix.SYS_WAIT4, nil, 1}, {unix.SYS_CLONE, []uint64{uint64(unix.SIGCHLD)}, 0.5},
	{unix.SYS_EXECVE, nil, 0.5}, {unix.SYS_EXIT_GROUP, nil, 0.5}, {unix.SYS_TGKILL, nil, 0.5},
	{unix.SYS_SIGALTSTACK, nil, 0.5}, {unix.SYS_SOCKET, []uint64{unix.AF_INET, unix.SOCK_STREAM}, 0.5},
}

// mixCost returns the weighted average of instructions executed per
// syscall of the mix, and the largest count (all allowed).
func mixCost(tb testing.TB, f *Filter) (avg float64, max int) {
	var sum, w float64
	for _, m := range syscallMix {
		ret, n, err := runBPF(f.Insns, sys(tb, m.nr, m.args...))
		if err != nil {
			tb.Fatal(err)
		}
		if ret != unix.SECCOMP_RET_ALLOW {
			tb.Fatalf("syscall %d of the mix: %s", m.nr, actionString(ret))
		}
		sum += float64(n) * m.weight
		w += m.weight
		if n > max {
			max = n
		}
	}
	return sum / w, max
}

// BenchmarkFilterInstructions reports the BPF instructions the default
// profile executes per syscall of the mix (insns/syscall, the target is at
// most 30) and at most (insns/max), and times the interpreter.
func BenchmarkFilterInstructions(b *testing.B) {
	f := mustCompile(b, DefaultProfile())
	avg, max := mixCost(b, f)
	d := sys(b, unix.SYS_READ)
	for b.Loop() {
		runBPF(f.Insns, d)
	}
	b.ReportMetric(avg, "insns/syscall")
	b.ReportMetric(float64(max), "insns/max")
	b.ReportMetric(float64(len(f.Insns)), "insns/program")
}

func TestDefaultProfileCost(t *testing.T) {
	f := mustCompile(t, DefaultProfile())
	avg, max := mixCost(t, f)
	t.Logf("default profile: %d instructions; the mix executes %.1f per syscall on average, %d at most", len(f.Insns), avg, max)
	if avg > 30 {
		t.Errorf("%.1f instructions per syscall on average, the target is 30", avg)
	}
}
