//go:build linux && !cgo

package seccomp

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Without cgo every profile fails to compile: no sandbox starts without
// the filter it asked for.
func TestNoCgoFailsClosed(t *testing.T) {
	if _, err := Compile(DefaultProfile()); !errors.Is(err, ErrNoLibseccomp) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Compile without cgo: %v, want ErrNoLibseccomp", err)
	}
	// Profile errors are still reported with their paths.
	_, err := Compile(&specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_FOO"})
	if err == nil || !strings.Contains(err.Error(), `linux.seccomp.defaultAction: unknown action "SCMP_ACT_FOO"`) {
		t.Fatalf("bad profile without cgo: %v", err)
	}
}
