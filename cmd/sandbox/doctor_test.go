package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	clear := write("clear", "bob:200000:65536\n# comment\nbroken line\ncarol:165536:65536\n")
	passwd := write("passwd", "root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n")
	if c := idRangeCheck(passwd, clear, filepath.Join(dir, "missing")); !c.ok {
		t.Errorf("no overlap reported as %+v", c)
	}
	overlap := write("overlap", "alice:100000:65536\nbob:200000:65536\n")
	edge := write("edge", "dave:34465:65536\n") // its last id is 100000
	c := idRangeCheck(passwd, clear, overlap, edge)
	if c.ok || !strings.Contains(c.detail, "alice ("+overlap+")") || strings.Contains(c.detail, "bob") ||
		!strings.Contains(c.detail, "dave") || c.fix == "" {
		t.Errorf("overlap: %+v", c)
	}
	owner := write("passwd2", "svc:x:100000:100000::/:/bin/false\n")
	if c := idRangeCheck(owner, clear); c.ok || !strings.Contains(c.detail, "svc (uid 100000 in "+owner+")") {
		t.Errorf("an account in the range: %+v", c)
	}
}
