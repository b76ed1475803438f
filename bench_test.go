//go:build linux

package sandbox_test

// Sandbox-level benchmarks (issues 3 and 5); scripts/bench.sh runs them
// side by side with their C floor (bench/c/sandboxfloor.c) and the peers
// (bwrap, crun, runc), pinned and unpinned.
//
//	BenchmarkDefaultSandbox/{net,nonet}  the default sandbox (DefaultSpec,
//	    compiled once by oci.Compile) running the static no-libc child,
//	    bound read-only at /nop: Compiled.Start + Wait per iteration, i.e.
//	    from the clone until the pid-1 reaper is reaped. nonet is
//	    DefaultOptions.ShareNet (no new network namespace).
//	BenchmarkCommand/{sandbox,osexec}    sandbox.Command("/bin/true").Run()
//	    (spec, compile, start, supervise, Result) against an unsandboxed
//	    exec.Command("/bin/true").Run().
//
// Each reports ns/op (the mean), p50-µs and p90-µs per run, and
// parent-cpu-µs/op (getrusage(RUSAGE_SELF) user+sys of the whole test
// process per run). The static child is $SANDBOX_BENCH_NOP (bin/bench/nop,
// set by scripts/bench.sh) or bench/c/nop.c built with gcc. Speed is judged
// by these numbers and the script only; nothing here asserts a duration.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/oci"
)

// benchNopEnv names a prebuilt static child (as in spawn/bench_test.go).
const benchNopEnv = "SANDBOX_BENCH_NOP"

// benchNop returns the path of the static no-libc child.
func benchNop(b *testing.B) string {
	b.Helper()
	if p := os.Getenv(benchNopEnv); p != "" {
		if err := unix.Access(p, unix.X_OK); err != nil {
			b.Fatalf("$%s=%s: %v", benchNopEnv, p, err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			b.Fatal(err)
		}
		return abs
	}
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		b.Skipf("no static child: set $%s (make bench-c builds bin/bench/nop) or install gcc", benchNopEnv)
	}
	_, file, _, _ := runtime.Caller(0)
	src := filepath.Join(filepath.Dir(file), "bench", "c", "nop.c")
	out := filepath.Join(b.TempDir(), "nop")
	if msg, err := exec.Command(gcc, "-nostdlib", "-static", "-O2", "-fno-stack-protector", "-o", out, src).CombinedOutput(); err != nil {
		b.Fatalf("building %s: %v\n%s", src, err, msg)
	}
	return out
}

// benchDefaultCompiled compiles the default sandbox running nop, bound
// read-only at /nop (the way the oci tests bind their checker).
func benchDefaultCompiled(b *testing.B, nop string, shareNet bool) *oci.Compiled {
	b.Helper()
	spec := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/nop"}, ShareNet: shareNet})
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/nop", Type: "bind", Source: nop, Options: []string{"bind", "ro"}})
	c, err := oci.Compile(spec, oci.Options{})
	if err != nil {
		b.Fatalf("oci.Compile: %v", err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkDefaultSandbox is issue 3's benchmark: the default sandbox's
// spawn-to-exit of the static child (compare with bin/bench/sandboxfloor).
func BenchmarkDefaultSandbox(b *testing.B) {
	nop := benchNop(b)
	for _, tc := range []struct {
		name     string
		shareNet bool
	}{{"net", false}, {"nonet", true}} {
		b.Run(tc.name, func(b *testing.B) {
			c := benchDefaultCompiled(b, nop, tc.shareNet)
			testutil.BenchSeq(b, func() error {
				p, err := c.Start(nil)
				if err != nil {
					return err
				}
				st, err := p.Wait()
				if err != nil {
					return err
				}
				if st.ExitCode() != 0 {
					return fmt.Errorf("sandboxed nop: %v", st)
				}
				return nil
			})
		})
	}
}

// BenchmarkCommand is issue 5's library benchmark: Command.Run of
// /bin/true in the default sandbox against unsandboxed os/exec.
func BenchmarkCommand(b *testing.B) {
	b.Run("sandbox", func(b *testing.B) {
		testutil.BenchSeq(b, func() error {
			res, err := sandbox.Command("/bin/true").Run()
			if err != nil {
				return fmt.Errorf("sandbox.Command: %v (%v)", err, res)
			}
			return nil
		})
	})
	b.Run("osexec", func(b *testing.B) {
		testutil.BenchSeq(b, func() error { return exec.Command("/bin/true").Run() })
	})
}
