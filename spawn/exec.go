//go:build linux

package spawn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Rlimit is one resource limit (RLIMIT_*) for the child.
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// Cred is the identity the child takes before exec.
type Cred struct {
	Uid, Gid uint32
	// Groups are the supplementary groups; nil clears them. KeepGroups
	// leaves them untouched instead (needed in a user namespace whose
	// setgroups is denied).
	Groups     []uint32
	KeepGroups bool
}

// Exec describes a plain process spawn: the "process basics" of a program.
// The zero value of each field means "leave as inherited", except where
// stated.
type Exec struct {
	// Path is the program to execute. It must be absolute, or contain a
	// slash (it is then taken relative to Dir); spawn does no $PATH search.
	// Ignored when File is set.
	Path string
	// File, when set, is executed with execveat(AT_EMPTY_PATH): the binary
	// is pinned by the parent. A script run this way must not rely on its
	// own path (the interpreter receives /dev/fd/N, which is closed on
	// exec).
	File *os.File
	// Args is argv, including argv[0]. Empty means {Path}.
	Args []string
	// Env is the environment, exactly; nil means empty.
	Env []string
	// Dir is the working directory; empty keeps the parent's.
	Dir string
	// Files is the number of descriptors the child receives (Attr.Files).
	// Zero means 3: stdin, stdout, stderr.
	Files int
	// Rlimits are applied in order. NOFILE is always set: when absent it is
	// DefaultNofile, because Go raised the parent's soft limit at start-up.
	Rlimits []Rlimit
	// Setsid starts a new session (and so detaches from the controlling
	// terminal).
	Setsid bool
	// Setctty makes child descriptor Ctty the controlling terminal
	// (TIOCSCTTY); it requires Setsid.
	Setctty bool
	Ctty    int
	// Cred, when set, changes uid, gid and groups.
	Cred *Cred
	// SetUmask sets the umask to Umask.
	SetUmask bool
	Umask    int
	// Pdeathsig is sent to the child when the parent thread that spawned
	// it exits (see the package caveats); 0 means none.
	Pdeathsig unix.Signal
	// CloneFlags adds namespace flags to clone3.
	CloneFlags uint64
}

// Compile builds the program for e: the descriptor steps, e's process
// basics, and the exec.
func Compile(e *Exec) (*Program, error) {
	files := e.Files
	if files == 0 {
		files = 3
	}
	b := NewBuilder(files)
	b.CloneFlags(e.CloneFlags)
	if e.Dir != "" {
		b.Chdir(e.Dir)
	}
	if e.Setsid {
		b.Setsid()
	}
	if e.Setctty {
		if !e.Setsid {
			return nil, errors.New("spawn: Setctty requires Setsid")
		}
		if e.Ctty < 0 || e.Ctty >= files {
			return nil, fmt.Errorf("spawn: Ctty %d is not one of the %d files", e.Ctty, files)
		}
		b.Ctty(e.Ctty)
	}
	b.Rlimits(e.Rlimits)
	if e.Cred != nil {
		b.Creds(*e.Cred)
	}
	if e.SetUmask {
		b.Umask(e.Umask)
	}
	if e.Pdeathsig != 0 {
		b.Pdeathsig(e.Pdeathsig)
	}
	b.RestoreSigmask()
	b.MarkExec()
	args := e.Args
	if e.File != nil {
		if len(args) == 0 {
			args = []string{e.File.Name()}
		}
		b.ExecFile(e.File, args, e.Env)
	} else {
		if e.Path == "" {
			return nil, errors.New("spawn: Exec.Path is empty")
		}
		if !strings.Contains(e.Path, "/") {
			return nil, fmt.Errorf("spawn: Exec.Path %q has no slash: spawn does no $PATH search", e.Path)
		}
		if len(args) == 0 {
			args = []string{e.Path}
		}
		b.Exec(e.Path, args, e.Env)
	}
	return b.Build()
}

// Chdir changes the working directory.
func (b *Builder) Chdir(dir string) {
	b.Call(Call{Nr: unix.SYS_CHDIR, Args: []Arg{b.String(dir).Arg()}, Op: "chdir", Target: dir})
}

// Setsid starts a new session.
func (b *Builder) Setsid() {
	b.Call(Call{Nr: unix.SYS_SETSID, Op: "setsid"})
}

