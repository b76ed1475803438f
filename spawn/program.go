//go:build linux

package spawn

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Program is a verified, immutable spawn program: steps, their data, the
// clone flags and the child's descriptor layout. It is position-independent;
// each spawn copies it into an arena and relocates its addresses.
//
// A Program may be started any number of times, from any goroutine. It owns
// the descriptors added with Builder.KeepFile until Close.
type Program struct {
	id uint64 // identifies the image loaded in an arena

	// mu guards slots' files: Start holds it shared from reading their
	// numbers until clone3 returns, so Close cannot recycle a number under
	// a child.
	mu sync.RWMutex

	steps  []Step
	info   []StepInfo
	data   []byte
	relocs []uint32
	names  map[Addr]string

	numFiles   int
	slots      []slot
	cloneFlags uint64
	hasSync    bool
	reaper     bool // the child stays on its arena until it exits (OpReaper)
	mutable    bool // the child writes into the data (OpStore): no arena reuse of a loaded image
	parentPid  int
}

// Len reports the number of steps.
func (p *Program) Len() int { return len(p.steps) }

// Step returns step i and its description.
func (p *Program) Step(i int) (Step, StepInfo) { return p.steps[i], p.info[i] }

// NumFiles reports how many descriptors the command receives.
func (p *Program) NumFiles() int { return p.numFiles }

// Inputs reports how many per-spawn input descriptors the program declared.
func (p *Program) Inputs() int {
	n := 0
	for _, s := range p.slots {
		if s.input {
			n++
		}
	}
	return n
}

// CloneFlags reports the namespace flags passed to clone3.
func (p *Program) CloneFlags() uint64 { return p.cloneFlags }

// Close releases the descriptors the program owns. Spawns already started
// are unaffected; starting the program afterwards fails.
func (p *Program) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, s := range p.slots {
		if s.file != nil {
			s.file.Close()
			p.slots[i].file = nil
		}
	}
	p.steps = nil
	return nil
}

// VerifyError is a program refused by the verifier, before any clone.
type VerifyError struct {
	Step   int
	Op     string
	Reason string
}

func (e *VerifyError) Error() string {
	if e.Step < 0 {
		return "spawn: invalid program: " + e.Reason
	}
	return fmt.Sprintf("spawn: invalid program: step %d (%s): %s", e.Step, e.Op, e.Reason)
}

// maxSteps bounds a program; jumps are 16-bit.
const maxSteps = 1 << 15

// verify checks every register, address and jump, so that the interpreter
// — which does no checks of its own — only ever touches the arena and always
// reaches exec or a failure report.
func (p *Program) verify() error {
	n := len(p.steps)
	bad := func(i int, format string, args ...any) error {
		return &VerifyError{Step: i, Op: NrName(p.steps[i].Nr), Reason: fmt.Sprintf(format, args...)}
	}
	if n < 3 {
		return &VerifyError{Step: -1, Reason: fmt.Sprintf("%d steps: a program needs the descriptor steps and an exec", n)}
	}
	if n > maxSteps {
		return &VerifyError{Step: -1, Reason: fmt.Sprintf("%d steps: at most %d", n, maxSteps)}
	}
	if p.steps[0].Nr != OpCloseFds || p.steps[1].Nr != OpDupFds {
		return bad(0, "a program must start with close_fds and dup_fds")
	}
	if !isExec(p.steps[n-1].Nr) {
		return bad(n-1, "the last step must be execve or execveat")
	}
	dataEnd := uint64(dataOff + len(p.data))
	for _, r := range p.relocs {
		if uint64(r)+8 > uint64(len(p.data)) {
			return &VerifyError{Step: -1, Reason: fmt.Sprintf("relocation at %#x outside the data", r)}
		}
	}
	for i := range p.steps {
		s := &p.steps[i]
		if s.Nr >= pseudoBase {
			if s.Nr >= opEnd {
				return bad(i, "unknown pseudo-op %d", s.Nr)
			}
			if (s.Nr == OpCloseFds || s.Nr == OpDupFds) && i > 1 {
				return bad(i, "descriptor steps may only be steps 0 and 1")
			}
			if s.Nr == OpReaper && !p.reaper {
				return bad(i, "reaper steps must come from Builder.Reaper")
			}
		} else if _, ok := syscallNames[s.Nr]; !ok {
			return bad(i, "syscall %d is not in the step vocabulary", s.Nr)
		}
		if isExec(s.Nr) && i != n-1 && s.Errnos == [2]uint16{} {
			return bad(i, "an exec before the last step must list the errnos it falls through on")
		}
		for a := 0; a < 6; a++ {
			switch {
			case s.Flags&ArgReg(a) != 0 && s.Flags&(1<<(flagAddrShift+uint(a))) != 0:
				return bad(i, "argument %d is both a register and an address", a)
			case s.Flags&ArgReg(a) != 0:
				if s.Args[a] >= NumRegs {
					return bad(i, "argument %d: register %d out of range", a, s.Args[a])
				}
			case s.Flags&(1<<(flagAddrShift+uint(a))) != 0:
				v := s.Args[a]
				inHeader := v >= headerOff && v < headerOff+headerSize
				inData := v >= dataOff && v < dataEnd
				if !inHeader && !inData {
					return bad(i, "argument %d: address %#x outside the arena's header and data", a, v)
				}
			}
		}
		if s.Flags&^uint32(flagArgRegMask|FlagSave|FlagCheck|flagAddrMask) != 0 {
			return bad(i, "unknown flags %#x", s.Flags)
		}
		if s.Flags&FlagSave != 0 && s.Dst >= NumRegs {
			return bad(i, "destination register %d out of range", s.Dst)
		}
		if s.Nr == OpStore {
			if s.Flags != 1<<flagAddrShift {
				return bad(i, "store takes an address and a register number")
			}
			w := s.Args[2]
			if (w != 4 && w != 8) || s.Args[0]+w > dataEnd || s.Args[0] < dataOff {
				return bad(i, "store of %d bytes at %#x outside the data", w, s.Args[0])
			}
			if s.Args[1] >= NumRegs {
				return bad(i, "store: register %d out of range", s.Args[1])
			}
		}
		if int(s.Jt) > n-2-i && !(s.Jt == 0 && i == n-1) {
			return bad(i, "jump on success to step %d beyond the last step", i+1+int(s.Jt))
		}
		if s.Errnos != [2]uint16{} && int(s.Jf) > n-2-i {
			return bad(i, "jump on errno to step %d beyond the last step", i+1+int(s.Jf))
		}
		for _, e := range s.Errnos {
			if e > 4095 {
				return bad(i, "errno %d out of range", e)
			}
		}
	}
	return nil
}

