// Package cgroups gives each sandbox its own control group: it detects how
// the host mounts cgroups, creates one cgroup per sandbox in every
// hierarchy it needs, applies memory, pids and CPU limits, places the child
// before it runs any code of its own, kills the whole tree, reports
// accounting, and removes everything it created.
//
// # Place in the pipeline
//
// The front ends (CLI, library, OCI runtime) turn limits into a
// [Resources] value and call [New]. The returned [*Cgroup] feeds the spawn
// core in two ways:
//
//   - [Cgroup.Dir] is a cgroup v2 directory for spawn.Attr.Cgroup: clone3
//     with CLONE_INTO_CGROUP (Linux 5.7) starts the child inside it.
//   - [Cgroup.JoinSteps] emits, for every cgroup v1 hierarchy, a step that
//     writes "0" to that hierarchy's cgroup.procs, moving the child before
//     exec; [Cgroup.Inputs] supplies those descriptors per spawn.
//
// After the run the supervisor reads [Cgroup.Stats] and calls
// [Cgroup.Destroy]. [Sweep] removes what a supervisor that died before
// Destroy left behind. [Probe] reports what the host allows, with fixes.
//
// # Where sandboxes go
//
// Each sandbox gets one directory, with the same name, in every hierarchy
// it uses, below a parent ("sandbox" by default) relative to this
// process's own cgroup there. One exception: cgroup v2 lets a cgroup
// enable controllers for its children only while it holds no process, so
// when this process shares its cgroup2 cgroup (a login session's scope)
// and the root is writable, the default parent is /sandbox at the root;
// a delegated service can instead call [Layout.Evacuate].
//
// # Host modes
//
//   - v2 (unified): every controller lives in one cgroup2 hierarchy. Limits,
//     cgroup.kill, memory.peak and memory.events all come from the sandbox's
//     v2 directory.
//   - hybrid: controllers are mounted as v1 hierarchies and a cgroup2
//     hierarchy (usually /sys/fs/cgroup/unified) has few or no controllers.
//     Limits and accounting come from v1; a twin cgroup in the cgroup2
//     hierarchy holds the same processes, so CLONE_INTO_CGROUP,
//     cgroup.kill and cgroup.events (populated) work there too.
//   - v1 (legacy): v1 only. Kill freezes the group (freezer), signals every
//     member and thaws it; without a freezer it signals members until the
//     group is empty.
//
// A controller that is bound to a v1 hierarchy is used there; one that is
// only available in cgroup2 is used there, so mixed hosts work as well.
//
// # Invariants
//
//   - A Cgroup never adopts a leaf it did not create: an existing leaf is a
//     collision. Destroy removes the leaf, and parent directories only when
//     empty (for an absolute Config.Parent, only those New created).
//   - Every descendant of a child placed with Dir and JoinSteps stays inside
//     every hierarchy of the Cgroup; only a privileged member could leave.
//   - Errors name the control file, its directory and the errno
//     (*FileError), and say how to fix delegation problems where known.
//
// This package imports only the spawn core and golang.org/x/sys/unix. It
// knows nothing of flags, specs or result records.
package cgroups