// Ctty makes child descriptor fd the controlling terminal.
func (b *Builder) Ctty(fd int) {
	b.Call(Call{Nr: unix.SYS_IOCTL, Args: []Arg{Imm(fd), Imm(unix.TIOCSCTTY), Imm(0)},
		Op: "ioctl TIOCSCTTY", Target: fmt.Sprintf("fd %d", fd)})
}

// Console gives the child a terminal of its own, made where it runs: it
// opens ptmx (the ptmx node of a devpts instance, as the child resolves
// paths at this step), unlocks the pty, sets its size when ws is not nil,
// sends the master over the socket at descriptor sock (a one-byte message
// carrying it in SCM_RIGHTS, as the OCI console socket expects), and makes
// the slave descriptors 0, 1 and 2 and the controlling terminal. The pty
// belongs to the child's filesystem ids at this step, and its name
// (ttyname) resolves inside the child's root.
//
// It needs Setsid before it and descriptors 0, 1 and 2 open when it runs
// (what they are does not matter: the slave replaces them), so that the
// pty's own descriptors land above them; regMaster and regSlave are
// scratch registers. The master is closed in the child once sent; the
// slave's own descriptor too, once copied.
func (b *Builder) Console(ptmx string, sock int, ws *unix.Winsize, regMaster, regSlave int) {
	b.Call(Call{Nr: unix.SYS_OPENAT, Args: []Arg{Imm(unix.AT_FDCWD), b.String(ptmx).Arg(),
		Imm(unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC), Imm(0)},
		Save: &regMaster, Op: "openat", Target: ptmx})
	zero := b.Zero(4)
	b.Name(zero, "&0")
	b.Call(Call{Nr: unix.SYS_IOCTL, Args: []Arg{Reg(regMaster), Imm(unix.TIOCSPTLCK), zero.Arg()},
		Op: "ioctl TIOCSPTLCK", Target: "unlock the pty"})
	if ws != nil {
		var buf [8]byte
		binary.NativeEndian.PutUint16(buf[0:], ws.Row)
		binary.NativeEndian.PutUint16(buf[2:], ws.Col)
		a := b.Bytes(buf[:], 8)
		size := fmt.Sprintf("%dx%d", ws.Row, ws.Col)
		b.Name(a, "&{"+size+"}")
		b.Call(Call{Nr: unix.SYS_IOCTL, Args: []Arg{Reg(regMaster), Imm(unix.TIOCSWINSZ), a.Arg()},
			Op: "ioctl TIOCSWINSZ", Target: size + " (rows x columns)"})
	}
	b.Call(Call{Nr: unix.SYS_IOCTL, Args: []Arg{Reg(regMaster), Imm(unix.TIOCGPTPEER), Imm(unix.O_RDWR | unix.O_NOCTTY)},
		Save: &regSlave, Op: "ioctl TIOCGPTPEER", Target: "open the pty's slave"})

	// struct msghdr → one iovec of one byte, and a control buffer with
	// one SCM_RIGHTS descriptor, which the Store fills in.
	payload := b.Bytes([]byte{0}, 8)
	var iovBuf [16]byte
	binary.NativeEndian.PutUint64(iovBuf[8:], 1) // iov_len
	iov := b.Bytes(iovBuf[:], 8)
	b.PutAddr(iov, payload)
	rights := unix.UnixRights(0)
	ctl := b.Bytes(rights, 8)
	var msgBuf [56]byte
	binary.NativeEndian.PutUint64(msgBuf[24:], 1)                   // msg_iovlen
	binary.NativeEndian.PutUint64(msgBuf[40:], uint64(len(rights))) // msg_controllen
	msg := b.Bytes(msgBuf[:], 8)
	b.PutAddr(msg+16, iov) // msg_iov
	b.PutAddr(msg+32, ctl) // msg_control
	b.Name(msg, "&{1 byte, SCM_RIGHTS master}")
	b.Store(ctl+Addr(unix.CmsgLen(0)), regMaster, 4, "the master into the SCM_RIGHTS message")
	one := uint64(1)
	b.Call(Call{Nr: unix.SYS_SENDMSG, Args: []Arg{Imm(sock), msg.Arg(), Imm(unix.MSG_NOSIGNAL)},
		Check: &one, Op: "sendmsg", Target: fmt.Sprintf("the pty's master to the console socket (fd %d)", sock)})
	b.Call(Call{Nr: unix.SYS_CLOSE, Args: []Arg{Reg(regMaster)}, Op: "close", Target: "the pty's master"})
	for fd := 0; fd < 3; fd++ {
		b.Call(Call{Nr: unix.SYS_DUP3, Args: []Arg{Reg(regSlave), Imm(fd), Imm(0)},
			Op: "dup3", Target: fmt.Sprintf("the pty's slave to fd %d", fd)})
	}
	b.Call(Call{Nr: unix.SYS_CLOSE, Args: []Arg{Reg(regSlave)}, Op: "close", Target: "the pty's slave"})
	b.Ctty(0)
}

