//go:build linux

package oci_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/spawn"
)

// TestBindSourceLinks: a bind source is reached through symbolic links
// only when root or the caller owns them. A link another uid left where a
// source lies (a sandbox that could write there earlier: root's sandboxes
// run as host uid 100000) is refused at compile time; a link put in place
// after the compile makes the setup fail (ELOOP) instead of mounting what
// it names.
func TestBindSourceLinks(t *testing.T) {
	requireUserNS(t)
	base := t.TempDir()
	os.Chmod(base, 0o755)
	target := filepath.Join(base, "target")
	os.Mkdir(target, 0o755)
	os.WriteFile(filepath.Join(target, "f"), []byte("target\n"), 0o644)
	specWith := func(src string) *specs.Spec {
		spec := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/checker", "probe"}})
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/probe", Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
		return withChecker(t, spec)
	}

	// The caller's own link is followed.
	own := filepath.Join(base, "own")
	os.Symlink(target, own)
	c, err := oci.Compile(specWith(own), oci.Options{})
	if err != nil {
		t.Fatalf("a link of the caller's: %v", err)
	}
	if _, err := startCapture(c); err != nil {
		t.Errorf("a link of the caller's: %v", err)
	}
	c.Close()

	// Another uid's link is not.
	if os.Geteuid() == 0 {
		other := filepath.Join(base, "other")
		os.Symlink(target, other)
		if err := os.Lchown(other, 100000, 100000); err != nil {
			t.Fatal(err)
		}
		_, err := oci.Compile(specWith(filepath.Join(other, ".")), oci.Options{})
		if err == nil || !strings.Contains(err.Error(), "owned by uid 100000") {
			t.Errorf("a link of uid 100000 in the source: %v", err)
		}
	}

	// Swapped for a link after the compile: the setup stops at the source.
	swap := filepath.Join(base, "swap")
	os.Mkdir(swap, 0o755)
	c, err = oci.Compile(specWith(swap), oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	os.Remove(swap)
	os.Symlink(target, swap)
	_, err = startCapture(c)
	var se *spawn.StepError
	if !errors.As(err, &se) || se.Op != "openat2" || !errors.Is(err, unix.ELOOP) || !strings.Contains(se.Target, swap) {
		t.Errorf("a link swapped in after the compile: %v", err)
	}
}
