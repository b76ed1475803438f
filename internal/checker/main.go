// Command checker runs inside sandboxes under test and reports what it sees
// and what it is allowed to do. Tests build it once (testutil.Checker) as
// a static binary, so it runs in any root.
//
//	checker probe              JSON report of identity, limits, fds, mounts…
//	checker syscall NAME ARG…  try one syscall; print "ok" or the errno name
//	checker exit N | sleep D | spin | alloc BYTES | cat FILE | write FILE DATA
//	checker ls DIR | env | fork N | output BYTES | daemon D | inotify-hog D
//
// Every command prints one line (or one JSON document) on stdout and exits
// 0 when it could run, whatever it observed.
package main

import (
	"fmt"
	"os"
	"sort"
)

var commands = map[string]func(args []string) error{}

func main() {
	if len(os.Args) < 2 {
		var names []string
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(os.Stderr, "usage: checker COMMAND ARG…; commands:", names)
		os.Exit(2)
	}
	f, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "checker: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
	if err := f(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "checker:", err)
		os.Exit(3)
	}
}
