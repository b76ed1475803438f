//go:build linux

// Package creds compiles the process identity of an OCI runtime spec —
// process.user, process.capabilities, process.noNewPrivileges,
// process.rlimits, process.oomScoreAdj, process.cwd — into spawn steps.
//
// The order matters and is fixed here:
//
//	EmitPrivileged   oom_score_adj, rlimits        (need privilege to lower/raise)
//	EmitNofile       RLIMIT_NOFILE                 (after the setup's descriptors)
//	EmitIdentity     chdir(cwd)                    (inside the new root, as root)
//	                 PR_SET_KEEPCAPS               (permitted caps survive setresuid)
//	                 PR_CAPBSET_DROP …             (needs CAP_SETPCAP: before capset)
//	                 setgroups, setresgid, setresuid
//	                 capset(effective, permitted, inheritable)
//	                 PR_CAP_AMBIENT clear, raise … (needs permitted ∩ inheritable)
//	                 umask
//	EmitNoNewPrivs   PR_SET_NO_NEW_PRIVS
package creds

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/spawn"
)

// Options are the facts beyond the spec.
type Options struct {
	// Mapped reports whether a container uid (gid when gid is set) exists
	// in the sandbox's user namespace; nil means every id does.
	Mapped func(id uint32, gid bool) bool
	// Setgroups says setgroups(2) is allowed in the sandbox's user
	// namespace.
	Setgroups bool
}

// Plan is the compiled identity.
type Plan struct {
	user       specs.User
	cwd        string
	bounding   uint64
	effective  uint64
	permitted  uint64
	inherit    uint64
	ambient    []int
	nnp        bool
	rlimits    []spawn.Rlimit
	oomAdj     *int
	lastCap    int
	warnings   []string
	setgroups  bool
	hasProcess bool
}

// Compile validates the process identity fields of spec, reporting every
// problem with its field path. Capabilities this kernel does not know are
// skipped with a warning (Warnings), as runc does.
func Compile(spec *specs.Spec, opts Options) (*Plan, error) {
	p := &Plan{lastCap: LastCap(), setgroups: opts.Setgroups}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if spec.Process == nil {
		return nil, errors.New("process: required")
	}
	proc := spec.Process
	p.hasProcess = true
	p.user = proc.User
	if opts.Mapped != nil {
		if !opts.Mapped(proc.User.UID, false) {
			bad("process.user.uid: %d is not mapped in linux.uidMappings", proc.User.UID)
		}
		if !opts.Mapped(proc.User.GID, true) {
			bad("process.user.gid: %d is not mapped in linux.gidMappings", proc.User.GID)
		}
		for i, g := range proc.User.AdditionalGids {
			if !opts.Mapped(g, true) {
				bad("process.user.additionalGids[%d]: %d is not mapped in linux.gidMappings", i, g)
			}
		}
	}
	if len(proc.User.AdditionalGids) > 0 && !opts.Setgroups {
		bad("process.user.additionalGids: setgroups is denied in this user namespace")
	}
	if proc.User.Username != "" {
		bad("process.user.username: only numeric ids are supported (that field is for Windows)")
	}
	if proc.User.Umask != nil && *proc.User.Umask > 0o777 {
		bad("process.user.umask: %#o is not a mode", *proc.User.Umask)
	}
	p.cwd = proc.Cwd
	if p.cwd == "" {
		p.cwd = "/"
	}
	if !strings.HasPrefix(p.cwd, "/") {
		bad("process.cwd: %q is not absolute", proc.Cwd)
	}
	if c := proc.Capabilities; c != nil {
		var err error
		sets := []struct {
			field string
			names []string
			dst   *uint64
		}{
			{"bounding", c.Bounding, &p.bounding}, {"effective", c.Effective, &p.effective},
			{"permitted", c.Permitted, &p.permitted}, {"inheritable", c.Inheritable, &p.inherit},
		}
		for _, s := range sets {
			if *s.dst, err = p.parseCaps("process.capabilities."+s.field, s.names); err != nil {
				errs = append(errs, err)
			}
		}
		amb, err := p.parseCaps("process.capabilities.ambient", c.Ambient)
		if err != nil {
			errs = append(errs, err)
		}
		// The kernel raises an ambient capability only when it is both
		// permitted and inheritable; runc's own default spec asks for
		// others, and the runtime spec says a runtime should not fail on
		// capabilities it cannot grant: those are left out, with a warning.
		if extra := amb &^ (p.permitted & p.inherit); extra != 0 {
			p.warnings = append(p.warnings, fmt.Sprintf("process.capabilities.ambient: %s not in both the permitted and inheritable sets; left out, as the kernel would refuse them", capList(extra)))
			amb &^= extra
		}
		for i := 0; i < 64; i++ {
			if amb&(1<<i) != 0 {
				p.ambient = append(p.ambient, i)
			}
		}
		if p.effective&^p.permitted != 0 {
			bad("process.capabilities.effective: %s not in the permitted set", capList(p.effective&^p.permitted))
		}
	}
	p.nnp = proc.NoNewPrivileges
	seen := map[string]bool{}
	for i, r := range proc.Rlimits {
		field := fmt.Sprintf("process.rlimits[%d]", i)
		res, ok := rlimitTypes[r.Type]
		if !ok {
			bad("%s.type: unknown resource %q", field, r.Type)
			continue
		}
		if seen[r.Type] {
			bad("%s.type: %s given twice", field, r.Type)
			continue
		}
		seen[r.Type] = true
		if r.Soft > r.Hard {
			bad("%s: soft limit %d above hard limit %d", field, r.Soft, r.Hard)
			continue
		}
		p.rlimits = append(p.rlimits, spawn.Rlimit{Resource: res, Cur: r.Soft, Max: r.Hard})
	}
	if proc.OOMScoreAdj != nil {
		v := *proc.OOMScoreAdj
		if v < -1000 || v > 1000 {
			bad("process.oomScoreAdj: %d, want -1000 … 1000", v)
		}
		p.oomAdj = &v
	}
	return p, errors.Join(errs...)
}

