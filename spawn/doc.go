// Package spawn starts processes the way posix_spawn should: from any
// goroutine, without fork's page-table copy, without parking an OS thread
// for the child's setup, and with failures that name the exact step.
//
// # How
//
// A Program is a list of raw-syscall steps with their data, built by a
// Builder and checked by a verifier (every register, address and jump) before
// it can run. Start copies it into an arena — an mmap'd region outside the
// Go heap that also holds the child's stack, a zeroed fake TLS block and the
// clone_args — and calls a small assembly trampoline:
//
//	parent thread                              child (CLONE_VM, own stack, g = nil)
//	─────────────                              ─────────────────────────────────────
//	block all signals
//	clone3(CLONE_VM|CLONE_SETTLS|
//	       CLONE_CLEAR_SIGHAND|CLONE_FILES|
//	       CLONE_CHILD_CLEARTID|CLONE_NEW*) ──► childMain, on the parent's table:
//	restore signal mask                         pidfd_open(self), epoll_ctl into
//	futex wait on the arena's ctid word           the exit set (for the parent)
//	                                            step 0 close_fds (unshares the
//	                                              descriptor table first)
//	                                            step 1 dup_fds (parallel move)
//	                                            … namespaces, mounts, creds …
//	                                            on failure: {step, errno} into the
//	                                              arena, exit(125)
//	                                            mark_exec: a flag in the arena
//	                 ◄── kernel zeroes ctid, ── execve (mm_release, as for vfork)
//	                     wakes the futex        or exit
//	read the arena's record; arena back to the pool
//
// The kernel clears the word only once the child has left the arena: at
// exec it releases the old mm (as it releases a vfork parent), at exit it
// releases the mm before anything else. Start sleeps in a raw futex wait,
// keeping its P as os/exec's vfork does, for programs that create no
// namespace (they reach exec within microseconds; the P is released after
// 10 ms); a program with namespaces sleeps with the P released.
//
// StartAsync, and programs with sync points or a pid-1 reaper, clone with
// CLONE_PIDFD and without CLONE_FILES, and use a close-on-exec status pipe
// instead: the child writes sync records on it, and EOF proves the child
// left the arena (the kernel switches mm before closing close-on-exec
// descriptors, and exit_mm runs before exit_files). StartAsync watches the
// pipe through the netpoller; Start (with sync points or a reaper) waits in
// a raw ppoll that keeps its P for up to 10 ms in all — a sandbox's setup
// takes about a millisecond, and a wait through the scheduler let the
// runtime's monitor thread retake the P and start another thread that
// competed with the child (about 80 µs of CPU per default sandbox here) —
// then in read(2) with the P released.
//
// Wait never parks a thread: every pidfd being waited for is in one epoll
// set of the package (EPOLLONESHOT), which the netpoller watches through an
// os.File. One goroutine at a time reads the set: the first waiter that
// finds nobody reading does it, so that the netpoller wakes a lone Wait
// directly; the others sleep until it collects their events, and it hands
// the role on when its own child exited. A child started on the parent's
// descriptor table adds its own pidfd to the set before step 0 (its CPU
// time, not the parent's); otherwise Wait adds it. StartAsync of a program
// without sync points registers its status pipe in the same set, and the
// reader settles the start on EOF (a dispatcher goroutine reads while only
// such pipes are registered).
//
// The child never enters the Go runtime: childMain is //go:nosplit,
// //go:norace and //go:nocheckptr, calls nothing but the raw-syscall stubs
// (a test disassembles it), and reads only the arena.
//
// # Descriptors
//
// Step 0 closes every descriptor outside the spawn's keep-set (so other
// in-flight spawns' pipes and host descriptors never reach the child, and
// never delay another spawn's EOF); step 1 moves the caller's files to
// 0…N-1 and the program's own descriptors to fixed slots after them (see
// planFds). Steps refer to those slots by number.
//
// A start that sleeps on the cleartid word clones with CLONE_FILES: the
// child shares the parent's descriptor table until step 0, whose first
// close_range (CLOSE_RANGE_UNSHARE over everything above the keep-set)
// copies only the descriptors up to the highest one kept. clone3 then
// copies no descriptor table in the parent, however many descriptors the
// parent holds; the parent keeps the program's and the caller's
// descriptors open until the child exec'd.
//
// # Caveats
//
//   - The child shares the parent's mm until exec, so a credential change in
//     the child resets the parent's dumpable flag (commit_creds). A
//     privileged parent is made non-dumpable before its first spawn; an
//     unprivileged one stays dumpable (its children write their own id maps
//     through /proc/self).
//   - PR_SET_PDEATHSIG fires when the parent *thread* that cloned the child
//     exits, not the process (go.dev/issue/27505). The Go runtime rarely
//     ends threads, but a goroutine that exits while locked to its thread
//     takes the thread with it.
//   - For a program without namespaces, Start keeps its P while the child
//     reaches exec (normally tens of microseconds; at most 10 ms, then the P
//     is released), as os/exec keeps it across vfork: a blocking system call
//     through the scheduler would wake the runtime's monitor thread, which
//     would retake the P and start another thread, costing more CPU than
//     the child needs to exec. Garbage collection waits that long to stop
//     the world.
//   - clone3 runs on the caller's thread while it holds its P; namespace
//     creation inside clone3 (a network namespace costs 0.2–1.4 ms) delays
//     that goroutine and stop-the-world by as much.
//   - A pid-1 reaper (OpReaper) never execs: it keeps the parent's address
//     space mapped until it exits. It holds its arena until Wait.
//
// Linux 5.12 or newer is required (clone3 with CLONE_CLEAR_SIGHAND and
// CLONE_INTO_CGROUP, close_range, pidfds that poll, openat2, mount_setattr).
// amd64 is built, tested and benchmarked; arm64 is built and vetted only.
package spawn
