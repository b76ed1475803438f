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
	if c := idRangeCheck(clear, filepath.Join(dir, "missing")); !c.ok {
		t.Errorf("no overlap reported as %+v", c)
	}
	overlap := write("overlap", "alice:100000:65536\nbob:200000:65536\n")
	edge := write("edge", "dave:34465:65536\n") // its last id is 100000
	c := idRangeCheck(clear, overlap, edge)
	if c.ok || !strings.Contains(c.detail, "alice ("+overlap+")") || strings.Contains(c.detail, "bob") ||
		!strings.Contains(c.detail, "dave") || c.fix == "" {
		t.Errorf("overlap: %+v", c)
	}
}
