//go:build linux

package rootfs

import (
	"fmt"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/gosandbox/sandbox/spawn"
)

func sysctlKeys(spec *specs.Spec) []string {
	if spec.Linux == nil {
		return nil
	}
	var keys []string
	for k := range spec.Linux.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkSysctls accepts only sysctls scoped to a namespace the sandbox has
// of its own, as runc does: anything else would change the host.
func (p *Plan) checkSysctls() []error {
	var errs []error
	has := p.opts.Namespaces
	for _, k := range p.sysctls {
		field := fmt.Sprintf("linux.sysctl[%q]", k)
		if strings.ContainsAny(k, "/\x00") || strings.Contains(k, "..") || k == "" {
			errs = append(errs, fmt.Errorf("%s: invalid key", field))
			continue
		}
		var ns specs.LinuxNamespaceType
		switch {
		case strings.HasPrefix(k, "net."):
			ns = specs.NetworkNamespace
		case k == "kernel.msgmax", k == "kernel.msgmnb", k == "kernel.msgmni", k == "kernel.sem",
			k == "kernel.shmall", k == "kernel.shmmax", k == "kernel.shmmni", k == "kernel.shm_rmid_forced",
			strings.HasPrefix(k, "fs.mqueue."):
			ns = specs.IPCNamespace
		case k == "kernel.hostname", k == "kernel.domainname":
			ns = specs.UTSNamespace
		default:
			errs = append(errs, fmt.Errorf("%s: not a namespaced sysctl; it would change the host", field))
			continue
		}
		if !has[ns] {
			errs = append(errs, fmt.Errorf("%s: needs a %s namespace of the sandbox's own", field, ns))
		}
	}
	return errs
}

// emitSysctls writes each value to /proc/sys (the sandbox's own /proc,
// after pivot_root).
func (p *Plan) emitSysctls(b *spawn.Builder) {
	for _, k := range p.sysctls {
		v := p.spec.Linux.Sysctl[k]
		file := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		b.Call(spawn.Call{Nr: unix.SYS_OPENAT, Args: []spawn.Arg{spawn.Imm(unix.AT_FDCWD), b.String(file).Arg(), spawn.Imm(unix.O_WRONLY | unix.O_CLOEXEC)},
			Save: ptr(regFS), Op: "open", Target: "sysctl " + k})
		n := uint64(len(v))
		b.Call(spawn.Call{Nr: unix.SYS_WRITE, Args: []spawn.Arg{spawn.Reg(regFS), b.String(v).Arg(), spawn.Imm(len(v))},
			Check: &n, Op: "write", Target: fmt.Sprintf("sysctl %s=%s", k, v)})
		b.Call(spawn.Call{Nr: unix.SYS_CLOSE, Args: []spawn.Arg{spawn.Reg(regFS)}, Op: "close", Target: "sysctl " + k})
	}
}
