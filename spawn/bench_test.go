//go:build linux

package spawn_test

// Benchmarks of the spawn core against os/exec and syscall.ForkExec (the C
// posix_spawn and vfork references live in bench/c, and scripts/bench.sh
// runs everything side by side, pinned and unpinned, and checks the
// targets of issue 2).
//
// Every benchmark measures spawn-to-reap: from the spawn call until the
// child was waited for. Besides ns/op (the mean) each reports
//
//	p50-µs, p90-µs     per-spawn latency percentiles (sequential ones)
//	spawns/s           throughput (parallel ones)
//	parent-cpu-µs/op   getrusage(RUSAGE_SELF) user+sys per spawn: the whole
//	                   Go process, so GC and scheduler work are included
//
// The static child is a no-libc binary that only exits: on the CI machine
// kind every glibc start-up costs ~0.5 ms (CPUID traps), which hides the
// mechanism. It is, in order of preference: $SANDBOX_BENCH_NOP (set by
// scripts/bench.sh to bin/bench/nop), bench/c/nop.c built with gcc, or a
// minimal ELF written by benchNopELF.
//
// Speed is judged by these benchmarks and the script only; no test here
// asserts a duration.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/spawn"
)

// benchNopEnv names a prebuilt static child.
const benchNopEnv = "SANDBOX_BENCH_NOP"

// benchStaticChild returns the path of the static no-libc child, valid
// for the duration of b.
func benchStaticChild(b *testing.B) string {
	b.Helper()
	if p := os.Getenv(benchNopEnv); p != "" {
		if err := unix.Access(p, unix.X_OK); err != nil {
			b.Fatalf("$%s=%s: %v", benchNopEnv, p, err)
		}
		return p
	}
	out := filepath.Join(b.TempDir(), "nop")
	if gcc, err := exec.LookPath("gcc"); err == nil {
		_, file, _, _ := runtime.Caller(0)
		src := filepath.Join(filepath.Dir(file), "..", "bench", "c", "nop.c")
		cmd := exec.Command(gcc, "-nostdlib", "-static", "-O2", "-fno-stack-protector", "-o", out, src)
		msg, err := cmd.CombinedOutput()
		if err == nil {
			return out
		}
		b.Logf("building %s with gcc: %v\n%s(using a generated ELF instead)", src, err, msg)
	}
	elf, err := benchNopELF(runtime.GOARCH)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(out, elf, 0o755); err != nil {
		b.Fatal(err)
	}
	return out
}

// benchNopELF returns a minimal static ELF64 executable for arch whose
// only code is exit_group(0): a file header, one PT_LOAD program header
// mapping the whole file, and the code right after them.
func benchNopELF(arch string) ([]byte, error) {
	var machine uint16
	var code []byte
	switch arch {
	case "amd64":
		machine = 62 // EM_X86_64
		code = []byte{
			0xb8, 0xe7, 0x00, 0x00, 0x00, // mov $231, %eax (exit_group)
			0x31, 0xff, // xor %edi, %edi
			0x0f, 0x05, // syscall
		}
	case "arm64":
		machine = 183                                             // EM_AARCH64
		code = binary.LittleEndian.AppendUint32(nil, 0xd2800000)  // mov x0, #0
		code = binary.LittleEndian.AppendUint32(code, 0xd2800bc8) // mov x8, #94 (exit_group)
		code = binary.LittleEndian.AppendUint32(code, 0xd4000001) // svc #0
	default:
		return nil, fmt.Errorf("no generated static child for %s: install gcc or set $%s", arch, benchNopEnv)
	}
	const (
		base    = 0x400000
		ehsize  = 64
		phsize  = 56
		codeOff = ehsize + phsize
	)
	size := uint64(codeOff + len(code))
	le := binary.LittleEndian
	var f []byte
	f = append(f, 0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* little-endian */, 1 /* version */, 0 /* SysV */)
	f = append(f, make([]byte, 8)...)
	f = le.AppendUint16(f, 2) // ET_EXEC
	f = le.AppendUint16(f, machine)
	f = le.AppendUint32(f, 1)            // e_version
	f = le.AppendUint64(f, base+codeOff) // e_entry
	f = le.AppendUint64(f, ehsize)       // e_phoff
	f = le.AppendUint64(f, 0)            // e_shoff
	f = le.AppendUint32(f, 0)            // e_flags
	f = le.AppendUint16(f, ehsize)       // e_ehsize
	f = le.AppendUint16(f, phsize)       // e_phentsize
	f = le.AppendUint16(f, 1)            // e_phnum
	f = le.AppendUint16(f, 64)           // e_shentsize
	f = le.AppendUint16(f, 0)            // e_shnum
	f = le.AppendUint16(f, 0)            // e_shstrndx
	f = le.AppendUint32(f, 1)            // p_type PT_LOAD
	f = le.AppendUint32(f, 5)            // p_flags PF_R|PF_X
	f = le.AppendUint64(f, 0)            // p_offset
	f = le.AppendUint64(f, base)         // p_vaddr
	f = le.AppendUint64(f, base)         // p_paddr
	f = le.AppendUint64(f, size)         // p_filesz
	f = le.AppendUint64(f, size)         // p_memsz
	f = le.AppendUint64(f, 0x1000)       // p_align
	f = append(f, code...)
	return f, nil
}

