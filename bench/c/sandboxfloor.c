/*
 * sandboxfloor: the C floor of the default sandbox (issue 3). It runs a
 * static child N times in exactly the setup `sandbox run` builds for a root
 * caller (sandbox.DefaultSpec, compiled by oci.Compile; see its program with
 * a `go run` of oci.Compile(...).Program.String()), the way a careful C
 * runtime would: clone(CLONE_VM) on a reused stack, plain mount(2) where it
 * does the job, raw syscalls in the child, and prints one line in the format
 * of spawnbench:
 *
 *   sandboxfloor method=M k=1 n=N p50_us=… p90_us=… p99_us=… mean_us=…
 *                cpu_us=… rate=… child=PATH
 *
 * (µs per sandbox from the clone call until the pid-1 reaper is reaped;
 * cpu_us is the parent's own CPU per sandbox.)
 *
 * The setup, in the order of the compiled program:
 *   parent   pipes (status, sync; close-on-exec), block all signals,
 *            clone(CLONE_VM|CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC|
 *            CLONE_NEWUTS|CLONE_NEWNET) on a reused stack, restore the mask
 *   pid 1    close_range of foreign descriptors, signalfd for every signal,
 *            clone(CLONE_VM) the command on a second stack, close the status
 *            pipe, then reap and forward signals; exit with the command's
 *            status
 *   pid 2    RLIMIT_NOFILE 1024, umask 0, / rprivate, an empty tmpfs root
 *            (fsopen/fsmount/move_mount over /: mode 0755, size 1m, owned by
 *            100000), proc, tmpfs /dev, devpts /dev/pts (newinstance,
 *            ptmxmode=0666, mode=0620, gid 5 mapped), tmpfs /dev/shm, mqueue,
 *            tmpfs /tmp, read-only recursive nosuid/nodev binds of /usr /bin
 *            /sbin /lib /lib32 /lib64 /libx32 /etc (those that exist), the
 *            child bound read-only at /<basename>, mknod null zero full random
 *            urandom tty (+ chown to 100000), the /dev symlinks, hostname
 *            "sandbox", lo up (with a network namespace), pivot_root(".", ".")
 *            + detach, masked paths (an empty read-only tmpfs over a
 *            directory, /dev/null over a file, skipped when missing),
 *            read-only /proc/{bus,fs,irq,sys,sysrq-trigger}, root read-only,
 *            unshare(CLONE_NEWCGROUP), unshare(CLONE_NEWUSER), sync: the
 *            parent finds the command in the reaper's children and writes
 *            uid_map/gid_map "0 100000 65536", setgroups/setresgid/setresuid
 *            0, setsid, chdir /, drop the bounding set, ids again, capset
 *            nothing, clear ambient, umask 022, restore the signal mask, the
 *            "about to exec" record, no_new_privs, the default seccomp filter
 *            (420 instructions, generated from the Go compiler into
 *            seccomp_default.h), execve with PATH and HOME only.
 *
 * Usage: sandboxfloor [-n N] [-w W] [-A] [-N] [-S] [-V] [-m NAME] CHILD [ARG...]
 *   -n  timed sandboxes (default 1000)
 *   -w  untimed warm-up sandboxes (default 30)
 *   -A  the new mount API throughout, step for step as the compiled program
 *       does it (fsopen/fsconfig/fsmount, open_tree, mount_setattr,
 *       openat2 + mkdirat for every target, move_mount): an ablation that
 *       tells the syscall strategy from the rest
 *   -N  no new network namespace (and so no lo up), like --share-net
 *   -S  no seccomp filter (an ablation; the default sandbox loads one)
 *   -V  keep stdin, stdout and stderr (to look at the sandbox by hand:
 *       sandboxfloor -V -n 1 -w 0 /bin/sh -c 'cat /proc/self/mountinfo')
 *   -m  the method name printed (default "default", or "default-nonet")
 * CHILD (bound read-only at /<basename>) must exit 0; ARGs, when given, are
 * its whole argv. By default stdin, stdout and stderr are closed, as with
 * spawn's nil Files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "seccomp_default.h"

#ifndef __WALL
#define __WALL 0x40000000
#endif

enum { HOST_ID = 100000, ID_RANGE = 65536, STACK = 64 << 10 };

/* ------------------------------------------------------------ raw calls -- */

