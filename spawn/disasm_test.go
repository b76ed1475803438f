//go:build linux

package spawn

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gosandbox/sandbox/internal/testutil"
)

// TestInterpreterIsRuntimeFree disassembles childMain in a copy of this
// test binary built with the same instrumentation (-race, -cover: go test
// strips the binary it runs) and fails on
// any call other than the raw-syscall stubs, any reference to the runtime
// (morestack, write barriers, race hooks, panics), a stack-bound check, or
// a frame that could approach the child's stack.
func TestInterpreterIsRuntimeFree(t *testing.T) {
	if testutil.UnprivilegedPass() {
		testutil.SkipAlways(t, "needs the Go toolchain's caches; runs in the root pass")
	}
	exe := filepath.Join(t.TempDir(), "spawn.test")
	args := []string{"test", "-c", "-o", exe}
	if raceEnabled {
		args = append(args, "-race")
	}
	if testing.CoverMode() != "" {
		args = append(args, "-cover", "-covermode="+testing.CoverMode())
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	out, err := exec.Command("go", "tool", "objdump", "-s", `spawn\.childMain$`, exe).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool objdump: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "TEXT github.com/gosandbox/sandbox/spawn.childMain(SB)") {
		t.Fatalf("childMain not found in the disassembly:\n%s", text)
	}
	allowed := regexp.MustCompile(`spawn\.(rawSyscall6|rawClone)\.abi0\(SB\)`)
	calls := 0
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		insn := strings.Join(f[3:], " ")
		switch {
		case strings.Contains(insn, "runtime."):
			t.Errorf("reference to the runtime: %s", line)
		case strings.HasPrefix(insn, "CALL") || strings.HasPrefix(insn, "BL ") || strings.HasPrefix(insn, "JMP runtime"):
			calls++
			if !allowed.MatchString(insn) {
				t.Errorf("call other than the raw-syscall stubs: %s", line)
			}
		case strings.Contains(insn, "0x10(R14)") || strings.Contains(insn, "16(R28)"):
			t.Errorf("stack-bound check against g: %s", line)
		}
	}
	if calls == 0 {
		t.Errorf("no calls to the stubs found: the disassembly format changed?\n%s", text)
	}
	// The first instructions allocate the frame: SUBQ $n, SP or MOVD.W R30, -n(RSP).
	m := regexp.MustCompile(`(?:SUBQ \$0x([0-9a-f]+), SP|MOVD\.W R30, -(\d+)\(RSP\))`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("frame size not found")
	}
	size, _ := strconv.ParseInt(m[1]+m[2], map[bool]int{true: 16, false: 10}[m[1] != ""], 64)
	if size > 1024 {
		t.Errorf("childMain frame is %d bytes; the child's stack is %d", size, stackSize)
	}
}