// TestBenchNopELF runs the generated fallback child, so that a broken
// generator fails here rather than inside a benchmark.
func TestBenchNopELF(t *testing.T) {
	elf, err := benchNopELF(runtime.GOARCH)
	if err != nil {
		testutil.SkipAlways(t, err.Error()+" (the benchmarks then need gcc)")
	}
	if len(elf) > 140 {
		t.Errorf("generated ELF is %d bytes, want at most 140", len(elf))
	}
	p := filepath.Join(t.TempDir(), "nop")
	if err := os.WriteFile(p, elf, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(p).CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("generated static child: %v, output %q", err, out)
	}
}

// benchChildren are the two children of the sequential benchmarks.
func benchChildren(b *testing.B) []struct{ name, path string } {
	return []struct{ name, path string }{
		{"static", benchStaticChild(b)},
		{"true", "/bin/true"},
	}
}

// benchPar runs b.N spawn-to-reaps spread over g goroutines and reports
// the throughput and parent CPU per spawn.
func benchPar(b *testing.B, g int, one func() error) {
	b.Helper()
	if err := one(); err != nil {
		b.Fatal(err)
	}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	b.ResetTimer()
	cpu0 := testutil.ProcessCPU()
	t0 := time.Now()
	for range g {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if err := one(); err != nil {
					errOnce.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(t0)
	cpu := testutil.ProcessCPU() - cpu0
	b.StopTimer()
	if first != nil {
		b.Fatal(first)
	}
	b.ReportMetric(float64(b.N)/wall.Seconds(), "spawns/s")
	b.ReportMetric(float64(cpu)/1e3/float64(b.N), "parent-cpu-µs/op")
}

// benchNoFiles leaves stdin, stdout and stderr closed in the child.
func benchNoFiles() *spawn.Attr { return &spawn.Attr{Files: []*os.File{nil, nil, nil}} }

func benchCompile(b *testing.B, path string) *spawn.Program {
	b.Helper()
	prog, err := spawn.Compile(&spawn.Exec{Path: path, Args: []string{filepath.Base(path)}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { prog.Close() })
	return prog
}

func benchCheck(st *spawn.State) error {
	if st.ExitCode() != 0 {
		return fmt.Errorf("child: %v", st)
	}
	return nil
}

// benchSpawn is Start (blocking in read(2) until exec) then Wait.
func benchSpawn(prog *spawn.Program, attr *spawn.Attr) error {
	p, err := spawn.Start(prog, attr)
	if err != nil {
		return err
	}
	st, err := p.Wait()
	if err != nil {
		return err
	}
	return benchCheck(st)
}

// benchSpawnAsync is StartAsync (the netpoller watches the status pipe),
// waiting on Started, then Wait.
func benchSpawnAsync(prog *spawn.Program, attr *spawn.Attr) error {
	p, err := spawn.StartAsync(prog, attr)
	if err != nil {
		return err
	}
	<-p.Started()
	if err := p.StartErr(); err != nil {
		return err
	}
	st, err := p.Wait()
	if err != nil {
		return err
	}
	return benchCheck(st)
}

// benchOSExec is exec.Command(path).Run(), as a caller would write it.
func benchOSExec(path string) error {
	return exec.Command(path).Run()
}

// benchForkExec is syscall.ForkExec (vfork) then Wait4: the stdlib
// mechanism without os/exec's bookkeeping, for reference.
func benchForkExec(path string) error {
	argv := []string{filepath.Base(path)}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: []string{}})
	if err != nil {
		return err
	}
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return err
	}
	if !ws.Exited() || ws.ExitStatus() != 0 {
		return fmt.Errorf("child: wait status %#x", uint32(ws))
	}
	return nil
}