/* sys: a raw syscall returning -errno, without touching errno: the child
 * shares the parent's memory (and TLS) until execve. */
static inline long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
	return x0;
#else
#error "sandboxfloor.c: add the raw syscall for this architecture"
#endif
}
#define SYS(nr, ...) SYS_(nr, __VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define SYS_(nr, a, b, c, d, e, f, ...) sys6((nr), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* ------------------------------------------------------------- protocol -- */

/* Records on the status pipe (child → parent). */
enum { REC_FAIL = 1, REC_SYNC, REC_EXEC };
struct rec {
	int type, err;
	const char *what; /* the failed step: the child shares our memory */
};

static struct {
	int status_w, sync_r;
	const char *child;
	char *const *argv, *const *envp;
	int net;
	int seccomp;
	int keep_stdio;
	int newapi;
	sigset_t saved_mask;
	int cap_last;
	const char *binds[8];
	int nbinds;
	char child_abs[4097]; /* "/nop": what execve runs after pivot_root */
	const char *child_rel; /* "nop": the mount point, relative to the new root */
	char devpts_opts[96], devpts_gid[16], root_uid[16], root_gid[16];
	pid_t cmd_pid;
} cfg;

static char stack1[STACK] __attribute__((aligned(64)));
static char stack2[STACK] __attribute__((aligned(64)));

static void child_fail(const char *what, long err) __attribute__((noreturn));
static void child_fail(const char *what, long err)
{
	struct rec r = { REC_FAIL, (int)-err, what };
	SYS(SYS_write, cfg.status_w, &r, sizeof(r));
	SYS(SYS_exit_group, 125);
	__builtin_unreachable();
}

/* CK runs a raw call and fails the sandbox with its name on error. */
#define CK(what, call)                                        \
	do {                                                  \
		long r_ = (call);                             \
		if (r_ < 0 && r_ > -4096)                     \
			child_fail(what, r_);                 \
	} while (0)
/* OK runs a raw call and accepts the errno e as success. */
#define OK(what, e, call)                                     \
	do {                                                  \
		long r_ = (call);                             \
		if (r_ < 0 && r_ > -4096 && r_ != -(e))       \
			child_fail(what, r_);                 \
	} while (0)

/* ----------------------------------------------------------- the command -- */

static const char *const masked[] = {
	"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
};
static const char *const readonly[] = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" };
static const struct {
	const char *name;
	unsigned maj, min;
} devices[] = { { "dev/full", 1, 7 }, { "dev/null", 1, 3 }, { "dev/random", 1, 8 },
		{ "dev/tty", 5, 0 },  { "dev/urandom", 1, 9 }, { "dev/zero", 1, 5 } };
static const char *const links[][2] = {
	{ "/proc/self/fd", "dev/fd" },	   { "/proc/self/fd/0", "dev/stdin" }, { "/proc/self/fd/1", "dev/stdout" },
	{ "/proc/self/fd/2", "dev/stderr" }, { "/proc/kcore", "dev/core" },	 { "pts/ptmx", "dev/ptmx" },
};

static void fsconfig_str(int fd, const char *key, const char *val, const char *what)
{
	CK(what, SYS(SYS_fsconfig, fd, FSCONFIG_SET_STRING, key, val, 0));
}

/* bind_ro binds src at dst (relative to the new root, the cwd) with attr
 * set, recursively when rec. */
static void bind_ro(const char *src, const char *dst, int rec, unsigned long long attr, const char *what)
{
	struct mount_attr ma = { .attr_set = attr };
	CK(what, SYS(SYS_mount, src, dst, 0, MS_BIND | (rec ? MS_REC : 0), 0));
	CK(what, SYS(SYS_mount_setattr, AT_FDCWD, dst, rec ? AT_RECURSIVE : 0, &ma, sizeof(ma)));
}

/* --------------------------------------- the setup with mount(2) (default) */