// String lists the program, one step per line with its meaning.
func (p *Program) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# clone3 flags %s; %d files; %d data bytes\n", cloneFlagNames(p.cloneFlags), p.numFiles, len(p.data))
	for i := range p.steps {
		sb.WriteString(p.StepString(i))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// StepString renders step i: index, call, and meaning.
func (p *Program) StepString(i int) string {
	s, info := p.steps[i], p.info[i]
	var args []string
	nargs := 6
	for nargs > 0 && s.Args[nargs-1] == 0 && s.Flags&(ArgReg(nargs-1)|1<<(flagAddrShift+uint(nargs-1))) == 0 {
		nargs--
	}
	if s.Flags&FlagCheck != 0 && nargs == 6 {
		nargs = 5
		for nargs > 0 && s.Args[nargs-1] == 0 && s.Flags&(ArgReg(nargs-1)|1<<(flagAddrShift+uint(nargs-1))) == 0 {
			nargs--
		}
	}
	if n, ok := syscallArity[NrName(s.Nr)]; ok && s.Nr < pseudoBase && nargs < n {
		nargs = n // show a syscall's real arguments, zeros included
	}
	for a := 0; a < nargs; a++ {
		v := s.Args[a]
		switch {
		case s.Flags&ArgReg(a) != 0:
			args = append(args, fmt.Sprintf("r%d", v))
		case s.Flags&(1<<(flagAddrShift+uint(a))) != 0:
			if name, ok := p.names[Addr(v)]; ok {
				args = append(args, name)
			} else if name, ok := headerNames[Addr(v)]; ok {
				args = append(args, name)
			} else {
				args = append(args, fmt.Sprintf("&data[%#x]", v-dataOff))
			}
		case int64(v) < 0 && int64(v) > -4096:
			args = append(args, fmt.Sprint(int64(v)))
		case v > 0xffff:
			args = append(args, fmt.Sprintf("%#x", v))
		default:
			args = append(args, fmt.Sprint(v))
		}
	}
	line := fmt.Sprintf("%3d  %s(%s)", i, NrName(s.Nr), strings.Join(args, ", "))
	var notes []string
	if s.Flags&FlagSave != 0 {
		notes = append(notes, fmt.Sprintf("→ r%d", s.Dst))
	}
	if s.Flags&FlagCheck != 0 {
		notes = append(notes, fmt.Sprintf("want %d", s.Args[5]))
	}
	if s.Jt != 0 {
		notes = append(notes, fmt.Sprintf("ok → %d", i+1+int(s.Jt)))
	}
	var errs []string
	for _, e := range s.Errnos {
		if e != 0 {
			errs = append(errs, unix.ErrnoName(unix.Errno(e)))
		}
	}
	if len(errs) > 0 {
		notes = append(notes, fmt.Sprintf("%s → %d", strings.Join(errs, "|"), i+1+int(s.Jf)))
	}
	if len(notes) > 0 {
		line += "  [" + strings.Join(notes, "; ") + "]"
	}
	what := info.Op
	if info.Target != "" {
		what += " " + info.Target
	}
	return fmt.Sprintf("%-72s # %s", line, what)
}

func cloneFlagNames(f uint64) string {
	names := []struct {
		bit  uint64
		name string
	}{
		{unix.CLONE_NEWUSER, "NEWUSER"}, {unix.CLONE_NEWNS, "NEWNS"}, {unix.CLONE_NEWPID, "NEWPID"},
		{unix.CLONE_NEWNET, "NEWNET"}, {unix.CLONE_NEWIPC, "NEWIPC"}, {unix.CLONE_NEWUTS, "NEWUTS"},
		{unix.CLONE_NEWCGROUP, "NEWCGROUP"}, {unix.CLONE_NEWTIME, "NEWTIME"},
	}
	var out []string
	for _, n := range names {
		if f&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "|")
}

// files returns the static descriptors' current numbers in the parent.
func (p *Program) staticFds() ([]int, error) {
	var fds []int
	for _, s := range p.slots {
		if s.input {
			continue
		}
		if s.file == nil {
			return nil, os.ErrClosed
		}
		fds = append(fds, int(s.file.Fd()))
	}
	return fds, nil
}
