package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gosandbox/sandbox/spawn"
	"golang.org/x/sys/unix"
)

func init() {
	register("spawn", "start a command with the bare spawn core (no isolation)", runSpawn)
}

// runSpawn shows the spawn core on its own: compile, start, wait, and the
// step program on request.
func runSpawn(args []string) int {
	fs := flag.NewFlagSet("spawn", flag.ContinueOnError)
	show := fs.Bool("program", false, "print the step program before running it")
	timing := fs.Bool("time", false, "print the time from Start to exec and to exit")
	dir := fs.String("chdir", "", "working directory")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "usage: sandbox spawn [-program] [-time] [-chdir DIR] -- CMD [ARG…]")
		return 2
	}
	path := argv[0]
	if !filepath.IsAbs(path) {
		if p, err := lookPath(path); err == nil {
			path = p
		}
	}
	prog, err := spawn.Compile(&spawn.Exec{Path: path, Args: argv, Env: os.Environ(), Dir: *dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return exitSetup
	}
	defer prog.Close()
	if *show {
		fmt.Fprint(os.Stderr, prog)
	}
	t0 := time.Now()
	p, err := spawn.Start(prog, &spawn.Attr{Files: []*os.File{os.Stdin, os.Stdout, os.Stderr}})
	t1 := time.Now()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		var se *spawn.StepError
		if errors.As(err, &se) && se.Op == "execve" {
			if se.Errno == unix.ENOENT {
				return 127
			}
			return 126
		}
		return exitSetup
	}
	st, err := p.Wait()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return exitSetup
	}
	if *timing {
		fmt.Fprintf(os.Stderr, "sandbox: exec after %v, exit after %v, %v\n", t1.Sub(t0), time.Since(t0), st)
	}
	if sig, ok := st.Signaled(); ok {
		return 128 + int(sig)
	}
	return st.ExitCode()
}

func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in $PATH", name)
}