// Rlimits sets each limit, then NOFILE if the list has none.
func (b *Builder) Rlimits(rl []Rlimit) {
	nofile := false
	for _, r := range rl {
		b.Rlimit(r)
		nofile = nofile || r.Resource == unix.RLIMIT_NOFILE
	}
	if !nofile {
		b.Rlimit(DefaultNofile())
	}
}

// Rlimit sets one limit with prlimit64.
func (b *Builder) Rlimit(r Rlimit) {
	var buf [16]byte
	binary.NativeEndian.PutUint64(buf[:], r.Cur)
	binary.NativeEndian.PutUint64(buf[8:], r.Max)
	a := b.Bytes(buf[:], 8)
	name := rlimitName(r.Resource)
	b.Name(a, fmt.Sprintf("{cur=%s, max=%s}", rlimString(r.Cur), rlimString(r.Max)))
	b.Call(Call{Nr: unix.SYS_PRLIMIT64, Args: []Arg{Imm(0), Imm(r.Resource), a.Arg(), Null},
		Op: "prlimit64", Target: fmt.Sprintf("%s %s/%s", name, rlimString(r.Cur), rlimString(r.Max))})
}

func rlimString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprint(v)
}

var rlimitNames = map[int]string{
	unix.RLIMIT_AS: "RLIMIT_AS", unix.RLIMIT_CORE: "RLIMIT_CORE", unix.RLIMIT_CPU: "RLIMIT_CPU",
	unix.RLIMIT_DATA: "RLIMIT_DATA", unix.RLIMIT_FSIZE: "RLIMIT_FSIZE", unix.RLIMIT_LOCKS: "RLIMIT_LOCKS",
	unix.RLIMIT_MEMLOCK: "RLIMIT_MEMLOCK", unix.RLIMIT_MSGQUEUE: "RLIMIT_MSGQUEUE", unix.RLIMIT_NICE: "RLIMIT_NICE",
	unix.RLIMIT_NOFILE: "RLIMIT_NOFILE", unix.RLIMIT_NPROC: "RLIMIT_NPROC", unix.RLIMIT_RSS: "RLIMIT_RSS",
	unix.RLIMIT_RTPRIO: "RLIMIT_RTPRIO", unix.RLIMIT_RTTIME: "RLIMIT_RTTIME", unix.RLIMIT_SIGPENDING: "RLIMIT_SIGPENDING",
	unix.RLIMIT_STACK: "RLIMIT_STACK",
}

func rlimitName(r int) string {
	if n, ok := rlimitNames[r]; ok {
		return n
	}
	return fmt.Sprintf("RLIMIT_%d", r)
}

// DefaultNofile is the NOFILE limit a child gets when none is given. Go
// raises its own soft limit to the hard limit at start-up (go.dev/issue/46279)
// and only os/exec knows the original, so: when the soft limit looks raised
// by Go (hard-1), the child gets the conventional 1024 (capped by the hard
// limit); otherwise the current soft limit, which the program set itself.
func DefaultNofile() Rlimit {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return Rlimit{Resource: unix.RLIMIT_NOFILE, Cur: 1024, Max: 1024}
	}
	cur := r.Cur
	if r.Max > 0 && cur == r.Max-1 {
		cur = min(1024, r.Max)
	}
	return Rlimit{Resource: unix.RLIMIT_NOFILE, Cur: cur, Max: r.Max}
}