// MayHold is every capability the command may hold in its user namespace:
// the union of its five sets (a root command gains its bounding set at
// exec).
func (p *Plan) MayHold() uint64 {
	set := p.bounding | p.effective | p.permitted | p.inherit
	for _, c := range p.ambient {
		set |= 1 << c
	}
	return set
}

// Warnings lists what was accepted but skipped.
func (p *Plan) Warnings() []string { return p.warnings }

var rlimitTypes = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// capNames are the capabilities this package knows, by number
// (include/uapi/linux/capability.h, Linux 5.9 for CAP_CHECKPOINT_RESTORE).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// CapByName returns a capability's number; names are matched without
// case and with or without the CAP_ prefix.
func CapByName(name string) (int, bool) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return i, true
		}
	}
	return 0, false
}

// CapNames returns every capability name this package knows.
func CapNames() []string { return append([]string(nil), capNames...) }

func (p *Plan) parseCaps(field string, names []string) (uint64, error) {
	var set uint64
	var errs []error
	for i, n := range names {
		c, ok := CapByName(n)
		if !ok || !strings.HasPrefix(n, "CAP_") {
			errs = append(errs, fmt.Errorf("%s[%d]: unknown capability %q", field, i, n))
			continue
		}
		if c > p.lastCap {
			p.warnings = append(p.warnings, fmt.Sprintf("%s[%d]: %s is not supported by this kernel; skipped", field, i, n))
			continue
		}
		set |= 1 << c
	}
	return set, errors.Join(errs...)
}

func capList(set uint64) string {
	var out []string
	for i := 0; i < 64; i++ {
		if set&(1<<i) != 0 {
			if i < len(capNames) {
				out = append(out, capNames[i])
			} else {
				out = append(out, fmt.Sprintf("cap%d", i))
			}
		}
	}
	return strings.Join(out, ", ")
}

// LastCap reads the highest capability the running kernel knows.
func LastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return len(capNames) - 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return len(capNames) - 1
	}
	return n
}

// EmitPrivileged emits what may need privilege in the caller's namespace:
// oom_score_adj (lowering it needs CAP_SYS_RESOURCE in the initial user
// namespace) and the rlimits (raising a hard limit does too). RLIMIT_NOFILE
// is EmitNofile's, after the setup; here it is only raised, to its hard
// value, when the spec's hard limit is above this process's.
func (p *Plan) EmitPrivileged(b *spawn.Builder, scratch int) {
	if p.oomAdj != nil {
		v := strconv.Itoa(*p.oomAdj)
		b.Call(spawn.Call{Nr: unix.SYS_OPENAT, Args: []spawn.Arg{spawn.Imm(unix.AT_FDCWD), b.String("/proc/self/oom_score_adj").Arg(), spawn.Imm(unix.O_WRONLY | unix.O_CLOEXEC)},
			Save: &scratch, Op: "open", Target: "/proc/self/oom_score_adj"})
		n := uint64(len(v))
		b.Call(spawn.Call{Nr: unix.SYS_WRITE, Args: []spawn.Arg{spawn.Reg(scratch), b.String(v).Arg(), spawn.Imm(len(v))},
			Check: &n, Op: "write", Target: "oom_score_adj " + v})
		b.Call(spawn.Call{Nr: unix.SYS_CLOSE, Args: []spawn.Arg{spawn.Reg(scratch)}, Op: "close", Target: "oom_score_adj"})
	}
	for _, r := range p.rlimits {
		if r.Resource != unix.RLIMIT_NOFILE {
			b.Rlimit(r)
			continue
		}
		var now unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_NOFILE, &now) != nil || r.Max > now.Max {
			b.Rlimit(spawn.Rlimit{Resource: r.Resource, Cur: r.Max, Max: r.Max})
		}
	}
}

