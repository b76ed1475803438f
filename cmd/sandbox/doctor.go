package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/cgroups"
	"github.com/gosandbox/sandbox/hostids"
	"github.com/gosandbox/sandbox/seccomp"
)

func init() {
	register("doctor", "report what this host supports and what sandbox run will enforce", runDoctor)
}

// check is one line of the report.
type check struct {
	name   string
	ok     bool
	detail string
	fix    string
	needed bool // the default sandbox cannot run without it
}

// runDoctor probes the kernel and the host for every feature the sandbox
// uses, by really calling each syscall (seccomp, an old kernel or a
// container runtime may deny any of them), then runs the default sandbox.
func runDoctor(args []string) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	if err := parseFlags("doctor", fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "usage: sandbox doctor\n\nReports what this host supports, what a sandbox will enforce, and the fix for\neach missing piece; exits 1 when the default sandbox cannot run here.")
			return 0
		}
		return exitSetup
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "sandbox doctor: takes no arguments (got %q)\n", fs.Args())
		return exitSetup
	}
	var checks []check
	add := func(c check) { checks = append(checks, c) }

	var u unix.Utsname
	unix.Uname(&u)
	release := unix.ByteSliceToString(u.Release[:])
	add(check{name: "kernel", ok: kernelAtLeast(release, 5, 12), detail: release, needed: true,
		fix: "Linux 5.12 or newer (clone3, close_range, openat2, mount_setattr, pidfds)"})
	euid := os.Geteuid()
	add(check{name: "privilege", ok: true, detail: map[bool]string{true: "root: ids map to host 100000+, namespaces set up before the user namespace", false: fmt.Sprintf("uid %d: user namespace maps only your own ids; limits need a delegated cgroup", euid)}[euid == 0]})
	if euid == 0 {
		add(idRangeCheck("/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid"))
		add(hostIDsCheck(hostids.DefaultPool()))
	}

	add(probeUserNS())
	add(syscallCheck("clone3", unix.SYS_CLONE3, true, "Linux 5.3"))
	add(pidfdCheck())
	add(syscallCheck("openat2", unix.SYS_OPENAT2, true, "Linux 5.6"))
	add(syscallCheck("mount_setattr", unix.SYS_MOUNT_SETATTR, true, "Linux 5.12"))
	add(syscallCheck("close_range", unix.SYS_CLOSE_RANGE, true, "Linux 5.9"))
	add(seccompCheck())
	add(landlockCheck())

	layout, err := cgroups.Detect()
	if err != nil {
		add(check{name: "cgroups", detail: err.Error(), fix: "mount cgroup2 at /sys/fs/cgroup"})
	} else if rep, err := cgroups.Probe(layout); err != nil {
		add(check{name: "cgroups", detail: err.Error()})
	} else {
		var usable []string
		for _, c := range rep.Controllers {
			if c.Usable && c.Writable && (c.Name == "memory" || c.Name == "pids" || c.Name == "cpu" || c.Name == "cpuacct") {
				usable = append(usable, c.Name+"(v"+fmt.Sprint(c.Version)+")")
			}
		}
		if len(usable) == 0 {
			usable = []string{"none"}
		}
		detail := fmt.Sprintf("mode %s; writable controllers: %s", rep.Mode, strings.Join(usable, " "))
		fixes := slices.Clone(rep.Fixes)
		if rep.Mode == cgroups.ModeHybrid {
			// The controllers are v1's: a delegated cgroup2 subtree,
			// which holds none, does not help.
			fixes = slices.DeleteFunc(fixes, func(f string) bool { return strings.Contains(f, "systemd-run") })
		}
		add(check{name: "cgroups", ok: usable[0] != "none", detail: detail, fix: strings.Join(slices.Compact(fixes), "; ")})
		for _, c := range rep.Controllers {
			if (c.Name == "memory" || c.Name == "pids") && !(c.Usable && c.Writable) {
				add(check{name: "limit " + c.Name, detail: "not enforceable: " + c.Problem, fix: c.Fix})
			}
		}
		killFix := "cgroup.kill (Linux 5.14) or a freezer; the pid namespace still ends the tree"
		if strings.HasPrefix(rep.Kill, "none") {
			killFix = "a cgroup this user may write (run as root); the pid namespace still ends the tree"
		}
		add(check{name: "whole-tree kill", ok: rep.Kill != "" && !strings.HasPrefix(rep.Kill, "none"), detail: rep.Kill, fix: killFix})
		add(check{name: "device rules", ok: rep.DevicesOK, detail: rep.Devices,
			fix: "run as root on a host with cgroup2 mounted; a spec's linux.resources.devices is then enforced (without, it is listed unenforced, or refused with no user namespace)"})
	}

	// The proof: the default sandbox itself.
	c := sandbox.Command("/bin/true")
	res, err := c.Run()
	switch {
	case err == nil:
		add(check{name: "default sandbox", ok: true, detail: "ran /bin/true", needed: true})
	case res != nil && res.SetupError != nil:
		add(check{name: "default sandbox", detail: res.SetupError.Message, needed: true,
			fix: "see the failed step above; sandbox explain -- /bin/true lists every step"})
	default:
		add(check{name: "default sandbox", detail: fmt.Sprint(err), needed: true})
	}

	failed := 0
	for _, c := range checks {
		mark := "ok  "
		if !c.ok {
			mark = "MISS"
			if c.needed {
				failed++
				mark = "FAIL"
			}
		}
		fmt.Printf("%s  %-16s %s\n", mark, c.name, c.detail)
		if !c.ok && c.fix != "" {
			fmt.Printf("      %-16s fix: %s\n", "", c.fix)
		}
	}
	if failed > 0 {
		fmt.Printf("\n%d required feature(s) missing: sandbox run will not work here.\n", failed)
		return 1
	}
	return 0
}

