//go:build linux

package seccomp

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestGrantCaps(t *testing.T) {
	allowed := func(p *specs.LinuxSeccomp, name string) bool {
		for _, s := range p.Syscalls {
			if s.Action == specs.ActAllow && len(s.Args) == 0 && slices.Contains(s.Names, name) {
				return true
			}
		}
		return false
	}
	base := DefaultProfile()
	for _, c := range capSyscalls {
		for _, n := range c.names {
			if allowed(base, n) {
				t.Errorf("%s: %s is already allowed by the default profile", c.cap, n)
			}
		}
	}
	for _, c := range []struct {
		caps       []string
		ptraceSafe bool
		open       []string
		shut       []string
		warn       string
	}{
		{nil, true, nil, []string{"chroot", "ptrace", "mount"}, ""},
		{[]string{"CAP_CHOWN"}, true, nil, []string{"chroot"}, ""},
		{[]string{"CAP_SYS_CHROOT"}, false, []string{"chroot"}, []string{"ptrace", "mount"}, ""},
		{[]string{"CAP_SYS_NICE"}, false, []string{"mbind", "set_mempolicy"}, []string{"chroot"}, ""},
		{[]string{"CAP_SYS_PTRACE"}, true, []string{"ptrace", "process_vm_readv"}, []string{"chroot"}, ""},
		{[]string{"CAP_SYS_PTRACE"}, false, nil, []string{"ptrace"}, "CAP_SYS_PTRACE: the default seccomp profile still refuses ptrace,"},
		{[]string{"CAP_SYS_ADMIN", "CAP_SYS_CHROOT"}, true, []string{"chroot"}, []string{"mount", "unshare"}, "CAP_SYS_ADMIN: the default seccomp profile still refuses mount,"},
		{[]string{"CAP_DAC_READ_SEARCH"}, true, nil, []string{"open_by_handle_at"}, "refuses open_by_handle_at"},
	} {
		p := DefaultProfile()
		w := GrantCaps(p, c.caps, c.ptraceSafe)
		for _, n := range c.open {
			if !allowed(p, n) {
				t.Errorf("%v: %s stays refused", c.caps, n)
			}
		}
		for _, n := range c.shut {
			if allowed(p, n) {
				t.Errorf("%v: %s is allowed", c.caps, n)
			}
		}
		if got := strings.Join(w, "\n"); (c.warn == "") != (got == "") || !strings.Contains(got, c.warn) {
			t.Errorf("%v: warnings %q, want one containing %q", c.caps, got, c.warn)
		}
		if c.open == nil && len(p.Syscalls) != len(base.Syscalls) {
			t.Errorf("%v: the profile grew to %d rules", c.caps, len(p.Syscalls))
		}
	}
	if len(DefaultProfile().Syscalls) != len(base.Syscalls) {
		t.Error("GrantCaps changed the shared default profile")
	}
}
