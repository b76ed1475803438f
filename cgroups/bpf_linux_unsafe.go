//go:build linux

package cgroups

// The bpf(2) calls of the device cgroup: the one place in this package
// that passes pointers to the kernel by hand (x/sys/unix has no bpf
// wrapper). docs/decisions.md records why.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpf(2) commands, program type, attach type and flags (linux/bpf.h).
const (
	bpfProgLoad          = 5
	bpfProgAttach        = 8
	bpfProgDetach        = 9
	bpfProgQuery         = 16
	bpfProgTypeCgroupDev = 15
	bpfCgroupDevice      = 6
	bpfFAllowMulti       = 2
	bpfFQueryEffective   = 1
)

// errOverride: attaching the device program would have replaced an
// ancestor's, attached with BPF_F_ALLOW_OVERRIDE, instead of adding to it.
var errOverride = errors.New("cgroups: an ancestor cgroup's device program would be replaced, not kept (it was attached with BPF_F_ALLOW_OVERRIDE)")

// progLoadAttr is the head of union bpf_attr for BPF_PROG_LOAD, up to
// expected_attach_type; the kernel zero-extends a shorter attr.
type progLoadAttr struct {
	progType           uint32
	insnCnt            uint32
	insns              uint64
	license            uint64
	logLevel           uint32
	logSize            uint32
	logBuf             uint64
	kernVersion        uint32
	progFlags          uint32
	progName           [16]byte
	progIfindex        uint32
	expectedAttachType uint32
}

// progQueryAttr is union bpf_attr for BPF_PROG_QUERY, up to prog_cnt.
type progQueryAttr struct {
	targetFd    uint32
	attachType  uint32
	queryFlags  uint32
	attachFlags uint32
	progIDs     uint64
	progCnt     uint32
	_           uint32
}

// progAttachAttr is union bpf_attr for BPF_PROG_ATTACH and DETACH.
type progAttachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

var license = []byte("Apache-2.0\x00")

// attachDeviceProgram loads the program of rules and attaches it to the
// cgroup2 directory dir, beside the programs of the cgroup's ancestors
// (every one of them must allow an access). An ancestor's program
// attached with BPF_F_ALLOW_OVERRIDE would be replaced by ours instead:
// the count of effective programs shows it, and the attach is undone with
// errOverride. The cgroup keeps the program: it goes with the directory.
func attachDeviceProgram(dir *os.File, rules []DeviceRule) error {
	prog, err := loadDeviceProgram(rules)
	if err != nil {
		return err
	}
	defer unix.Close(prog)
	before, err := effectiveDevicePrograms(dir)
	if err != nil {
		return err
	}
	if err := attachProgram(bpfProgAttach, dir, prog, bpfFAllowMulti); err != nil {
		return err
	}
	after, err := effectiveDevicePrograms(dir)
	if err == nil && after == before+1 {
		return nil
	}
	if err := attachProgram(bpfProgDetach, dir, prog, 0); err != nil {
		return err // the program stays on a cgroup that New now removes
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %d effective programs before the attach, %d after", errOverride, before, after)
}

// attachProgram attaches (cmd BPF_PROG_ATTACH, with flags) or detaches
// (BPF_PROG_DETACH) the device program prog on dir.
func attachProgram(cmd uintptr, dir *os.File, prog int, flags uint32) error {
	attr := progAttachAttr{
		targetFd:    uint32(dir.Fd()),
		attachBpfFd: uint32(prog),
		attachType:  bpfCgroupDevice,
		attachFlags: flags,
	}
	_, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(dir)
	if errno != 0 {
		op := "BPF_PROG_ATTACH"
		if cmd == bpfProgDetach {
			op = "BPF_PROG_DETACH"
		}
		return fmt.Errorf("cgroups: bpf(%s) of the device program on %s: %w", op, dir.Name(), errno)
	}
	return nil
}

// effectiveDevicePrograms counts the device programs that run for dir's
// tasks: its own and its ancestors'.
func effectiveDevicePrograms(dir *os.File) (uint32, error) {
	attr := progQueryAttr{targetFd: uint32(dir.Fd()), attachType: bpfCgroupDevice, queryFlags: bpfFQueryEffective}
	_, _, errno := unix.Syscall(unix.SYS_BPF, bpfProgQuery, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(dir)
	if errno != 0 {
		return 0, fmt.Errorf("cgroups: bpf(BPF_PROG_QUERY) of %s's device programs: %w", dir.Name(), errno)
	}
	return attr.progCnt, nil
}

// loadDeviceProgram loads the program of rules and returns its descriptor;
// a program the verifier refuses comes back with the verifier's log.
func loadDeviceProgram(rules []DeviceRule) (int, error) {
	code := encode(deviceProgram(rules))
	load := func(log []byte) (int, error) {
		attr := progLoadAttr{
			progType:           bpfProgTypeCgroupDev,
			insnCnt:            uint32(len(code) / 8),
			insns:              uint64(uintptr(unsafe.Pointer(&code[0]))),
			license:            uint64(uintptr(unsafe.Pointer(&license[0]))),
			expectedAttachType: bpfCgroupDevice,
		}
		copy(attr.progName[:], "sandbox_devices")
		if len(log) > 0 {
			attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), uint64(uintptr(unsafe.Pointer(&log[0])))
		}
		fd, _, errno := unix.Syscall(unix.SYS_BPF, bpfProgLoad, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
		runtime.KeepAlive(code)
		runtime.KeepAlive(log)
		if errno != 0 {
			return -1, errno
		}
		return int(fd), nil
	}
	prog, err := load(nil)
	if err == unix.EINVAL || err == unix.EACCES || err == unix.E2BIG {
		// The verifier refused it: load again for its reasons (a log too
		// long for the buffer fails with ENOSPC; its start is kept).
		log := make([]byte, 1<<16)
		if prog, err2 := load(log); err2 == nil {
			return prog, nil
		} else if err2 != unix.ENOSPC {
			err = err2
		}
		return -1, fmt.Errorf("cgroups: bpf(BPF_PROG_LOAD) of the device program: %w: %s", err, cstring(log))
	}
	if err != nil {
		return -1, fmt.Errorf("cgroups: bpf(BPF_PROG_LOAD) of the device program: %w", err)
	}
	return prog, nil
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