func kernelAtLeast(release string, major, minor int) bool {
	var a, b int
	fmt.Sscanf(release, "%d.%d", &a, &b)
	return a > major || (a == major && b >= minor)
}

// syscallCheck calls nr with invalid arguments: ENOSYS means missing,
// anything else means the kernel has it.
func syscallCheck(name string, nr uintptr, needed bool, since string) check {
	_, _, e := unix.Syscall6(nr, ^uintptr(0), 0, 0, 0, 0, 0)
	if e == unix.ENOSYS {
		return check{name: name, detail: "missing (ENOSYS)", fix: since + " or newer", needed: needed}
	}
	if e == unix.EPERM && name == "clone3" {
		return check{name: name, detail: "denied by a seccomp filter (EPERM)", needed: needed,
			fix: "run outside that container, or have its profile answer ENOSYS/allow clone3"}
	}
	return check{name: name, ok: true, detail: "present", needed: needed}
}

func pidfdCheck() check {
	fd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return check{name: "pidfd", detail: err.Error(), fix: "Linux 5.3 (5.10 for non-blocking pidfds)", needed: true}
	}
	unix.Close(fd)
	return check{name: "pidfd", ok: true, detail: "present", needed: true}
}

func probeUserNS() check {
	c := check{name: "user namespaces", needed: true}
	readInt := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	if v := readInt("/proc/sys/user/max_user_namespaces"); v == "0" {
		c.detail, c.fix = "disabled: user.max_user_namespaces=0", "sysctl -w user.max_user_namespaces=15000"
		return c
	}
	if os.Geteuid() != 0 {
		if v := readInt("/proc/sys/kernel/unprivileged_userns_clone"); v == "0" {
			c.detail, c.fix = "unprivileged ones disabled", "sysctl -w kernel.unprivileged_userns_clone=1"
			return c
		}
		if v := readInt("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); v == "1" {
			c.detail, c.fix = "restricted by AppArmor", "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile allowing userns for sandbox"
			return c
		}
	}
	c.ok = true
	c.detail = "available; max " + readInt("/proc/sys/user/max_user_namespaces")
	return c
}

