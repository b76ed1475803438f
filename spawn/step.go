//go:build linux

package spawn

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// NumRegs is the size of the child's register file. Steps save results
// (file descriptors from openat2, socket, open_tree, fsmount…) into
// registers and read them back as arguments.
const NumRegs = 16

// Flag bits of a Step.
const (
	// FlagArgReg0 … FlagArgReg5: argument i holds a register index; the
	// child substitutes the register's value. Use ArgReg(i).
	flagArgRegMask = 0x3f
	// FlagSave stores the syscall's return value in register Step.Dst.
	FlagSave = 1 << 6
	// FlagCheck requires the return value to equal Args[5]; otherwise the
	// step fails with Step.CheckErrno (EIO when zero). Used for full reads
	// and writes (which take three arguments, so Args[5] is free) and for
	// getppid after PR_SET_PDEATHSIG.
	FlagCheck = 1 << 7
	// flagAddr0 … flagAddr5 (bits 8–13): argument i is an arena offset
	// that is relocated to an absolute address when the program is loaded.
	// Set by the Builder for arguments created with Addr.
	flagAddrShift = 8
	flagAddrMask  = 0x3f << flagAddrShift
)

// ArgReg returns the flag saying argument i is a register index.
func ArgReg(i int) uint32 { return 1 << uint(i) }

// Pseudo-operations: step numbers at or above pseudoBase are executed by
// the interpreter itself, not passed to the kernel. Each is a short, bounded
// loop over a table the parent filled in the arena.
const pseudoBase = 1 << 16

// The pseudo-operations.
const (
	// OpCloseFds closes every descriptor outside the keep-set: close_range
	// over each gap of the per-spawn sorted keep-set. Always step 0.
	OpCloseFds = pseudoBase + iota
	// OpDupFds performs the parallel move, solved in the parent, that puts
	// the caller's files at 0…NumFiles-1 and the program's own descriptors
	// at their fixed slots, then closes everything above the layout.
	OpDupFds
	// OpSync reports "waiting at sync point Args[0]" on the status pipe and
	// reads one byte from the sync slot. The parent acts (for example it
	// writes id maps) and then answers.
	OpSync
	// OpMarkExec writes the "about to exec" record.
	OpMarkExec
	// OpStore writes register Args[1] into the arena at address Args[0]
	// with width Args[2] (4 or 8 bytes).
	OpStore
	// OpReaper turns the child into a pid-1 reaper: it clones a second
	// CLONE_VM child onto the arena's second stack that continues with the
	// next step, then reaps zombies, forwards signals and exits with that
	// child's status. It never returns.
	OpReaper
	opEnd
)

// Step is one instruction of a program: a raw syscall (or a pseudo-op) with
// six arguments, a few flags, and forward jumps.
//
// On success execution continues at the next step plus Jt; on failure with
// an errno listed in Errnos it continues at the next step plus Jf; any other
// failure ends the child with a report naming this step.
type Step struct {
	Nr         uint32 // syscall number or pseudo-op
	Flags      uint32
	Args       [6]uint64
	Dst        uint8     // register written when FlagSave is set
	Jt, Jf     uint16    // forward skips on success / on a listed errno
	Errnos     [2]uint16 // errnos that take Jf; zero entries are unused
	CheckErrno uint16    // errno reported when FlagCheck fails (0: EIO)
}

