package cgroups

import (
	"os"
	"testing"

	"github.com/gosandbox/sandbox/spawn"
)

// BenchmarkNewDestroy is the cgroup cost of one sandbox on this host.
func BenchmarkNewDestroy(b *testing.B) {
	l := hostLayout(b, "")
	parent := testParent()
	for b.Loop() {
		c, err := New(Config{Layout: l, Parent: parent, Resources: Resources{MemoryMax: 64 << 20, PidsMax: 64}})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Destroy(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpawnJoined spawns /bin/true placed in a sandbox cgroup: with
// CLONE_INTO_CGROUP only ("v2"), and with CLONE_INTO_CGROUP plus the v1
// join steps ("hybrid"), against no cgroup ("none").
func BenchmarkSpawnJoined(b *testing.B) {
	for _, variant := range []string{"none", "v2", ""} {
		name := variant
		if name == "" {
			name = "detected"
		}
		b.Run(name, func(b *testing.B) {
			var c *Cgroup
			if variant != "none" {
				l := hostLayout(b, variant)
				var err error
				if c, err = New(Config{Layout: l, Parent: testParent()}); err != nil {
					b.Fatal(err)
				}
				defer c.Destroy()
			}
			bl := spawn.NewBuilder(3)
			attr := &spawn.Attr{Files: []*os.File{nil, nil, nil}}
			if c != nil {
				c.JoinSteps(bl)
				attr.Inputs, attr.Cgroup = c.Inputs(), c.Dir()
			}
			bl.Rlimits(nil)
			bl.MarkExec()
			bl.Exec("/bin/true", nil, nil)
			prog, err := bl.Build()
			if err != nil {
				b.Fatal(err)
			}
			defer prog.Close()
			for b.Loop() {
				p, err := spawn.Start(prog, attr)
				if err != nil {
					b.Fatal(err)
				}
				p.Wait()
			}
		})
	}
}