func seccompCheck() check {
	c := check{name: "seccomp", needed: true}
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		c.detail, c.fix = "not in this kernel: "+err.Error(), "CONFIG_SECCOMP_FILTER=y"
		return c
	}
	c.ok = true
	switch v, api := seccomp.LibraryVersion(); {
	case v != "":
		c.detail = fmt.Sprintf("filters available; libseccomp %s (API %d) for custom profiles", v, api)
	case seccomp.ExternalCompiler != "":
		out, err := exec.Command(seccomp.ExternalCompiler, "version").Output()
		if err != nil {
			c.detail = "filters available; custom profiles: " + seccomp.ExternalCompiler + " fails: " + err.Error()
		} else {
			c.detail = "filters available; custom profiles through " + seccomp.ExternalCompiler + ": " + strings.TrimSpace(string(out))
		}
	default:
		c.detail = "filters available; no libseccomp: only the default and unconfined profiles (install sandbox-seccomp next to sandbox for custom ones)"
	}
	return c
}

func landlockCheck() check {
	const createRulesetVersion = 1
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, createRulesetVersion)
	switch {
	case e == 0:
		return check{name: "landlock", ok: true, detail: fmt.Sprintf("ABI %d (not used by the default sandbox yet)", v)}
	case e == unix.EOPNOTSUPP:
		return check{name: "landlock", detail: "built in but disabled", fix: "add landlock to the lsm= boot parameter"}
	default:
		return check{name: "landlock", detail: "missing (" + unix.ErrnoName(e) + ")", fix: "Linux 5.13 with CONFIG_SECURITY_LANDLOCK (optional)"}
	}
}

// hostIDsCheck reports whether --host-ids auto can reserve ranges here,
// and how many are held and free, without taking one.
func hostIDsCheck(p hostids.Pool) check {
	held, free, err := p.Status()
	if err != nil {
		return check{name: "host-ids auto", detail: err.Error(), fix: "let root create " + p.Dir + " (mode 0700), or run without --host-ids auto"}
	}
	c := check{name: "host-ids auto", ok: free > 0,
		detail: fmt.Sprintf("%d ranges of %d ids from %d: %d held by running sandboxes, %d free (locks in %s)", p.Ranges, hostids.RangeSize, p.First, held, free, p.Dir)}
	if free == 0 {
		c.fix = "wait for running sandboxes to end, or free the ranges that accounts or subordinate ids overlap"
	}
	return c
}

// idRangeCheck reports whether the host ids a root caller's sandboxes run
// as by default (sandbox.DefaultHostIDBase and the 65536 after it) also
// belong to an account or to some user's subordinate ids, which useradd
// hands out from 100000 up: that user's own user namespaces (rootless
// containers, podman unshare) could then own what the sandboxes write and
// signal their processes. Only the files are read: NSS and sssd are not
// asked.
func idRangeCheck(passwd, group, subuid, subgid string) check {
	c := check{name: "id range", ok: true}
	lo := uint64(sandbox.DefaultHostIDBase)
	hi := lo + hostids.RangeSize
	c.detail = fmt.Sprintf("sandboxes run as host ids %d-%d, which no account or subordinate range overlaps; all of them alike, unless --host-ids auto",
		lo, hi-1)
	if who := hostids.Conflicts(lo, hostids.RangeSize, passwd, group, subuid, subgid); len(who) > 0 {
		c.ok = false
		c.detail = fmt.Sprintf("host ids %d-%d, which sandboxes run as, also belong to %s: they can own what sandboxes write and signal their processes",
			lo, hi-1, strings.Join(who, ", "))
		c.fix = "run with --host-ids auto (a range of its own for each sandbox, from " + strconv.Itoa(hostids.DefaultFirst) +
			" up), or give those users other ranges (usermod --del-subuids/--add-subuids, --del-subgids/--add-subgids)"
	}
	return c
}
