//go:build linux

package oci_test

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/oci"
	"github.com/gosandbox/sandbox/spawn"
)

// escapeSetup makes a bundle root R and a host directory H outside it. R
// holds symlinks that point at H by absolute and relative paths, and R has
// its own directory at H's path. The spec binds H into the sandbox at
// /probe (recursively, so a mount that landed on H would show up there).
// A mount that resolves correctly lands inside R; one that escaped would
// land on H.
func escapeSetup(t *testing.T) (root, host string, spec *specs.Spec) {
	t.Helper()
	base := t.TempDir()
	os.Chmod(base, 0o755)
	root = filepath.Join(base, "root")
	host = filepath.Join(base, "host")
	for _, d := range []string{root, host, filepath.Join(root, host), root + "/data", root + "/proc", root + "/dev", root + "/etc"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(host, "secret"), []byte("host\n"), 0o644)
	os.WriteFile(filepath.Join(root, host, "secret"), []byte("root\n"), 0o644)
	os.Symlink(host, root+"/data/abs")
	os.Symlink(strings.Repeat("../", 12)+strings.TrimPrefix(host, "/"), root+"/data/rel")
	os.Symlink(host+"/secret", root+"/data/file")
	spec = sandbox.DefaultSpec(sandbox.DefaultOptions{Args: []string{"/checker", "probe"}, Binds: []string{}})
	delete(spec.Annotations, "org.gosandbox.rootfs.tmpfs")
	spec.Root = &specs.Root{Path: root}
	// The host directory lives under /tmp: keep the root's /tmp visible.
	for i, m := range spec.Mounts {
		if m.Destination == "/tmp" {
			spec.Mounts = append(spec.Mounts[:i], spec.Mounts[i+1:]...)
			break
		}
	}
	spec = withChecker(t, spec)
	return root, host, spec
}

func mountsUnder(p *probe, prefix string) []string {
	var out []string
	for _, m := range p.Mounts {
		if m.Point == prefix || strings.HasPrefix(m.Point, prefix+"/") {
			out = append(out, m.Point)
		}
	}
	return out
}

// TestSymlinkCannotRedirectMounts plants symlinks to a host directory in
// the root and mounts through them: every mount must land inside the root.
func TestSymlinkCannotRedirectMounts(t *testing.T) {
	requireUserNS(t)
	_, host, spec := escapeSetup(t)
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/data/abs/t1", Type: "tmpfs"},
		specs.Mount{Destination: "/data/rel/t2", Type: "tmpfs"},
		specs.Mount{Destination: "/data/file", Type: "bind", Source: "/etc/hostname", Options: []string{"bind", "ro"}},
		specs.Mount{Destination: "/probe", Type: "bind", Source: host, Options: []string{"rbind", "ro"}},
	)
	p := getProbe(t, spec)
	if got := mountsUnder(p, "/probe"); len(got) != 1 {
		t.Errorf("mounts on the host directory, seen through /probe: %v", got)
	}
	for _, want := range []string{host + "/t1", host + "/t2", host + "/secret"} {
		if _, _, ok := p.mount(want); !ok {
			t.Errorf("no mount at %s inside the root: %v", want, mountsUnder(p, host))
		}
	}
	if b, _ := os.ReadFile(filepath.Join(host, "secret")); string(b) != "host\n" {
		t.Errorf("host file changed: %q", b)
	}
}

// TestSymlinkRace flips a directory of the root between a real directory
// and a symlink to the host directory while sandboxes mount through it.
// Runs may fail their setup, but no run that got through may show a mount
// that landed on the host directory.
func TestSymlinkRace(t *testing.T) {
	requireUserNS(t)
	root, host, spec := escapeSetup(t)
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/data/flip/t", Type: "tmpfs"},
		specs.Mount{Destination: "/probe", Type: "bind", Source: host, Options: []string{"rbind", "ro"}},
	)
	flip := root + "/data/flip"
	os.Mkdir(flip, 0o755)
	c, err := oci.Compile(spec, oci.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var flips atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.Rename(flip, flip+".dir")
			os.Symlink(host, flip)
			os.Remove(flip)
			os.Rename(flip+".dir", flip)
			flips.Add(1)
		}
	}()
	seen, failed := 0, 0
	for i := 0; i < 300; i++ {
		out, err := startCapture(c)
		if err != nil {
			failed++
			continue
		}
		var pr probe
		if json.Unmarshal(out, &pr) != nil {
			failed++
			continue
		}
		seen++
		if got := mountsUnder(&pr, "/probe"); len(got) != 1 {
			t.Errorf("run %d: a mount landed on the host directory: %v", i, got)
		}
	}
	close(stop)
	wg.Wait()
	if seen == 0 {
		t.Errorf("no run got through the race to be observed")
	}
	t.Logf("%d observed runs, %d failed setups, %d flips", seen, failed, flips.Load())
}

// startCapture runs c with stdout captured; a failed setup is an error.
func startCapture(c *oci.Compiled) ([]byte, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	p, err := c.Start(&spawn.Attr{Files: []*os.File{nil, w, nil}})
	w.Close()
	if err != nil {
		return nil, err
	}
	out, _ := io.ReadAll(r)
	p.Wait()
	return out, nil
}
