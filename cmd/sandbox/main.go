// Command sandbox runs commands in container-style sandboxes.
//
// Subcommands live in one file each; this file only dispatches.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gosandbox/sandbox/seccomp"
)

// exitSetup is the exit code for a failure before the command ran.
const exitSetup = 125

type command struct {
	summary string
	run     func(args []string) int
}

var commands = map[string]command{}

func register(name, summary string, run func(args []string) int) {
	commands[name] = command{summary, run}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sandbox COMMAND [ARGS…]\n\ncommands:")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
}

// parseFlags parses args into fs and reports a bad flag as "sandbox
// NAME: …", naming flags as the long options they are used as (the flag
// package writes "-name"), with a pointer to -h for an unknown one.
func parseFlags(name string, fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := longFlags(err.Error())
	if strings.HasPrefix(msg, "flag provided but not defined") {
		msg = strings.Replace(msg, "flag provided but not defined", "unknown flag", 1) + " (sandbox " + name + " -h lists them)"
	}
	fmt.Fprintf(os.Stderr, "sandbox %s: %s\n", name, msg)
	return errors.New(msg)
}

// longFlags rewrites the flag names in the flag package's messages as
// the long options they are used as ("for flag -memory" → "--memory"),
// at the places those messages put a name, so that values quoted in them
// stay as given.
func longFlags(msg string) string {
	for _, at := range []string{"for flag -", "for -", "argument: -", "not defined: -"} {
		msg = strings.Replace(msg, at, at+"-", 1)
	}
	return msg
}

// printFlags lists fs's flags on stderr as the GNU long options they are
// used as (--name VALUE), in flag.PrintDefaults's order and layout.
func printFlags(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		if value != "" {
			value = " " + value
		}
		fmt.Fprintf(os.Stderr, "  --%s%s\n    \t%s\n", f.Name, value, strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

// useExternalSeccomp points a build without libseccomp at the
// sandbox-seccomp next to this executable, for custom profiles.
func useExternalSeccomp() {
	if v, _ := seccomp.LibraryVersion(); v != "" {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	p := filepath.Join(filepath.Dir(exe), "sandbox-seccomp")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		seccomp.ExternalCompiler = p
	}
}

func main() {
	useExternalSeccomp()
	if len(os.Args) < 2 {
		usage()
		os.Exit(exitSetup)
	}
	switch os.Args[1] {
	case "-h", "--help", "help":
		usage()
		os.Exit(0)
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "sandbox: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(exitSetup)
	}
	os.Exit(c.run(os.Args[2:]))
}
