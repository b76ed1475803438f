//go:build linux

package spawn

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestVerifierRefuses builds broken programs: each must be refused at Build,
// before any clone, with an error naming the offending step.
func TestVerifierRefuses(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *Builder)
		step  int
		msg   string
	}{
		{"register", func(b *Builder) {
			b.Raw(Step{Nr: unix.SYS_CLOSE, Flags: ArgReg(0), Args: [6]uint64{NumRegs}}, StepInfo{Op: "close"})
		}, 2, "register 16 out of range"},
		{"destination", func(b *Builder) {
			r := NumRegs
			b.Call(Call{Nr: unix.SYS_SOCKET, Args: []Arg{Imm(unix.AF_INET), Imm(unix.SOCK_DGRAM)}, Save: &r, Op: "socket"})
		}, 2, "destination register"},
		{"address", func(b *Builder) {
			b.Raw(Step{Nr: unix.SYS_CHDIR, Flags: 1 << flagAddrShift, Args: [6]uint64{pageSize / 2}}, StepInfo{Op: "chdir"})
		}, 2, "outside the arena"},
		{"address-past-data", func(b *Builder) {
			b.Raw(Step{Nr: unix.SYS_CHDIR, Flags: 1 << flagAddrShift, Args: [6]uint64{dataOff + 1<<20}}, StepInfo{Op: "chdir"})
		}, 2, "outside the arena"},
		{"jump", func(b *Builder) {
			b.Raw(Step{Nr: unix.SYS_SETSID, Jt: 10}, StepInfo{Op: "setsid"})
		}, 2, "beyond the last step"},
		{"errno-jump", func(b *Builder) {
			b.Raw(Step{Nr: unix.SYS_SETSID, Errnos: [2]uint16{uint16(unix.EPERM)}, Jf: 10}, StepInfo{Op: "setsid"})
		}, 2, "beyond the last step"},
		{"vocabulary", func(b *Builder) {
			b.Raw(Step{Nr: unix.SYS_KILL}, StepInfo{Op: "kill"})
		}, 2, "not in the step vocabulary"},
		{"pseudo", func(b *Builder) { b.Raw(Step{Nr: opEnd}, StepInfo{Op: "?"}) }, 2, "unknown pseudo-op"},
		{"flags", func(b *Builder) { b.Raw(Step{Nr: unix.SYS_SETSID, Flags: 1 << 20}, StepInfo{Op: "setsid"}) }, 2, "unknown flags"},
		{"dup-step", func(b *Builder) { b.Raw(Step{Nr: OpDupFds}, StepInfo{Op: "dup"}) }, 2, "only be steps 0 and 1"},
		{"store", func(b *Builder) {
			b.Raw(Step{Nr: OpStore, Args: [6]uint64{dataOff, 0, 3}}, StepInfo{Op: "store"})
		}, 2, "store"},
		{"early-exec", func(b *Builder) { b.Exec("/bin/a", nil, nil) }, 2, "must list the errnos"},
		{"raw-reaper", func(b *Builder) { b.Raw(Step{Nr: OpReaper}, StepInfo{Op: "reaper"}) }, 2, "Builder.Reaper"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewBuilder(3)
			c.build(b)
			b.Exec("/bin/true", []string{"true"}, nil)
			p, err := b.Build()
			if err == nil {
				p.Close()
				t.Fatalf("Build accepted the program")
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("got %T %v, want *VerifyError", err, err)
			}
			if ve.Step != c.step || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("got %v (step %d), want step %d and %q", err, ve.Step, c.step, c.msg)
			}
		})
	}
}

func TestVerifierProgramShape(t *testing.T) {
	b := NewBuilder(3)
	b.Setsid()
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "last step must be execve") {
		t.Errorf("program without exec: %v", err)
	}
	b = NewBuilder(3)
	l := b.NewLabel()
	b.Call(Call{Nr: unix.SYS_SETSID, Op: "setsid", OkTo: l})
	b.Exec("/bin/true", nil, nil)
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "unbound label") {
		t.Errorf("unbound label: %v", err)
	}
	b = NewBuilder(3)
	l = b.NewLabel()
	b.Bind(l)
	b.Setsid()
	b.Call(Call{Nr: unix.SYS_SETSID, Op: "setsid", OkTo: l})
	b.Exec("/bin/true", nil, nil)
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "not forward") {
		t.Errorf("backward jump: %v", err)
	}
	if _, err := NewBuilder(-1).Build(); err == nil {
		t.Error("negative file count accepted")
	}
	b = NewBuilder(3)
	b.String("a\x00b")
	b.Exec("/bin/true", nil, nil)
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("NUL in a string: %v", err)
	}
}

// TestLabelsAndListing checks jumps resolve forward and the listing names
// every step.
func TestLabelsAndListing(t *testing.T) {
	b := NewBuilder(3)
	done := b.NewLabel()
	b.Call(Call{Nr: unix.SYS_MKDIRAT, Args: []Arg{Imm(unix.AT_FDCWD), b.String("/tmp/x").Arg(), Imm(0o755)},
		Op: "mkdir", Target: "/tmp/x", OnErrno: []unix.Errno{unix.EEXIST}, ErrTo: done})
	b.Setsid()
	b.Bind(done)
	b.MarkExec()
	b.Exec("/bin/true", []string{"true"}, []string{"A=1"})
	p, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, _ := p.Step(2)
	if s.Jf != 1 || s.Errnos[0] != uint16(unix.EEXIST) {
		t.Errorf("mkdir step %+v: want EEXIST → skip 1", s)
	}
	list := p.String()
	for _, want := range []string{`mkdirat(-100, "/tmp/x", 493)  [EEXIST → 4]`, "# mkdir /tmp/x", `execve("/bin/true", ["true"], ["A=1"])`, "close_fds()", "mark_exec()"} {
		if !strings.Contains(list, want) {
			t.Errorf("listing lacks %q:\n%s", want, list)
		}
	}
	if n := strings.Count(list, "\n"); n != p.Len()+1 {
		t.Errorf("listing has %d lines for %d steps", n, p.Len())
	}
}