/* mounts_plain builds the tree with mount(2), relative to the new root (the
 * cwd), then the devices and links. */
static void mounts_plain(void)
{
	int fd;

	OK("mkdir proc", EEXIST, SYS(SYS_mkdir, "proc", 0755));
	CK("mount proc", SYS(SYS_mount, "proc", "proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, 0));
	OK("mkdir dev", EEXIST, SYS(SYS_mkdir, "dev", 0755));
	CK("mount /dev", SYS(SYS_mount, "tmpfs", "dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"));
	OK("mkdir dev/pts", EEXIST, SYS(SYS_mkdir, "dev/pts", 0755));
	CK("mount devpts", SYS(SYS_mount, "devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, cfg.devpts_opts));
	OK("mkdir dev/shm", EEXIST, SYS(SYS_mkdir, "dev/shm", 0755));
	CK("mount /dev/shm", SYS(SYS_mount, "shm", "dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k"));
	OK("mkdir dev/mqueue", EEXIST, SYS(SYS_mkdir, "dev/mqueue", 0755));
	CK("mount mqueue", SYS(SYS_mount, "mqueue", "dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, 0));
	OK("mkdir tmp", EEXIST, SYS(SYS_mkdir, "tmp", 0755));
	CK("mount /tmp", SYS(SYS_mount, "tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
	for (int i = 0; i < cfg.nbinds; i++) {
		OK("mkdir bind", EEXIST, SYS(SYS_mkdir, cfg.binds[i] + 1, 0755));
		bind_ro(cfg.binds[i], cfg.binds[i] + 1, 1, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "bind system dir");
	}
	fd = (int)SYS(SYS_openat, AT_FDCWD, cfg.child_rel, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	CK("create the child's mount point", fd);
	SYS(SYS_close, fd);
	bind_ro(cfg.child, cfg.child_rel, 0, MOUNT_ATTR_RDONLY, "bind the child");

	for (unsigned i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		OK("mknod", EEXIST, SYS(SYS_mknodat, AT_FDCWD, devices[i].name, S_IFCHR | 0666, makedev(devices[i].maj, devices[i].min)));
		CK("chown device", SYS(SYS_fchownat, AT_FDCWD, devices[i].name, HOST_ID, HOST_ID, AT_SYMLINK_NOFOLLOW));
	}
	for (unsigned i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		OK("symlink", EEXIST, SYS(SYS_symlinkat, links[i][0], AT_FDCWD, links[i][1]));
}

/* protect_plain masks and write-protects, after pivot_root. */
static void protect_plain(void)
{
	for (unsigned i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
		long r = SYS(SYS_mount, "tmpfs", masked[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
		if (r == -ENOTDIR)
			r = SYS(SYS_mount, "/dev/null", masked[i], 0, MS_BIND, 0);
		if (r < 0 && r != -ENOENT)
			child_fail("mask", r);
	}
	for (unsigned i = 0; i < sizeof(readonly) / sizeof(readonly[0]); i++) {
		struct mount_attr ma = { .attr_set = MOUNT_ATTR_RDONLY };
		long r = SYS(SYS_mount, readonly[i], readonly[i], 0, MS_BIND | MS_REC, 0);
		if (r == -ENOENT)
			continue;
		CK("bind read-only path", r);
		CK("read-only path", SYS(SYS_mount_setattr, AT_FDCWD, readonly[i], AT_RECURSIVE, &ma, sizeof(ma)));
	}
}

/* ------------------------- the setup with the new mount API (-A ablation) */

/* The compiled program's own sequence, step for step: every mount through
 * fsopen/fsconfig/fsmount or open_tree, its target found with openat2
 * (RESOLVE_IN_ROOT) from the root's descriptor — ENOENT first, as the root
 * is empty — created with mkdirat and opened again, attached with
 * move_mount, every descriptor closed. */

static long in_root(int dirfd, const char *path, unsigned long long flags)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	return SYS(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* target opens rel (one or two components) under root as a directory,
 * creating what is missing the way the compiled program does. */
static int target(int root, const char *rel)
{
	long fd = in_root(root, rel, O_PATH | O_DIRECTORY), parent;
	const char *slash;

	if (fd != -ENOENT) {
		CK("openat2 target", fd);
		return (int)fd;
	}
	slash = strchr(rel, '/');
	if (!slash) {
		OK("mkdirat", EEXIST, SYS(SYS_mkdirat, root, rel, 0755));
	} else {
		char first[64];
		size_t n = (size_t)(slash - rel);
		memcpy(first, rel, n);
		first[n] = 0;
		OK("mkdirat", EEXIST, SYS(SYS_mkdirat, root, first, 0755));
		parent = in_root(root, first, O_PATH | O_DIRECTORY);
		CK("openat2 parent", parent);
		OK("mkdirat", EEXIST, SYS(SYS_mkdirat, parent, slash + 1, 0755));
		fd = in_root(root, rel, O_PATH | O_DIRECTORY);
		CK("openat2 target", fd);
		SYS(SYS_close, parent);
		return (int)fd;
	}
	fd = in_root(root, rel, O_PATH | O_DIRECTORY);
	CK("openat2 target", fd);
	return (int)fd;
}

/* fs_new: fsopen, fsconfig source (when given) and each KEY=VALUE or flag
 * of opts (a NULL-terminated list), create, fsmount with attrs. */
static int fs_new(const char *type, const char *source, const char *const *opts, unsigned attrs)
{
	long fs = SYS(SYS_fsopen, type, FSOPEN_CLOEXEC), mnt;
	CK("fsopen", fs);
	if (source)
		CK("fsconfig source", SYS(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", source, 0));
	for (; opts && *opts; opts += 2) {
		if (opts[1])
			CK("fsconfig", SYS(SYS_fsconfig, fs, FSCONFIG_SET_STRING, opts[0], opts[1], 0));
		else
			CK("fsconfig flag", SYS(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, opts[0], 0, 0));
	}
	CK("fsconfig create", SYS(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, 0, 0, 0));
	mnt = SYS(SYS_fsmount, fs, FSMOUNT_CLOEXEC, attrs);
	CK("fsmount", mnt);
	SYS(SYS_close, fs);
	return (int)mnt;
}

static void attach(int mnt, int dir)
{
	CK("move_mount", SYS(SYS_move_mount, mnt, "", dir, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
	SYS(SYS_close, dir);
	SYS(SYS_close, mnt);
}

static void mount_new(int root, const char *type, const char *source, const char *const *opts, unsigned attrs, const char *rel)
{
	int mnt = fs_new(type, source, opts, attrs);
	attach(mnt, target(root, rel));
}

static void mounts_newapi(int root)
{
	static const char *const dev_opts[] = { "mode", "755", "size", "65536k", NULL };
	static const char *const shm_opts[] = { "mode", "1777", "size", "65536k", NULL };
	static const char *const tmp_opts[] = { "mode", "1777", NULL };
	const char *pts_opts[] = { "newinstance", NULL, "ptmxmode", "0666", "mode", "0620", "gid", cfg.devpts_gid, NULL };
	enum { NOSUID = MOUNT_ATTR_NOSUID, NODEV = MOUNT_ATTR_NODEV, NOEXEC = MOUNT_ATTR_NOEXEC };
	long tree, fd, dir;

	mount_new(root, "proc", "proc", NULL, NOSUID | NODEV | NOEXEC, "proc");
	mount_new(root, "tmpfs", "tmpfs", dev_opts, NOSUID | MOUNT_ATTR_STRICTATIME, "dev");
	mount_new(root, "devpts", "devpts", pts_opts, NOSUID | NOEXEC, "dev/pts");
	mount_new(root, "tmpfs", "shm", shm_opts, NOSUID | NODEV | NOEXEC, "dev/shm");
	mount_new(root, "mqueue", "mqueue", NULL, NOSUID | NODEV | NOEXEC, "dev/mqueue");
	mount_new(root, "tmpfs", "tmpfs", tmp_opts, NOSUID | NODEV, "tmp");
	for (int i = 0; i < cfg.nbinds; i++) {
		struct mount_attr ma = { .attr_set = MOUNT_ATTR_RDONLY | NOSUID | NODEV };
		tree = SYS(SYS_open_tree, AT_FDCWD, cfg.binds[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
		CK("open_tree", tree);
		CK("mount_setattr", SYS(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &ma, sizeof(ma)));
		attach((int)tree, target(root, cfg.binds[i] + 1));
	}
	{
		struct mount_attr ma = { .attr_set = MOUNT_ATTR_RDONLY };
		tree = SYS(SYS_open_tree, AT_FDCWD, cfg.child, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		CK("open_tree the child", tree);
		CK("mount_setattr", SYS(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &ma, sizeof(ma)));
		fd = in_root(root, cfg.child_rel, O_PATH);
		if (fd == -ENOENT)
			fd = in_root(root, cfg.child_rel, O_CREAT);
		CK("the child's mount point", fd);
		attach((int)tree, (int)fd);
	}
	for (unsigned i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
		dir = target(root, "dev");
		OK("mknodat", EEXIST, SYS(SYS_mknodat, dir, devices[i].name + 4, S_IFCHR | 0666, makedev(devices[i].maj, devices[i].min)));
		CK("fchownat", SYS(SYS_fchownat, dir, devices[i].name + 4, HOST_ID, HOST_ID, AT_SYMLINK_NOFOLLOW));
		SYS(SYS_close, dir);
	}
	dir = target(root, "dev");
	for (unsigned i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		OK("symlinkat", EEXIST, SYS(SYS_symlinkat, links[i][0], dir, links[i][1] + 4));
	SYS(SYS_close, dir);
}

static void protect_newapi(void)
{
	static const char *const mask_opts[] = { "size", "0", NULL };
	long dir, mnt;

	for (unsigned i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
		dir = in_root(AT_FDCWD, masked[i], O_PATH | O_DIRECTORY);
		if (dir >= 0) {
			attach(fs_new("tmpfs", NULL, mask_opts, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC), (int)dir);
			continue;
		}
		if (dir != -ENOENT && dir != -ENOTDIR)
			child_fail("openat2 mask", dir);
		dir = in_root(AT_FDCWD, masked[i], O_PATH);
		if (dir == -ENOENT)
			continue;
		CK("openat2 mask", dir);
		mnt = SYS(SYS_open_tree, AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		CK("open_tree /dev/null", mnt);
		attach((int)mnt, (int)dir);
	}
	for (unsigned i = 0; i < sizeof(readonly) / sizeof(readonly[0]); i++) {
		struct mount_attr ma = { .attr_set = MOUNT_ATTR_RDONLY };
		dir = in_root(AT_FDCWD, readonly[i], O_PATH);
		if (dir == -ENOENT)
			continue;
		CK("openat2 read-only path", dir);
		mnt = SYS(SYS_open_tree, dir, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
		CK("open_tree read-only path", mnt);
		CK("mount_setattr", SYS(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH | AT_RECURSIVE, &ma, sizeof(ma)));
		attach((int)mnt, (int)dir);
	}
}

/* ----------------------------------------------------------- the command -- */

static int command_main(void *arg)
{
	(void)arg;
	struct rlimit nofile = { 1024, 1024 };
	int root, fd;
	char c;

	CK("prlimit64 NOFILE", SYS(SYS_prlimit64, 0, RLIMIT_NOFILE, &nofile, 0));
	SYS(SYS_umask, 0);
	CK("mount / rprivate", SYS(SYS_mount, 0, "/", 0, MS_REC | MS_PRIVATE, 0));

	/* The empty tmpfs root, attached over / (mount(2) cannot name it once
	 * it is there; the new mount API hands back a descriptor). */
	fd = (int)SYS(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	CK("fsopen root", fd);
	fsconfig_str(fd, "mode", "0755", "fsconfig root mode");
	fsconfig_str(fd, "size", "1m", "fsconfig root size");
	fsconfig_str(fd, "uid", cfg.root_uid, "fsconfig root uid");
	fsconfig_str(fd, "gid", cfg.root_gid, "fsconfig root gid");
	CK("fsconfig root create", SYS(SYS_fsconfig, fd, FSCONFIG_CMD_CREATE, 0, 0, 0));
	root = (int)SYS(SYS_fsmount, fd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	CK("fsmount root", root);
	SYS(SYS_close, fd);
	CK("move_mount root over /", SYS(SYS_move_mount, root, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH));

	if (cfg.newapi) {
		mounts_newapi(root);
	} else {
		CK("fchdir root", SYS(SYS_fchdir, root));
		mounts_plain();
	}

	CK("sethostname", SYS(SYS_sethostname, "sandbox", 7));
	if (cfg.net) {
		struct ifreq ifr;
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, "lo", 3);
		ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
		fd = (int)SYS(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		CK("socket for lo", fd);
		CK("lo up", SYS(SYS_ioctl, fd, SIOCSIFFLAGS, &ifr));
		SYS(SYS_close, fd);
	}

	/* Into the new root. */
	CK("fchdir root", SYS(SYS_fchdir, root));
	CK("pivot_root", SYS(SYS_pivot_root, ".", "."));
	CK("umount2 old root", SYS(SYS_umount2, ".", MNT_DETACH));
	CK("chdir /", SYS(SYS_chdir, "/"));
	if (cfg.newapi)
		protect_newapi();
	else
		protect_plain();
	{
		struct mount_attr ma = { .attr_set = MOUNT_ATTR_RDONLY };
		CK("root read-only", SYS(SYS_mount_setattr, root, "", AT_EMPTY_PATH, &ma, sizeof(ma)));
	}
	SYS(SYS_close, root);

	/* Namespaces the command alone gets, then its identity. */
	CK("unshare cgroup", SYS(SYS_unshare, CLONE_NEWCGROUP));
	CK("unshare user", SYS(SYS_unshare, CLONE_NEWUSER));
	{
		struct rec r = { REC_SYNC, 0, 0 };
		CK("sync write", SYS(SYS_write, cfg.status_w, &r, sizeof(r)));
		long n = SYS(SYS_read, cfg.sync_r, &c, 1);
		if (n != 1 || c != 0)
			child_fail("sync read", n < 0 ? n : -EPIPE);
	}
	CK("setgroups", SYS(SYS_setgroups, 0, 0));
	CK("setresgid", SYS(SYS_setresgid, 0, 0, 0));
	CK("setresuid", SYS(SYS_setresuid, 0, 0, 0));
	CK("setsid", SYS(SYS_setsid, 0));
	CK("chdir /", SYS(SYS_chdir, "/"));
	for (int cap = 0; cap <= cfg.cap_last; cap++)
		CK("PR_CAPBSET_DROP", SYS(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0));
	CK("setgroups", SYS(SYS_setgroups, 0, 0));
	CK("setresgid", SYS(SYS_setresgid, 0, 0, 0));
	CK("setresuid", SYS(SYS_setresuid, 0, 0, 0));
	{
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2];
		memset(d, 0, sizeof(d));
		CK("capset", SYS(SYS_capset, &h, d));
	}
	CK("clear ambient", SYS(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
	SYS(SYS_umask, 022);
	CK("restore sigmask", SYS(SYS_rt_sigprocmask, SIG_SETMASK, &cfg.saved_mask, 0, 8));
	{
		struct rec r = { REC_EXEC, 0, 0 };
		CK("exec record", SYS(SYS_write, cfg.status_w, &r, sizeof(r)));
	}
	CK("no_new_privs", SYS(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	if (cfg.seccomp) {
		struct sock_fprog prog = { sizeof(default_filter) / sizeof(default_filter[0]), default_filter };
		CK("seccomp", SYS(SYS_seccomp, SECCOMP_SET_MODE_FILTER, DEFAULT_FILTER_FLAGS, &prog));
	}
	child_fail("execve", SYS(SYS_execve, cfg.child_abs, cfg.argv, cfg.envp));
}

/* -------------------------------------------------------------- pid 1 ---- */

static int reaper_main(void *arg)
{
	(void)arg;
	sigset_t all;
	struct signalfd_siginfo si;
	long sfd, pid, r;
	int st, cmd_st = 0, done = 0;

	/* close_fds: nothing but the two pipe ends the command needs. */
	if (!cfg.keep_stdio)
		SYS(SYS_close_range, 0, 2, 0);
	{
		int lo = cfg.status_w < cfg.sync_r ? cfg.status_w : cfg.sync_r;
		int hi = cfg.status_w ^ cfg.sync_r ^ lo;
		if (lo > 3)
			SYS(SYS_close_range, 3, lo - 1, 0);
		if (hi > lo + 1)
			SYS(SYS_close_range, lo + 1, hi - 1, 0);
		SYS(SYS_close_range, hi + 1, ~0U, 0);
	}
	sigfillset(&all);
	sfd = SYS(SYS_signalfd4, -1, &all, 8, SFD_CLOEXEC);
	CK("signalfd", sfd);
	pid = clone(command_main, stack2 + STACK, CLONE_VM | SIGCHLD, 0);
	CK("clone the command", pid);
	SYS(SYS_close, cfg.status_w);
	for (;;) {
		r = SYS(SYS_read, sfd, &si, sizeof(si));
		if (r == -EINTR)
			continue;
		if (r < 0)
			SYS(SYS_exit_group, 125);
		if (si.ssi_signo != SIGCHLD) {
			SYS(SYS_kill, pid, si.ssi_signo);
			continue;
		}
		while ((r = SYS(SYS_wait4, -1, &st, WNOHANG | __WALL, 0)) > 0)
			if (r == pid)
				cmd_st = st, done = 1;
		if (done)
			SYS(SYS_exit_group, WIFEXITED(cmd_st) ? WEXITSTATUS(cmd_st) : 128 + WTERMSIG(cmd_st));
	}
}

/* ------------------------------------------------------------- parent ---- */

static void die(const char *what, int err)
{
	fprintf(stderr, "sandboxfloor: %s: %s\n", what, strerror(err));
	exit(1);
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die(path, errno);
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		die(path, errno);
	close(fd);
}

/* maps finds the command (the reaper's only child) and writes its maps. */
static void maps(pid_t reaper)
{
	char path[64], buf[64], line[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", reaper, reaper);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path, errno);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		die("the reaper's child", n < 0 ? errno : ESRCH);
	buf[n] = 0;
	long pid = strtol(buf, NULL, 10);
	snprintf(line, sizeof(line), "0 %d %d\n", HOST_ID, ID_RANGE);
	snprintf(path, sizeof(path), "/proc/%ld/uid_map", pid);
	write_file(path, line);
	snprintf(path, sizeof(path), "/proc/%ld/gid_map", pid);
	write_file(path, line);
}

static int clone_flags;

static void one(void)
{
	int status[2], sync[2], st;
	sigset_t all;
	struct rec r;
	ssize_t n;

	if (pipe2(status, O_CLOEXEC) < 0 || pipe2(sync, O_CLOEXEC) < 0)
		die("pipe2", errno);
	cfg.status_w = status[1];
	cfg.sync_r = sync[0];
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &cfg.saved_mask);
	pid_t pid = clone(reaper_main, stack1 + STACK, clone_flags | SIGCHLD, 0);
	int err = errno;
	sigprocmask(SIG_SETMASK, &cfg.saved_mask, NULL);
	if (pid < 0)
		die("clone", err);
	close(status[1]);
	close(sync[0]);
	while ((n = read(status[0], &r, sizeof(r))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(r))
			die("status pipe", n < 0 ? errno : EIO);
		if (r.type == REC_SYNC) {
			maps(pid);
			char zero = 0;
			if (write(sync[1], &zero, 1) != 1)
				die("sync pipe", errno);
		} else if (r.type == REC_FAIL) {
			fprintf(stderr, "sandboxfloor: sandbox setup: %s: %s\n", r.what, strerror(r.err));
			exit(1);
		}
	}
	close(status[0]);
	close(sync[1]);
	while (waitpid(pid, &st, __WALL) < 0)
		if (errno != EINTR)
			die("waitpid", errno);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "sandboxfloor: sandbox ended with status %#x\n", st);
		exit(1);
	}
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double cpu_us(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pct(const double *v, long n, double p)
{
	return v[(long)(p * (double)(n - 1) + 0.5)];
}

static void usage(void)
{
	fprintf(stderr, "usage: sandboxfloor [-n N] [-w W] [-A] [-N] [-S] [-V] [-m NAME] CHILD [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long n = 1000, warmup = 30;
	const char *method = NULL;
	int c;

	cfg.net = 1;
	cfg.seccomp = 1;
	while ((c = getopt(argc, argv, "+n:w:ANSVm:")) != -1) {
		switch (c) {
		case 'n':
			n = atol(optarg);
			break;
		case 'w':
			warmup = atol(optarg);
			break;
		case 'N':
			cfg.net = 0;
			break;
		case 'S':
			cfg.seccomp = 0;
			break;
		case 'V':
			cfg.keep_stdio = 1;
			break;
		case 'A':
			cfg.newapi = 1;
			break;
		case 'm':
			method = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || n < 1 || warmup < 0)
		usage();
	if (!method)
		method = cfg.newapi ? (cfg.net ? "default-newapi" : "default-newapi-nonet") : (cfg.net ? "default" : "default-nonet");
	if (geteuid() != 0) {
		fprintf(stderr, "sandboxfloor: the default sandbox of a root caller needs root\n");
		return 1;
	}

	/* What the spec and the compiler decide before any spawn. */
	static char child_path[4096];
	if (!realpath(argv[optind], child_path))
		die(argv[optind], errno);
	cfg.child = child_path; /* the bind's source must not depend on the cwd */
	const char *base = strrchr(cfg.child, '/');
	base = base ? base + 1 : cfg.child;
	snprintf(cfg.child_abs, sizeof(cfg.child_abs), "/%s", base);
	cfg.child_rel = cfg.child_abs + 1;
	static char *child_argv[2];
	static char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", NULL };
	child_argv[0] = cfg.child_abs;
	cfg.argv = optind + 1 < argc ? &argv[optind + 1] : child_argv;
	cfg.envp = env;
	static const char *const sys_dirs[] = { "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc" };
	for (unsigned i = 0; i < sizeof(sys_dirs) / sizeof(sys_dirs[0]); i++) {
		struct stat sb;
		if (stat(sys_dirs[i], &sb) == 0)
			cfg.binds[cfg.nbinds++] = sys_dirs[i];
	}
	snprintf(cfg.devpts_opts, sizeof(cfg.devpts_opts), "newinstance,ptmxmode=0666,mode=0620,gid=%d", HOST_ID + 5);
	snprintf(cfg.devpts_gid, sizeof(cfg.devpts_gid), "%d", HOST_ID + 5);
	snprintf(cfg.root_uid, sizeof(cfg.root_uid), "%d", HOST_ID);
	snprintf(cfg.root_gid, sizeof(cfg.root_gid), "%d", HOST_ID);
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
	if (!f || fscanf(f, "%d", &cfg.cap_last) != 1)
		die("/proc/sys/kernel/cap_last_cap", errno);
	fclose(f);
	clone_flags = CLONE_VM | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | (cfg.net ? CLONE_NEWNET : 0);

	double *lat = calloc((size_t)n, sizeof(*lat));
	if (!lat)
		die("calloc", ENOMEM);
	for (long i = 0; i < warmup; i++)
		one();
	double cpu0 = cpu_us(), t0 = now_us();
	for (long i = 0; i < n; i++) {
		double s = now_us();
		one();
		lat[i] = now_us() - s;
	}
	double t1 = now_us(), cpu1 = cpu_us();
	double sum = 0;
	for (long i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("sandboxfloor method=%s k=1 n=%ld p50_us=%.2f p90_us=%.2f p99_us=%.2f mean_us=%.2f cpu_us=%.2f rate=%.1f child=%s\n",
	       method, n, pct(lat, n, 0.5), pct(lat, n, 0.9), pct(lat, n, 0.99), sum / (double)n,
	       (cpu1 - cpu0) / (double)n, (double)n / ((t1 - t0) / 1e6), cfg.child);
	return 0;
}
