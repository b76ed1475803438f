//go:build linux

package cgroups

// The bpf(2) calls of the device cgroup: the one place in this package
// that passes pointers to the kernel by hand (x/sys/unix has no bpf
// wrapper). docs/decisions.md records why.

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpf(2) commands, program type and attach type (linux/bpf.h).
const (
	bpfProgLoad          = 5
	bpfProgAttach        = 8
	bpfProgTypeCgroupDev = 15
	bpfCgroupDevice      = 6
	bpfFAllowMulti       = 2
)

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

// progAttachAttr is union bpf_attr for BPF_PROG_ATTACH.
type progAttachAttr struct {
	targetFd     uint32
	attachBpfFd  uint32
	attachType   uint32
	attachFlags  uint32
	replaceBpfFd uint32
}

var license = []byte("Apache-2.0\x00")

// attachDeviceProgram loads the program of rules and attaches it to the
// cgroup2 directory dir, beside any the cgroup's ancestors hold (all of
// them must allow an access). The cgroup keeps the program: it goes with
// the directory's removal.
func attachDeviceProgram(dir *os.File, rules []DeviceRule) error {
	prog, err := loadDeviceProgram(rules)
	if err != nil {
		return err
	}
	defer unix.Close(prog)
	attr := progAttachAttr{
		targetFd:    uint32(dir.Fd()),
		attachBpfFd: uint32(prog),
		attachType:  bpfCgroupDevice,
		attachFlags: bpfFAllowMulti,
	}
	_, _, errno := unix.Syscall(unix.SYS_BPF, bpfProgAttach, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	runtime.KeepAlive(dir)
	if errno != 0 {
		return fmt.Errorf("cgroups: bpf(BPF_PROG_ATTACH) of the device program to %s: %w", dir.Name(), errno)
	}
	return nil
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
	if err == unix.EINVAL || err == unix.EACCES {
		// The verifier refused it: load again for its reasons.
		log := make([]byte, 1<<16)
		if prog, err = load(log); err != nil {
			return -1, fmt.Errorf("cgroups: bpf(BPF_PROG_LOAD) of the device program: %w: %s", err, cstring(log))
		}
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