// Creds sets groups, gid, then uid: each change needs the privilege the
// next one drops.
func (b *Builder) Creds(c Cred) {
	if !c.KeepGroups {
		arr := Null
		if len(c.Groups) > 0 {
			buf := make([]byte, 4*len(c.Groups))
			for i, g := range c.Groups {
				binary.NativeEndian.PutUint32(buf[4*i:], g)
			}
			a := b.Bytes(buf, 4)
			b.Name(a, fmt.Sprint(c.Groups))
			arr = a.Arg()
		}
		b.Call(Call{Nr: unix.SYS_SETGROUPS, Args: []Arg{Imm(len(c.Groups)), arr},
			Op: "setgroups", Target: fmt.Sprint(c.Groups)})
	}
	b.Call(Call{Nr: unix.SYS_SETRESGID, Args: []Arg{Imm(c.Gid), Imm(c.Gid), Imm(c.Gid)},
		Op: "setresgid", Target: fmt.Sprint(c.Gid)})
	b.Call(Call{Nr: unix.SYS_SETRESUID, Args: []Arg{Imm(c.Uid), Imm(c.Uid), Imm(c.Uid)},
		Op: "setresuid", Target: fmt.Sprint(c.Uid)})
}

// Umask sets the file mode creation mask.
func (b *Builder) Umask(m int) {
	b.Call(Call{Nr: unix.SYS_UMASK, Args: []Arg{Imm(m & 0o777)}, Op: "umask", Target: fmt.Sprintf("%#o", m&0o777)})
}

// Pdeathsig asks for sig when the parent thread exits. It must come after
// any credential change, which clears it. Without a new pid namespace a
// getppid check follows, so a parent that died before the prctl is noticed
// (ESRCH) instead of leaving an orphan; in a new pid namespace getppid
// reports 0 and the check cannot be made.
func (b *Builder) Pdeathsig(sig unix.Signal) {
	b.Call(Call{Nr: unix.SYS_PRCTL, Args: []Arg{Imm(unix.PR_SET_PDEATHSIG), Imm(int(sig))},
		Op: "prctl PR_SET_PDEATHSIG", Target: unix.SignalName(sig)})
	if b.cloneFlags&unix.CLONE_NEWPID == 0 {
		want := uint64(os.Getpid())
		b.Call(Call{Nr: unix.SYS_GETPPID, Op: "getppid", Target: "parent still alive",
			Check: &want, CheckErrno: unix.ESRCH})
	}
}

// Capset sets the calling process's effective, permitted and inheritable
// capability sets (capset(2), version 3). sets names the data for
// String(); target says what the step is for.
func (b *Builder) Capset(effective, permitted, inheritable uint64, sets, target string) {
	var buf [32]byte
	binary.NativeEndian.PutUint32(buf[0:], unix.LINUX_CAPABILITY_VERSION_3)
	for i, set := range []uint64{effective, permitted, inheritable} {
		binary.NativeEndian.PutUint32(buf[8+4*i:], uint32(set))
		binary.NativeEndian.PutUint32(buf[20+4*i:], uint32(set>>32))
	}
	hdr, data := b.Bytes(buf[:8], 8), b.Bytes(buf[8:], 8)
	b.Name(hdr, "&{v3, pid 0}")
	b.Name(data, sets)
	b.Call(Call{Nr: unix.SYS_CAPSET, Args: []Arg{hdr.Arg(), data.Arg()}, Op: "capset", Target: target})
}

// RestoreSigmask restores the signal mask the parent thread had; the child
// ran with every signal blocked until here.
func (b *Builder) RestoreSigmask() {
	b.Call(Call{Nr: unix.SYS_RT_SIGPROCMASK, Args: []Arg{Imm(unix.SIG_SETMASK), hdrOldMask.Arg(), Null, Imm(8)},
		Op: "rt_sigprocmask", Target: "restore the parent's mask"})
}

// MarkExec reports "about to exec": EOF after it means exec succeeded.
func (b *Builder) MarkExec() {
	b.Raw(Step{Nr: OpMarkExec}, StepInfo{"mark_exec", ""})
}

// Exec appends execve(path, argv, envp).
func (b *Builder) Exec(path string, argv, envp []string) {
	b.Call(Call{Nr: unix.SYS_EXECVE, Args: []Arg{b.String(path).Arg(), b.StringArray(argv).Arg(), b.StringArray(envp).Arg()},
		Op: "execve", Target: path})
}

