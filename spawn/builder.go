//go:build linux

package spawn

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Arg is one syscall argument: an immediate, an address inside the program's
// data (relocated when the program is loaded into an arena), or a register.
type Arg struct {
	kind argKind
	v    uint64
}

type argKind uint8

const (
	argImm argKind = iota
	argAddr
	argReg
)

// Imm is an immediate argument. Negative values (AT_FDCWD, -1) are passed
// as their two's complement, as the kernel expects.
func Imm[T ~int | ~int32 | ~int64 | ~uint | ~uint32 | ~uint64 | ~uintptr](v T) Arg {
	return Arg{kind: argImm, v: uint64(v)}
}

// Reg is an argument read from register r at run time.
func Reg(r int) Arg { return Arg{kind: argReg, v: uint64(r)} }

// Addr is an offset in the arena. Values come from the Builder (String,
// Bytes, StringArray…) and from the header constants below.
type Addr uint64

// Arg returns the address as a syscall argument.
func (a Addr) Arg() Arg { return Arg{kind: argAddr, v: uint64(a)} }

// Null is the NULL pointer argument.
var Null = Imm(0)

// Label marks a step that forward jumps can target.
type Label struct{ id int }

// Call describes one syscall step for Builder.Call.
type Call struct {
	Nr   uintptr
	Args []Arg // at most six; missing ones are zero

	// Op and Target name the step in errors and listings: Op is what the
	// step does ("mount", "setresuid"), Target what it acts on ("proc on
	// /proc"). The child never sees them.
	Op, Target string

	// Save, when non-nil, names the register that receives the result.
	Save *int
	// Check, when non-nil, is the only acceptable return value; CheckErrno
	// is reported otherwise (EIO when zero).
	Check      *uint64
	CheckErrno unix.Errno

	// OnErrno lists up to two errnos that are not failures: execution
	// continues at ErrTo (or the next step when ErrTo is nil).
	OnErrno []unix.Errno
	ErrTo   *Label
	// OkTo, when non-nil, is where execution continues on success.
	OkTo *Label
}

// StepInfo names a step for people: the operation and its target.
type StepInfo struct {
	Op     string
	Target string
}

type fixup struct {
	step   int
	label  int
	onFail bool
}

// Builder assembles a Program. The zero value is not usable; call
// NewBuilder. A Builder is not safe for concurrent use, and is used once:
// Build consumes it.
//
// Every program starts with the two descriptor steps (close everything
// outside the keep-set, then move the caller's files and the program's own
// descriptors into their slots) and must end with execve or execveat.
type Builder struct {
	steps  []Step
	info   []StepInfo
	data   []byte
	relocs []uint32 // offsets in data of 8-byte words holding arena offsets
	names  map[Addr]string
	strs   map[string]Addr // String's results, so repeated strings share storage

	labels []int // step index bound to each label, -1 while unbound
	fixups []fixup

	numFiles   int
	slots      []slot
	cloneFlags uint64
	hasSync    bool
	reaper     bool
	stores     bool
	err        error
}

type slot struct {
	name  string
	file  *os.File // static descriptor owned by the program; nil for inputs
	input bool
}

// NewBuilder starts a program whose command receives numFiles descriptors
// (0 … numFiles-1: stdin, stdout, stderr and extra files).
func NewBuilder(numFiles int) *Builder {
	b := &Builder{numFiles: numFiles, names: map[Addr]string{}, strs: map[string]Addr{}}
	if numFiles < 0 || numFiles > maxFiles {
		b.fail(fmt.Errorf("spawn: %d files: must be between 0 and %d", numFiles, maxFiles))
	}
	b.Raw(Step{Nr: OpCloseFds}, StepInfo{"close_range", "descriptors outside the keep-set"})
	b.Raw(Step{Nr: OpDupFds}, StepInfo{"dup3", "descriptor layout"})
	return b
}

// Grow reserves room for n more steps, so that a compiler that knows
// roughly how long its program will be allocates it once instead of
// doubling it step by step (in a fresh process every new page is a fault).
func (b *Builder) Grow(n int) {
	b.steps = slices.Grow(b.steps, n)
	b.info = slices.Grow(b.info, n)
}

// maxFiles bounds the descriptors a command may receive.
const maxFiles = 1024

