package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gosandbox/sandbox/hostids"
)

func TestIDRangeCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	clear := write("clear", "bob:200000:65536\n# comment\nbroken line\ncarol:165536:65536\n")
	passwd := write("passwd", "root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n")
	group := write("group", "root:x:0:\nusers:x:100:\n")
	if c := idRangeCheck(passwd, group, clear, missing); !c.ok {
		t.Errorf("no overlap reported as %+v", c)
	}
	overlap := write("overlap", "alice:100000:65536\nbob:200000:65536\n")
	edge := write("edge", "dave:34465:65536\n") // its last id is 100000
	c := idRangeCheck(passwd, group, overlap, edge)
	if c.ok || !strings.Contains(c.detail, "alice ("+overlap+")") || strings.Contains(c.detail, "bob") ||
		!strings.Contains(c.detail, "dave") || !strings.Contains(c.fix, "--host-ids auto") {
		t.Errorf("overlap: %+v", c)
	}
	owner := write("passwd2", "svc:x:100000:100000::/:/bin/false\n")
	if c := idRangeCheck(owner, group, clear, missing); c.ok || !strings.Contains(c.detail, "svc (id 100000 in "+owner+")") {
		t.Errorf("an account in the range: %+v", c)
	}
	grp := write("group2", "build:x:165535:\n") // the range's last id
	if c := idRangeCheck(passwd, grp, clear, missing); c.ok || !strings.Contains(c.detail, "build (id 165535 in "+grp+")") {
		t.Errorf("a group in the range: %+v", c)
	}
}

func TestHostIDsCheck(t *testing.T) {
	dir := t.TempDir()
	p := hostids.Pool{First: 40 * hostids.RangeSize, Ranges: 2, Dir: filepath.Join(dir, "locks")}
	r, err := p.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if c := hostIDsCheck(p); !c.ok || !strings.Contains(c.detail, "1 held by running sandboxes, 1 free") {
		t.Errorf("one of two held: %+v", c)
	}
	r2, _ := p.Reserve()
	if c := hostIDsCheck(p); c.ok || c.fix == "" {
		t.Errorf("all held: %+v", c)
	}
	r2.Release()
	os.Chmod(p.Dir, 0o777)
	if c := hostIDsCheck(p); c.ok || !strings.Contains(c.detail, "writable by nobody else") || c.fix == "" {
		t.Errorf("a lock directory others may write: %+v", c)
	}
}
