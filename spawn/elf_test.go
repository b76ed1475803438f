//go:build linux

package spawn

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// exitArgcELF returns a minimal static ELF executable, without libc, that
// exits with its argc: every spawn's status can then be checked against the
// arguments it was given, and start-up costs nothing beyond exec itself.
func exitArgcELF(t testing.TB) string {
	t.Helper()
	var code []byte
	var machine uint16
	switch runtime.GOARCH {
	case "amd64":
		machine = 62 // EM_X86_64
		code = []byte{
			0x48, 0x8b, 0x3c, 0x24, // mov (%rsp), %rdi   argc
			0xb8, 0x3c, 0, 0, 0, // mov $60, %eax       exit
			0x0f, 0x05, // syscall
		}
	case "arm64":
		machine = 183 // EM_AARCH64
		code = []byte{
			0xe0, 0x03, 0x40, 0xf9, // ldr x0, [sp]
			0xa8, 0x0b, 0x80, 0xd2, // mov x8, #93        exit
			0x01, 0x00, 0x00, 0xd4, // svc #0
		}
	default:
		t.Skipf("no tiny ELF for %s", runtime.GOARCH)
	}
	const base, ehsize, phsize = 0x400000, 64, 56
	img := make([]byte, ehsize+phsize, ehsize+phsize+len(code))
	copy(img, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(img[16:], 2) // ET_EXEC
	le.PutUint16(img[18:], machine)
	le.PutUint32(img[20:], 1)
	le.PutUint64(img[24:], base+ehsize+phsize) // entry
	le.PutUint64(img[32:], ehsize)             // phoff
	le.PutUint16(img[52:], ehsize)
	le.PutUint16(img[54:], phsize)
	le.PutUint16(img[56:], 1) // phnum
	ph := img[ehsize:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // PF_R|PF_X
	le.PutUint64(ph[16:], base)
	le.PutUint64(ph[24:], base)
	le.PutUint64(ph[32:], uint64(ehsize+phsize+len(code)))
	le.PutUint64(ph[40:], uint64(ehsize+phsize+len(code)))
	le.PutUint64(ph[48:], 0x1000)
	img = append(img, code...)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	p := filepath.Join(dir, "exit-argc")
	if err := os.WriteFile(p, img, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}
