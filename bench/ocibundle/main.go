//go:build linux

// Command ocibundle writes the OCI bundle that scripts/bench.sh runs with
// crun and runc: the default sandbox's own spec (sandbox.DefaultSpec for
// the caller, as `sandbox run --print-spec` shows it) with an empty
// read-only rootfs directory instead of the tmpfs root, so the peers build
// the same sandbox: user (ids 0→100000, 65536 of them), mount, pid, ipc,
// uts, cgroup and network namespaces; proc, a tmpfs /dev with the default
// devices, devpts, /dev/shm, mqueue, a tmpfs /tmp; read-only binds of /usr
// /bin /sbin /lib* /etc; the same masked and read-only paths; no
// capabilities, no_new_privs, RLIMIT_NOFILE 1024 and the default seccomp
// profile (compiled by the runtime's own libseccomp).
//
//	go run ./bench/ocibundle [-share-net] DIR CMD [ARG…]
//
// writes DIR/config.json and creates DIR/rootfs.
package main

import (
	"strings"

	"encoding/json"
	"flag"
	"fmt"
	"github.com/gosandbox/sandbox/rootfs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	sandbox "github.com/gosandbox/sandbox"
)

func main() {
	shareNet := flag.Bool("share-net", false, "keep the host's network namespace")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: ocibundle [-share-net] DIR CMD [ARG…]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 2 {
		flag.Usage()
		os.Exit(2)
	}
	dir := flag.Arg(0)
	spec := sandbox.DefaultSpec(sandbox.DefaultOptions{Args: flag.Args()[1:], ShareNet: *shareNet})
	spec.Root = &specs.Root{Path: "rootfs", Readonly: true}
	// The annotations are this runtime's own. The merged-/usr links one of
	// them asks for (/bin → usr/bin…) become real links in the rootfs.
	links := spec.Annotations[rootfs.AnnotationSymlinks]
	spec.Annotations = nil
	spec.Version = "1.0.2" // crun 1.8.1 refuses newer versions; nothing newer is used
	rootDir := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootDir, 0o755); err != nil {
		fail(err)
	}
	if links != "" {
		for _, pair := range strings.Split(links, ",") {
			link, target, _ := strings.Cut(pair, ":")
			p := filepath.Join(rootDir, link)
			os.Remove(p)
			if err := os.Symlink(target, p); err != nil {
				fail(err)
			}
		}
	}
	// The runtimes create the mount points as the sandbox's root, which is
	// host id 100000 for a privileged caller: give it the rootfs, as one
	// does for any user-namespaced container.
	if len(spec.Linux.UIDMappings) > 0 && os.Geteuid() == 0 {
		m, g := spec.Linux.UIDMappings[0], spec.Linux.GIDMappings[0]
		if err := os.Chown(rootDir, int(m.HostID), int(g.HostID)); err != nil {
			fail(err)
		}
	}
	b, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n'), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ocibundle:", err)
	os.Exit(1)
}
