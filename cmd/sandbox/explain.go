package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/gosandbox/sandbox/cgroups"
	"github.com/gosandbox/sandbox/oci"
)

func init() {
	register("explain", "print the step program a run would execute: sandbox explain [flags] -- CMD", runExplain)
}

// runExplain compiles what `sandbox run` would run with the same flags
// and prints the program, one step per line with its meaning. Nothing is
// started and nothing is created.
func runExplain(args []string) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	usage := func() {
		fmt.Fprintln(os.Stderr, "usage: sandbox explain [run flags] -- CMD [ARG…]\n\nPrints the program the child runs between clone3 and exec, one step per line:\nindex, syscall with its arguments, jumps, and what the step is for.\n\nflags (as for sandbox run):")
		printFlags(fs)
	}
	fs.Usage = func() {} // the whole text for -h only
	f := runFlags{dryRun: true}
	f.register(fs)
	if err := parseFlags("explain", fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return 0
		}
		return exitSetup
	}
	c, err := f.command(fs.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox explain:", strings.TrimPrefix(err.Error(), "sandbox: "))
		return exitSetup
	}
	c.Stdin = os.Stdin // as run: a terminal's size is the command's terminal's first
	spec, err := c.EffectiveSpec()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox explain:", strings.TrimPrefix(err.Error(), "sandbox: "))
		return exitSetup
	}
	var res cgroups.Resources
	if spec.Linux != nil {
		var warnings []string
		if res, warnings, err = cgroups.FromOCI(spec.Linux.Resources); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox explain:", strings.TrimPrefix(err.Error(), "sandbox: "))
			return exitSetup
		}
		f.warnings = append(f.warnings, warnings...)
	}
	compiled, err := oci.Compile(spec, c.CompileOptions(spec))
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox explain:", strings.TrimPrefix(err.Error(), "sandbox: "))
		return exitSetup
	}
	defer compiled.Close()
	fmt.Print(compiled.Program)
	if res.Any() || c.Limits.CPUTime > 0 {
		fmt.Println("# with these limits, sandbox run also creates a cgroup: the child starts in it (CLONE_INTO_CGROUP) and joins any cgroup v1 hierarchy with a write to cgroup.procs after pivot_root; " +
			"where the cgroup counts CPU time, --time's RLIMIT_CPU is then a second higher (a backstop to the cgroup's watcher)")
	}
	for _, w := range append(f.warnings, compiled.Warnings...) {
		fmt.Println("# warning:", w)
	}
	return 0
}
