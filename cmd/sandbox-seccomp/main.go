// Command sandbox-seccomp compiles OCI seccomp profiles with libseccomp
// for a sandbox built without cgo (seccomp.ExternalCompiler): it reads a
// profile as JSON on stdin and writes the BPF program on stdout. Keeping
// libseccomp out of the main binary spares every run the dynamic loader
// and cgo start-up (about 0.8 ms here); the default profile needs no
// compiler at all.
//
//	sandbox-seccomp compile < profile.json
//	sandbox-seccomp version
package main

import (
	"fmt"
	"os"

	"github.com/gosandbox/sandbox/seccomp"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sandbox-seccomp compile|version")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "compile":
		if err := seccomp.ServeExternal(); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox-seccomp:", err)
			os.Exit(1)
		}
	case "version":
		v, api := seccomp.LibraryVersion()
		if v == "" {
			fmt.Fprintln(os.Stderr, "sandbox-seccomp: built without libseccomp")
			os.Exit(1)
		}
		fmt.Printf("libseccomp %s (API %d)\n", v, api)
	default:
		fmt.Fprintln(os.Stderr, "usage: sandbox-seccomp compile|version")
		os.Exit(2)
	}
}