// EmitNofile sets RLIMIT_NOFILE to the spec's value, or to
// spawn.DefaultNofile: once the setup is done, since the setup holds
// descriptors of its own (mounts, namespaces, the new root) and a small
// limit would fail it. Lowering a limit needs no privilege.
func (p *Plan) EmitNofile(b *spawn.Builder) {
	nofile := spawn.DefaultNofile()
	for _, r := range p.rlimits {
		if r.Resource == unix.RLIMIT_NOFILE {
			nofile = r
		}
	}
	b.Rlimit(nofile)
}

// EmitSessionKeyring joins a new anonymous session keyring, as runc does
// for every container: otherwise the sandbox would possess the caller's
// session keyring, and possession grants access whatever the uid. Place it
// where the setup runs as the caller (root's key quota is large; a sandbox
// uid's is 200 keys). A kernel without keys (ENOSYS) has nothing to leak.
func EmitSessionKeyring(b *spawn.Builder) {
	b.Call(spawn.Call{Nr: unix.SYS_KEYCTL, Args: []spawn.Arg{spawn.Imm(unix.KEYCTL_JOIN_SESSION_KEYRING), spawn.Null},
		Op: "keyctl JOIN_SESSION_KEYRING", Target: "a new session keyring", OnErrno: []unix.Errno{unix.ENOSYS}})
}

// EmitIdentity emits the working directory, capabilities and ids, in the
// order of the package comment.
func (p *Plan) EmitIdentity(b *spawn.Builder) {
	b.Chdir(p.cwd)
	uid := p.user.UID
	if uid != 0 && p.permitted != 0 {
		b.Call(spawn.Call{Nr: unix.SYS_PRCTL, Args: []spawn.Arg{spawn.Imm(unix.PR_SET_KEEPCAPS), spawn.Imm(1)},
			Op: "prctl PR_SET_KEEPCAPS", Target: "keep permitted capabilities across setresuid"})
	}
	for c := 0; c <= p.lastCap; c++ {
		if p.bounding&(1<<c) == 0 {
			b.Call(spawn.Call{Nr: unix.SYS_PRCTL, Args: []spawn.Arg{spawn.Imm(unix.PR_CAPBSET_DROP), spawn.Imm(c)},
				Op: "prctl PR_CAPBSET_DROP", Target: capName(c)})
		}
	}
	groups := p.user.AdditionalGids
	b.Creds(spawn.Cred{Uid: uid, Gid: p.user.GID, Groups: groups, KeepGroups: !p.setgroups})
	b.Capset(p.effective, p.permitted, p.inherit, fmt.Sprintf("&{eff=%#x perm=%#x inh=%#x}", p.effective, p.permitted, p.inherit),
		setDesc(p.effective, p.permitted, p.inherit))
	b.Call(spawn.Call{Nr: unix.SYS_PRCTL, Args: []spawn.Arg{spawn.Imm(unix.PR_CAP_AMBIENT), spawn.Imm(unix.PR_CAP_AMBIENT_CLEAR_ALL), spawn.Imm(0), spawn.Imm(0), spawn.Imm(0)},
		Op: "prctl PR_CAP_AMBIENT_CLEAR_ALL"})
	sort.Ints(p.ambient)
	for _, c := range p.ambient {
		b.Call(spawn.Call{Nr: unix.SYS_PRCTL, Args: []spawn.Arg{spawn.Imm(unix.PR_CAP_AMBIENT), spawn.Imm(unix.PR_CAP_AMBIENT_RAISE), spawn.Imm(c), spawn.Imm(0), spawn.Imm(0)},
			Op: "prctl PR_CAP_AMBIENT_RAISE", Target: capName(c)})
	}
	umask := 0o022
	if p.user.Umask != nil {
		umask = int(*p.user.Umask)
	}
	b.Umask(umask)
}

// EmitNoNewPrivs sets no_new_privs when the spec asks for it.
func (p *Plan) EmitNoNewPrivs(b *spawn.Builder) {
	if p.nnp {
		b.NoNewPrivs()
	}
}

// NoNewPrivs reports whether the spec sets no_new_privs.
func (p *Plan) NoNewPrivs() bool { return p.nnp }

func capName(c int) string {
	if c < len(capNames) {
		return capNames[c]
	}
	return fmt.Sprintf("capability %d", c)
}

func setDesc(eff, perm, inh uint64) string {
	if eff == 0 && perm == 0 && inh == 0 {
		return "no capabilities"
	}
	return fmt.Sprintf("effective [%s] permitted [%s] inheritable [%s]", capList(eff), capList(perm), capList(inh))
}