// BenchmarkSpawn is sequential spawn-to-reap of the static child and of
// /bin/true, for the spawn core (Start and StartAsync), os/exec and
// syscall.ForkExec.
func BenchmarkSpawn(b *testing.B) {
	for _, c := range benchChildren(b) {
		b.Run(c.name, func(b *testing.B) {
			prog := benchCompile(b, c.path)
			attr := benchNoFiles()
			b.Run("spawn", func(b *testing.B) {
				testutil.BenchSeq(b, func() error { return benchSpawn(prog, attr) })
			})
			b.Run("spawnAsync", func(b *testing.B) {
				testutil.BenchSeq(b, func() error { return benchSpawnAsync(prog, attr) })
			})
			b.Run("osexec", func(b *testing.B) {
				testutil.BenchSeq(b, func() error { return benchOSExec(c.path) })
			})
			b.Run("forkexec", func(b *testing.B) {
				testutil.BenchSeq(b, func() error { return benchForkExec(c.path) })
			})
		})
	}
}

// BenchmarkSpawnParallel is the throughput of g goroutines spawning the
// static child concurrently.
func BenchmarkSpawnParallel(b *testing.B) {
	nop := benchStaticChild(b)
	prog := benchCompile(b, nop)
	methods := []struct {
		name string
		one  func() error
	}{
		{"spawn", func() error { return benchSpawn(prog, benchNoFiles()) }},
		{"spawnAsync", func() error { return benchSpawnAsync(prog, benchNoFiles()) }},
		{"osexec", func() error { return benchOSExec(nop) }},
	}
	for _, m := range methods {
		b.Run(m.name, func(b *testing.B) {
			for _, g := range []int{1, 2, 8, 32} {
				b.Run("g="+strconv.Itoa(g), func(b *testing.B) { benchPar(b, g, m.one) })
			}
		})
	}
}

// benchHeap is the parent's touched heap in BenchmarkSpawnUserNS; it is
// allocated only there and dropped when that benchmark ends.
var benchHeap []byte

// BenchmarkSpawnUserNS spawns the static child in a new user namespace
// whose id maps the parent writes (the only way for multi-range maps), from
// a parent with a small heap and then with 1 GiB of touched heap. os/exec
// cannot use vfork here (the child must wait for the maps), so it forks and
// copies the parent's page tables; the spawn core's CLONE_VM child does
// not.
func BenchmarkSpawnUserNS(b *testing.B) {
	testutil.RequireUserNS(b)
	nop := benchStaticChild(b)
	uid, gid := os.Getuid(), os.Getgid()

	bld := spawn.NewBuilder(3)
	bld.CloneFlags(unix.CLONE_NEWUSER)
	bld.Sync(1, spawn.Imm(0), "id maps")
	bld.Rlimits(nil)
	bld.RestoreSigmask()
	bld.MarkExec()
	bld.Exec(nop, []string{"nop"}, nil)
	prog, err := bld.Build()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { prog.Close() })
	uidMap := []byte(fmt.Sprintf("0 %d 1\n", uid))
	gidMap := []byte(fmt.Sprintf("0 %d 1\n", gid))
	attr := benchNoFiles()
	// The same writes, in the same order, as the stdlib's
	// writeUidGidMappings with GidMappingsEnableSetgroups false.
	attr.OnSync = func(p *spawn.Process, id, val uint32) error {
		dir := "/proc/" + strconv.Itoa(p.Pid) + "/"
		if err := os.WriteFile(dir+"uid_map", uidMap, 0); err != nil {
			return err
		}
		if err := os.WriteFile(dir+"setgroups", []byte("deny"), 0); err != nil {
			return err
		}
		return os.WriteFile(dir+"gid_map", gidMap, 0)
	}
	osexec := func() error {
		cmd := exec.Command(nop)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  unix.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
		}
		return cmd.Run()
	}
	run := func(b *testing.B) {
		b.Run("spawn", func(b *testing.B) {
			testutil.BenchSeq(b, func() error { return benchSpawn(prog, attr) })
		})
		b.Run("osexec", func(b *testing.B) { testutil.BenchSeq(b, osexec) })
	}

	b.Run("heap=0", run)
	b.Run("heap=1GiB", func(b *testing.B) {
		benchHeap = benchTouchedHeap(1 << 30)
		b.Cleanup(func() {
			benchHeap = nil
			runtime.GC()
			debug.FreeOSMemory()
		})
		run(b)
	})
}

// benchTouchedHeap allocates n bytes on the Go heap and writes every page,
// so that each is really mapped (a fork copies its page-table entries).
func benchTouchedHeap(n int) []byte {
	h := make([]byte, n)
	page := os.Getpagesize()
	for i := 0; i < n; i += page {
		h[i] = 1
	}
	return h
}