// syscallNames lists every syscall a program may contain, with its name. The
// verifier refuses any other number: the compilers emit from this vocabulary
// only, and a corrupted program cannot reach arbitrary kernel entry points.
var syscallNames = map[uint32]string{
	unix.SYS_READ:                   "read",
	unix.SYS_WRITE:                  "write",
	unix.SYS_CLOSE:                  "close",
	unix.SYS_CLOSE_RANGE:            "close_range",
	unix.SYS_DUP3:                   "dup3",
	unix.SYS_FCNTL:                  "fcntl",
	unix.SYS_IOCTL:                  "ioctl",
	unix.SYS_OPENAT:                 "openat",
	unix.SYS_OPENAT2:                "openat2",
	unix.SYS_MKDIRAT:                "mkdirat",
	unix.SYS_MKNODAT:                "mknodat",
	unix.SYS_SYMLINKAT:              "symlinkat",
	unix.SYS_UNLINKAT:               "unlinkat",
	unix.SYS_FCHMOD:                 "fchmod",
	unix.SYS_FCHOWN:                 "fchown",
	unix.SYS_FCHOWNAT:               "fchownat",
	unix.SYS_FCHMODAT:               "fchmodat",
	unix.SYS_FCHDIR:                 "fchdir",
	unix.SYS_CHDIR:                  "chdir",
	unix.SYS_CHROOT:                 "chroot",
	unix.SYS_MOUNT:                  "mount",
	unix.SYS_UMOUNT2:                "umount2",
	unix.SYS_PIVOT_ROOT:             "pivot_root",
	unix.SYS_OPEN_TREE:              "open_tree",
	unix.SYS_MOVE_MOUNT:             "move_mount",
	unix.SYS_FSOPEN:                 "fsopen",
	unix.SYS_FSCONFIG:               "fsconfig",
	unix.SYS_FSMOUNT:                "fsmount",
	unix.SYS_MOUNT_SETATTR:          "mount_setattr",
	unix.SYS_SETNS:                  "setns",
	unix.SYS_UNSHARE:                "unshare",
	unix.SYS_SETHOSTNAME:            "sethostname",
	unix.SYS_SETDOMAINNAME:          "setdomainname",
	unix.SYS_SOCKET:                 "socket",
	unix.SYS_SENDMSG:                "sendmsg",
	unix.SYS_SETSID:                 "setsid",
	unix.SYS_SETGROUPS:              "setgroups",
	unix.SYS_SETRESUID:              "setresuid",
	unix.SYS_SETRESGID:              "setresgid",
	unix.SYS_UMASK:                  "umask",
	unix.SYS_PRCTL:                  "prctl",
	unix.SYS_CAPSET:                 "capset",
	unix.SYS_PRLIMIT64:              "prlimit64",
	unix.SYS_RT_SIGPROCMASK:         "rt_sigprocmask",
	unix.SYS_KEYCTL:                 "keyctl",
	unix.SYS_GETPPID:                "getppid",
	unix.SYS_SECCOMP:                "seccomp",
	unix.SYS_LANDLOCK_RESTRICT_SELF: "landlock_restrict_self",
	unix.SYS_EXECVE:                 "execve",
	unix.SYS_EXECVEAT:               "execveat",
}

var pseudoNames = [...]string{
	OpCloseFds - pseudoBase: "close_fds",
	OpDupFds - pseudoBase:   "dup_fds",
	OpSync - pseudoBase:     "sync",
	OpMarkExec - pseudoBase: "mark_exec",
	OpStore - pseudoBase:    "store",
	OpReaper - pseudoBase:   "reaper",
}

// syscallArity is how many arguments each vocabulary syscall takes; the
// listing shows exactly those (prctl: at least 2).
var syscallArity = map[string]int{
	"read":                   3,
	"write":                  3,
	"close":                  1,
	"close_range":            3,
	"dup3":                   3,
	"fcntl":                  3,
	"ioctl":                  3,
	"openat":                 4,
	"openat2":                4,
	"mkdirat":                3,
	"mknodat":                4,
	"symlinkat":              3,
	"unlinkat":               3,
	"fchmod":                 2,
	"fchown":                 3,
	"fchownat":               5,
	"fchmodat":               3,
	"fchdir":                 1,
	"chdir":                  1,
	"chroot":                 1,
	"mount":                  5,
	"umount2":                2,
	"pivot_root":             2,
	"open_tree":              3,
	"move_mount":             5,
	"fsopen":                 2,
	"fsconfig":               5,
	"fsmount":                3,
	"mount_setattr":          5,
	"setns":                  2,
	"unshare":                1,
	"sethostname":            2,
	"setdomainname":          2,
	"socket":                 3,
	"sendmsg":                3,
	"setsid":                 0,
	"setgroups":              2,
	"setresuid":              3,
	"setresgid":              3,
	"umask":                  1,
	"prctl":                  2,
	"capset":                 2,
	"prlimit64":              4,
	"rt_sigprocmask":         4,
	"getppid":                0,
	"seccomp":                3,
	"landlock_restrict_self": 2,
	"execve":                 3,
	"execveat":               5,
}

// NrName returns the name of a syscall number or pseudo-op.
func NrName(nr uint32) string {
	if nr >= pseudoBase && nr < opEnd {
		return pseudoNames[nr-pseudoBase]
	}
	if n, ok := syscallNames[nr]; ok {
		return n
	}
	return fmt.Sprintf("syscall_%d", nr)
}

func isExec(nr uint32) bool { return nr == unix.SYS_EXECVE || nr == unix.SYS_EXECVEAT }
