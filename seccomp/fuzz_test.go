//go:build linux && cgo

package seccomp

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fuzzSeeds are small profiles that reach every branch of the compiler;
// testdata/*.json adds the larger ones.
var fuzzSeeds = []string{
	`{"defaultAction":"SCMP_ACT_ALLOW"}`,
	`{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38}`,
	`{"defaultAction":"SCMP_ACT_KILL","architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32","SCMP_ARCH_AARCH64"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}`,
	`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ALLOW","args":[{"index":1,"value":4294967295,"valueTwo":21522,"op":"SCMP_CMP_MASKED_EQ"},{"index":1,"value":7,"op":"SCMP_CMP_EQ"}]}]}`,
	`{"defaultAction":"SCMP_ACT_TRAP","syscalls":[{"names":["getpid","nope"],"action":"SCMP_ACT_TRACE","errnoRet":9,"args":[{"index":5,"value":1,"op":"SCMP_CMP_LT"}]}]}`,
	`{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],"listenerPath":"/x","syscalls":[{"names":["getcpu"],"action":"SCMP_ACT_NOTIFY"}]}`,
	`{"defaultAction":"SCMP_ACT_FOO","syscalls":[{"names":[],"action":"SCMP_ACT_BAR","args":[{"index":9,"op":"X"}]}]}`,
}

// compileTwice is the fuzz property: compiling never panics, and the same
// input always gives the same program, flags and warnings, or the same
// error. A program that compiled is well formed and runs in the
// interpreter on any input.
func compileTwice(t *testing.T, data []byte) {
	p, err := ParseProfile(data)
	if err != nil {
		return
	}
	key, err := profileHash(p)
	if err != nil {
		return
	}
	f1, err1 := compileUncached(p, key)
	f2, err2 := compileUncached(p, key)
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("non-deterministic: %v / %v", err1, err2)
	}
	if err1 != nil {
		if err1.Error() != err2.Error() {
			t.Fatalf("different errors:\n%v\n%v", err1, err2)
		}
		return
	}
	if !slices.Equal(f1.Insns, f2.Insns) || f1.Flags != f2.Flags || f1.Notify != f2.Notify || !slices.Equal(f1.Warnings, f2.Warnings) {
		t.Fatal("same profile, different filters")
	}
	if err := checkProgram(f1.Insns); err != nil {
		t.Fatal(err)
	}
	for _, d := range []*seccompData{
		{Nr: 0, Arch: auditArchX86_64},
		{Nr: 39, Arch: auditArchX86_64, Args: [6]uint64{1 << 40, 7}},
		{Nr: 20, Arch: auditArchI386},
		{Nr: x32SyscallBit | 39, Arch: auditArchX86_64},
		{Nr: 56, Arch: auditArchAARCH64},
		{Nr: -1, Arch: auditArchX86_64},
		{Nr: 9999, Arch: 0xdeadbeef},
	} {
		if _, _, err := runBPF(f1.Insns, d); err != nil {
			t.Fatalf("interpreter: %v on %+v", err, d)
		}
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(compileTwice)
}

// TestFuzzSeeds runs the fuzz property over every seed as a plain test, so
// `go test` checks it even where fuzzing is not run.
func TestFuzzSeeds(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(file), func(t *testing.T) { compileTwice(t, data) })
	}
	for i, s := range fuzzSeeds {
		t.Run("seed"+string(rune('0'+i)), func(t *testing.T) { compileTwice(t, []byte(s)) })
	}
}