func (b *Builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

// NumFiles reports how many descriptors the command receives.
func (b *Builder) NumFiles() int { return b.numFiles }

// StatusFd is the slot of the status pipe in the child after the descriptor
// steps; SyncFd the slot of the sync descriptor.
func (b *Builder) StatusFd() int { return b.numFiles }

// SyncFd returns the child's descriptor for sync reads.
func (b *Builder) SyncFd() int { return b.numFiles + 1 }

// KeepFile adds a descriptor that the program owns for its lifetime (a
// directory or namespace opened by the parent, the binary for execveat…)
// and returns the fixed descriptor number it has in the child. The builder
// duplicates f; the caller keeps ownership of f. The child sees it
// close-on-exec.
func (b *Builder) KeepFile(f *os.File, name string) int {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		b.fail(fmt.Errorf("spawn: keep %s: dup: %w", name, err))
		return -1
	}
	b.slots = append(b.slots, slot{name: name, file: os.NewFile(uintptr(fd), name)})
	return b.numFiles + 1 + len(b.slots)
}

// Input declares a descriptor supplied per spawn in Attr.Inputs (in
// declaration order) and returns its descriptor number in the child.
func (b *Builder) Input(name string) int {
	b.slots = append(b.slots, slot{name: name, input: true})
	return b.numFiles + 1 + len(b.slots)
}

// CloneFlags adds flags (CLONE_NEW*) to the clone3 call.
func (b *Builder) CloneFlags(flags uint64) {
	const allowed = unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
		unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME
	if flags&^allowed != 0 {
		b.fail(fmt.Errorf("spawn: clone flags %#x: only namespace flags may be requested", flags&^allowed))
	}
	b.cloneFlags |= flags
}

// String places a NUL-terminated string in the data and returns its address.
// Equal strings share storage: the child never writes to them.
func (b *Builder) String(s string) Addr {
	if a, ok := b.strs[s]; ok {
		return a
	}
	if strings.IndexByte(s, 0) >= 0 {
		b.fail(fmt.Errorf("spawn: string %q contains NUL", s))
	}
	a := b.Bytes(append([]byte(s), 0), 1)
	b.names[a] = fmt.Sprintf("%q", s)
	b.strs[s] = a
	return a
}

// Bytes places p in the data, aligned to align bytes, and returns its
// address.
func (b *Builder) Bytes(p []byte, align int) Addr {
	for len(b.data)%align != 0 {
		b.data = append(b.data, 0)
	}
	a := Addr(dataOff + len(b.data))
	b.data = append(b.data, p...)
	return a
}

// Zero reserves n zeroed bytes (8-aligned) and returns their address.
func (b *Builder) Zero(n int) Addr { return b.Bytes(make([]byte, n), 8) }

// Name sets the description of an address used in listings.
func (b *Builder) Name(a Addr, name string) { b.names[a] = name }

// PutAddr stores the absolute address of to in the 8-byte word at at (which
// must lie in data placed by this builder): pointers inside structures such
// as argv arrays, iovecs and sock_fprog.
func (b *Builder) PutAddr(at, to Addr) {
	off := int(at) - dataOff
	if off < 0 || off%8 != 0 || off+8 > len(b.data) {
		b.fail(fmt.Errorf("spawn: PutAddr at %#x: not an aligned word of the data", at))
		return
	}
	binary.NativeEndian.PutUint64(b.data[off:], uint64(to))
	b.relocs = append(b.relocs, uint32(off))
}

// StringArray places a NULL-terminated array of pointers to the strings.
func (b *Builder) StringArray(ss []string) Addr {
	ptrs := make([]Addr, len(ss))
	for i, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			b.fail(fmt.Errorf("spawn: string %q contains NUL", s))
		}
		ptrs[i] = b.Bytes(append([]byte(s), 0), 1)
	}
	arr := b.Zero(8 * (len(ss) + 1))
	for i, p := range ptrs {
		b.PutAddr(arr+Addr(8*i), p)
	}
	b.names[arr] = quoteList(ss)
	return arr
}

// NewLabel returns an unbound label.
func (b *Builder) NewLabel() *Label {
	b.labels = append(b.labels, -1)
	return &Label{id: len(b.labels) - 1}
}

// Bind binds l to the next step emitted.
func (b *Builder) Bind(l *Label) {
	if b.labels[l.id] != -1 {
		b.fail(fmt.Errorf("spawn: label bound twice"))
	}
	b.labels[l.id] = len(b.steps)
}

// Len reports the number of steps so far.
func (b *Builder) Len() int { return len(b.steps) }

