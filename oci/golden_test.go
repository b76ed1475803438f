//go:build linux

package oci_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/spawn"
)

var update = flag.Bool("update", false, "rewrite the golden programs")

// TestGolden compiles every spec in testdata/golden and compares the
// listing with its .program file (go test -run Golden -update rewrites
// them). Specs named privileged-* compile for a privileged caller, the
// rest for an unprivileged one, so the listing does not depend on who runs
// the test.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.json")
	if len(files) == 0 {
		t.Fatal("no golden specs")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			privileged := strings.HasPrefix(name, "privileged-")
			if privileged {
				testutil.RequireRoot(t)
			}
			spec := loadSpec(t, f)
			c, err := oci.Compile(spec, oci.Options{Unprivileged: !privileged})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got := c.Program.String()
			want := strings.TrimSuffix(f, ".json") + ".program"
			if *update {
				os.WriteFile(want, []byte(got), 0o644)
				return
			}
			b, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(b) {
				t.Errorf("program differs from %s:\n%s", want, got)
			}
		})
	}
}

func loadSpec(t testing.TB, f string) *specs.Spec {
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// FuzzCompile: whatever the spec, Compile does not panic, and never emits a
// program the verifier refuses. The seeds run as a plain test too.
func FuzzCompile(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Add([]byte(`{"process":{"args":["x"]},"linux":{"namespaces":[{"type":"mount"}]},"mounts":[{"destination":"/a/../b/./c","type":"tmpfs","options":["size=1","ro","rshared","nosymfollow"]}],"annotations":{"org.gosandbox.rootfs.tmpfs":"true"}}`))
	f.Add([]byte(`{"process":{"args":["sh"],"env":["PATH=:/x::"]},"linux":{"namespaces":[{"type":"pid"},{"type":"mount"}]},"root":{"path":"/"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s specs.Spec
		if json.Unmarshal(data, &s) != nil {
			return
		}
		c, err := oci.Compile(&s, oci.Options{Unprivileged: true})
		var ve *spawn.VerifyError
		if errors.As(err, &ve) {
			t.Fatalf("the compiler emitted a program the verifier refused: %v", err)
		}
		if err == nil {
			c.Close()
		}
	})
}