// ExecFile appends execveat(fd, "", argv, envp, AT_EMPTY_PATH) on a
// descriptor the program keeps open.
func (b *Builder) ExecFile(f *os.File, argv, envp []string) {
	fd := b.KeepFile(f, "exec "+filepath.Base(f.Name()))
	b.Call(Call{Nr: unix.SYS_EXECVEAT, Args: []Arg{Imm(fd), b.String("").Arg(), b.StringArray(argv).Arg(),
		b.StringArray(envp).Arg(), Imm(unix.AT_EMPTY_PATH)}, Op: "execveat", Target: f.Name()})
}

// NoNewPrivs sets no_new_privs: exec can no longer grant privileges
// (set-user-ID bits, file capabilities), and an unprivileged seccomp filter
// becomes possible.
func (b *Builder) NoNewPrivs() {
	b.Call(Call{Nr: unix.SYS_PRCTL, Args: []Arg{Imm(unix.PR_SET_NO_NEW_PRIVS), Imm(1), Imm(0), Imm(0), Imm(0)},
		Op: "prctl PR_SET_NO_NEW_PRIVS"})
}

// Seccomp installs a classic BPF filter with
// seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog). Place it last before the
// exec (after MarkExec): the filter may forbid what earlier steps need.
// Without CAP_SYS_ADMIN the kernel requires NoNewPrivs first. When flags
// has SECCOMP_FILTER_FLAG_NEW_LISTENER, the listener descriptor is saved in
// register listenerReg (otherwise pass -1).
func (b *Builder) Seccomp(insns []unix.SockFilter, flags uint, listenerReg int, what string) {
	if len(insns) == 0 || len(insns) > 4096 {
		b.fail(fmt.Errorf("spawn: seccomp filter of %d instructions: must be 1 to 4096 (BPF_MAXINSNS)", len(insns)))
		return
	}
	buf := make([]byte, 8*len(insns))
	for i, in := range insns {
		binary.NativeEndian.PutUint16(buf[8*i:], in.Code)
		buf[8*i+2] = in.Jt
		buf[8*i+3] = in.Jf
		binary.NativeEndian.PutUint32(buf[8*i+4:], in.K)
	}
	filter := b.Bytes(buf, 8)
	var hdr [16]byte
	binary.NativeEndian.PutUint16(hdr[:], uint16(len(insns)))
	prog := b.Bytes(hdr[:], 8)
	b.PutAddr(prog+8, filter)
	b.Name(prog, fmt.Sprintf("&{len=%d filter}", len(insns)))
	c := Call{Nr: unix.SYS_SECCOMP, Args: []Arg{Imm(unix.SECCOMP_SET_MODE_FILTER), Imm(flags), prog.Arg()},
		Op: "seccomp", Target: what}
	if listenerReg >= 0 {
		c.Save = &listenerReg
	}
	b.Call(c)
}

// Reaper splits the child in two: it clones the command as its only child
// (which continues with the next step) and stays behind to reap every
// zombie, forward catchable signals to the command (a terminal's SIGINT,
// SIGQUIT, SIGHUP, SIGCONT and SIGWINCH to the command's process group,
// and SIGTSTP as SIGSTOP, since that group is orphaned) and exit with the
// command's status; Wait reports the command's exact status. In a new pid
// namespace (CLONE_NEWPID) the reaper is its pid 1; after a setns into an
// existing pid namespace it is what puts the command there (setns only
// affects children). Steps before Reaper (Pdeathsig in particular) apply to
// the reaper.
//
// The reaper never execs: it shares the parent's address space until it
// exits. Once the command is cloned it closes every descriptor but its
// own signalfd: the command's streams end when the command closes them.
// It keeps its full capability set in the sandbox's user namespace, so a
// command without CAP_SYS_PTRACE there cannot ptrace it; a privileged
// parent is non-dumpable as well (see the package caveats).
func (b *Builder) Reaper() {
	if b.reaper {
		b.fail(errors.New("spawn: Reaper called twice"))
	}
	b.reaper = true
	b.Raw(Step{Nr: OpReaper}, StepInfo{"reaper", "pid 1 of the new pid namespace"})
}
