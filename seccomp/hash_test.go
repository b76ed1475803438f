//go:build linux

package seccomp

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestProfileHashCoversEveryField fails when the spec's seccomp types gain
// a field profileHash does not know: the cache (and the precompiled
// default) would then confuse two different profiles.
func TestProfileHashCoversEveryField(t *testing.T) {
	for typ, n := range map[reflect.Type]int{
		reflect.TypeOf(specs.LinuxSeccomp{}):    7,
		reflect.TypeOf(specs.LinuxSyscall{}):    4,
		reflect.TypeOf(specs.LinuxSeccompArg{}): 4,
	} {
		if typ.NumField() != n {
			t.Errorf("%s has %d fields; profileHash covers %d: update it", typ, typ.NumField(), n)
		}
	}
	base := DefaultProfile()
	h0, _ := profileHash(base)
	one := uint(1)
	changes := []func(p *specs.LinuxSeccomp){
		func(p *specs.LinuxSeccomp) { p.DefaultAction = specs.ActKill },
		func(p *specs.LinuxSeccomp) { p.DefaultErrnoRet = nil },
		func(p *specs.LinuxSeccomp) { p.Architectures = append(p.Architectures, specs.ArchX86) },
		func(p *specs.LinuxSeccomp) { p.Flags = append(p.Flags, specs.LinuxSeccompFlagLog) },
		func(p *specs.LinuxSeccomp) { p.ListenerPath = "x" },
		func(p *specs.LinuxSeccomp) { p.ListenerMetadata = "x" },
		func(p *specs.LinuxSeccomp) { p.Syscalls[0].Names[0] += "x" },
		func(p *specs.LinuxSeccomp) { p.Syscalls[0].Action = specs.ActLog },
		func(p *specs.LinuxSeccomp) { p.Syscalls[0].ErrnoRet = &one },
		func(p *specs.LinuxSeccomp) { p.Syscalls[1].Args[0].Value++ },
		func(p *specs.LinuxSeccomp) { p.Syscalls[1].Args[0].ValueTwo++ },
		func(p *specs.LinuxSeccomp) { p.Syscalls[1].Args[0].Index++ },
		func(p *specs.LinuxSeccomp) { p.Syscalls[1].Args[0].Op = specs.OpGreaterThan },
		// Moving a name across a boundary must change the hash too.
		func(p *specs.LinuxSeccomp) {
			p.Syscalls[0].Names = p.Syscalls[0].Names[:len(p.Syscalls[0].Names)-1]
		},
	}
	for i, change := range changes {
		p := DefaultProfile()
		change(p)
		if h, _ := profileHash(p); h == h0 {
			t.Errorf("change %d does not change the hash", i)
		}
	}
	if h, _ := profileHash(DefaultProfile()); h != h0 {
		t.Error("the default profile hashes differently from call to call")
	}
	// DefaultProfile hands out copies.
	p := DefaultProfile()
	p.Syscalls[0].Names[0] = "changed"
	if q := DefaultProfile(); q.Syscalls[0].Names[0] == "changed" {
		t.Error("DefaultProfile returned shared state")
	}
}
