//go:build linux

package oci_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/internal/testutil"
	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/spawn"
)

// probe mirrors internal/checker's report.
type probe struct {
	Pid, Ppid            int
	Uid, Gid             [3]int
	Groups               []int
	UidMap, GidMap       string
	Setgroups            string
	Status               map[string]string
	Fds                  map[int]string
	Cwd                  string
	Hostname, Domainname string
	Umask                int
	Rlimits              map[string][2]uint64
	Mounts               []struct{ Point, FSType, Source, Options, SuperOptions string }
	Env                  []string
	Namespaces           map[string]string
	OOMScoreAdj          string
}

func (p *probe) mount(point string) (opts string, fstype string, ok bool) {
	// The last mount on a point is the visible one.
	for i := len(p.Mounts) - 1; i >= 0; i-- {
		if p.Mounts[i].Point == point {
			return p.Mounts[i].Options, p.Mounts[i].FSType, true
		}
	}
	return "", "", false
}

// defaultSpec is the default sandbox running the checker, which is bound
// read-only at /checker.
func defaultSpec(t *testing.T, args ...string) *specs.Spec {
	t.Helper()
	s := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: append([]string{"/checker"}, args...)})
	return withChecker(t, s)
}

func withChecker(t *testing.T, s *specs.Spec) *specs.Spec {
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/checker", Type: "bind", Source: testutil.Checker(t), Options: []string{"bind", "ro"}})
	return s
}

// run compiles and runs spec, returning stdout and the exit state.
func run(t *testing.T, spec *specs.Spec, opts oci.Options) ([]byte, *spawn.State) {
	t.Helper()
	c, err := oci.Compile(spec, opts)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	defer c.Close()
	return start(t, c)
}

func start(t *testing.T, c *oci.Compiled) ([]byte, *spawn.State) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := c.Start(&spawn.Attr{Files: []*os.File{nil, w, os.Stderr}})
	w.Close()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { out.ReadFrom(r); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		p.Kill()
		<-done
		t.Errorf("sandbox did not finish in 60s")
	}
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return out.Bytes(), st
}

// check runs the checker with args in spec and returns its one-line
// answer.
func check(t *testing.T, spec *specs.Spec) string {
	t.Helper()
	out, st := run(t, spec, oci.Options{})
	if st.ExitCode() != 0 {
		t.Fatalf("%v running %q: %s", st, spec.Process.Args, out)
	}
	return strings.TrimSpace(string(out))
}

func getProbe(t *testing.T, spec *specs.Spec) *probe {
	t.Helper()
	out := check(t, spec)
	var p probe
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("decoding the probe: %v\n%s", err, out)
	}
	return &p
}

func requireUserNS(t *testing.T) {
	t.Helper()
	testutil.RequireUserNS(t)
}
