package cgroups_test

import (
	"fmt"
	"log"
	"os"

	"github.com/gosandbox/sandbox/cgroups"
	"github.com/gosandbox/sandbox/spawn"
)

// Run a command under a 256 MiB memory limit and 64 tasks, then report
// whether it was OOM-killed and its peak memory.
func Example() {
	cg, err := cgroups.New(cgroups.Config{Resources: cgroups.Resources{
		MemoryMax: 256 << 20, MemorySwapMax: cgroups.NoSwap, PidsMax: 64,
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer cg.Destroy() // kills whatever is left, removes the directories

	b := spawn.NewBuilder(3)
	cg.JoinSteps(b) // v1 hierarchies: join before anything else
	b.Rlimits(nil)
	b.RestoreSigmask()
	b.MarkExec()
	b.Exec("/usr/bin/make", []string{"make", "-j4"}, os.Environ())
	prog, err := b.Build()
	if err != nil {
		log.Fatal(err)
	}
	defer prog.Close()

	p, err := spawn.Start(prog, &spawn.Attr{
		Files:  []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Inputs: cg.Inputs(), // in declaration order
		Cgroup: cg.Dir(),    // CLONE_INTO_CGROUP (nil on v1-only hosts)
	})
	if err != nil {
		log.Fatal(err)
	}
	st, err := p.Wait()
	if err != nil {
		log.Fatal(err)
	}
	cg.Kill() // whatever the command left running in the background

	stats, err := cg.Stats()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st, "oom kills:", stats.OOMKills, "peak:", stats.MemoryPeak)
}

// Print what `sandbox doctor` shows about cgroups.
func ExampleProbe() {
	r, err := cgroups.Probe(nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(r)
}