// Call appends a syscall step.
func (b *Builder) Call(c Call) {
	if len(c.Args) > 6 {
		b.fail(fmt.Errorf("spawn: %s: %d arguments", c.Op, len(c.Args)))
		return
	}
	var s Step
	s.Nr = uint32(c.Nr)
	for i, a := range c.Args {
		s.Args[i] = a.v
		switch a.kind {
		case argReg:
			s.Flags |= ArgReg(i)
		case argAddr:
			s.Flags |= 1 << (flagAddrShift + uint(i))
		}
	}
	if c.Save != nil {
		s.Flags |= FlagSave
		s.Dst = uint8(*c.Save)
		if *c.Save < 0 || *c.Save >= NumRegs {
			s.Dst = 0xff // refused by the verifier
		}
	}
	if c.Check != nil {
		s.Flags |= FlagCheck
		s.Args[5] = *c.Check
		s.CheckErrno = uint16(c.CheckErrno)
		if len(c.Args) > 5 {
			b.fail(fmt.Errorf("spawn: %s: Check needs argument 5 free", c.Op))
		}
	}
	if len(c.OnErrno) > len(s.Errnos) {
		b.fail(fmt.Errorf("spawn: %s: at most %d errnos may jump", c.Op, len(s.Errnos)))
	}
	for i, e := range c.OnErrno {
		if i < len(s.Errnos) {
			s.Errnos[i] = uint16(e)
		}
	}
	i := len(b.steps)
	if c.OkTo != nil {
		b.fixups = append(b.fixups, fixup{step: i, label: c.OkTo.id})
	}
	if c.ErrTo != nil {
		b.fixups = append(b.fixups, fixup{step: i, label: c.ErrTo.id, onFail: true})
	}
	b.Raw(s, StepInfo{Op: c.Op, Target: c.Target})
}

// Raw appends a step as given. The verifier checks it at Build.
func (b *Builder) Raw(s Step, info StepInfo) {
	if s.Nr == OpStore {
		b.stores = true
	}
	b.steps = append(b.steps, s)
	b.info = append(b.info, info)
}

// Sync appends a sync point: the child reports id (and val) to the parent
// and waits until the parent's Attr.OnSync returns. val is usually Imm(0);
// a register passes a value the child computed, such as the number of a
// descriptor the parent then takes with pidfd_getfd.
func (b *Builder) Sync(id uint32, val Arg, what string) {
	b.hasSync = true
	s := Step{Nr: OpSync, Args: [6]uint64{uint64(id), val.v}}
	switch val.kind {
	case argReg:
		s.Flags |= ArgReg(1)
	case argAddr:
		b.fail(fmt.Errorf("spawn: sync %d: the value cannot be an address", id))
	}
	b.Raw(s, StepInfo{"sync", what})
}

// Store appends a step writing register reg into the data at addr (width 4
// or 8 bytes): descriptors into SCM_RIGHTS messages or structures.
func (b *Builder) Store(addr Addr, reg int, width int, what string) {
	b.Raw(Step{Nr: OpStore, Flags: 1 << flagAddrShift, Args: [6]uint64{uint64(addr), uint64(reg), uint64(width)}},
		StepInfo{"store", what})
}

// Build resolves labels, verifies the program and returns it. On error any
// descriptor the builder kept is closed.
func (b *Builder) Build() (*Program, error) {
	for _, f := range b.fixups {
		at := b.labels[f.label]
		if at == -1 {
			b.fail(fmt.Errorf("spawn: step %d (%s): jump to an unbound label", f.step, b.info[f.step].Op))
			continue
		}
		skip := at - f.step - 1
		if skip < 0 || skip > 0xffff {
			b.fail(fmt.Errorf("spawn: step %d (%s): jump to step %d is not forward", f.step, b.info[f.step].Op, at))
			continue
		}
		if f.onFail {
			b.steps[f.step].Jf = uint16(skip)
		} else {
			b.steps[f.step].Jt = uint16(skip)
		}
	}
	p := &Program{
		id:         progIDs.Add(1),
		steps:      b.steps,
		info:       b.info,
		data:       b.data,
		relocs:     b.relocs,
		names:      b.names,
		numFiles:   b.numFiles,
		slots:      b.slots,
		cloneFlags: b.cloneFlags,
		hasSync:    b.hasSync,
		reaper:     b.reaper,
		mutable:    b.stores,
		parentPid:  os.Getpid(),
	}
	err := b.err
	if err == nil {
		err = p.verify()
	}
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// quoteList renders a string list for listings, eliding long ones.
func quoteList(ss []string) string {
	const show = 4
	if len(ss) <= show {
		return fmt.Sprintf("%q", ss)
	}
	return strings.TrimSuffix(fmt.Sprintf("%q", ss[:show]), "]") + fmt.Sprintf(" …%d more]", len(ss)-show)
}
