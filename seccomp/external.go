//go:build linux

package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExternalCompiler, when set in a build without cgo, names a program that
// compiles profiles with libseccomp on this package's behalf (see
// ServeExternal; the sandbox CLI ships one as sandbox-seccomp). A build
// with cgo never uses it. The program is trusted like this binary: set it
// only to a path as protected as the running executable.
var ExternalCompiler string

// externalResult is what ServeExternal writes.
type externalResult struct {
	Insns    [][4]uint32 `json:"insns"` // code, jt, jf, k
	Flags    uint        `json:"flags"`
	Notify   bool        `json:"notify"`
	Warnings []string    `json:"warnings"`
	Error    string      `json:"error,omitempty"`
	Version  string      `json:"libseccomp"`
}

// compileExternal runs ExternalCompiler on p.
func compileExternal(p *specs.LinuxSeccomp) (*Filter, error) {
	in, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fieldPrefix, err)
	}
	cmd := exec.Command(ExternalCompiler, "compile")
	cmd.Stdin = bytes.NewReader(in)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("seccomp: external compiler %s: %w: %s", ExternalCompiler, err, bytes.TrimSpace(errOut.Bytes()))
	}
	var r externalResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("seccomp: external compiler %s: %w", ExternalCompiler, err)
	}
	if r.Error != "" {
		return nil, errors.New(r.Error)
	}
	if len(r.Insns) == 0 || len(r.Insns) > maxInsns {
		return nil, fmt.Errorf("seccomp: external compiler %s: %d instructions", ExternalCompiler, len(r.Insns))
	}
	f := &Filter{Flags: r.Flags, Notify: r.Notify, Warnings: r.Warnings, ListenerPath: p.ListenerPath, ListenerMetadata: p.ListenerMetadata}
	for _, in := range r.Insns {
		f.Insns = append(f.Insns, unix.SockFilter{Code: uint16(in[0]), Jt: uint8(in[1]), Jf: uint8(in[2]), K: in[3]})
	}
	if err := checkProgram(f.Insns); err != nil {
		return nil, fmt.Errorf("seccomp: external compiler %s: %w", ExternalCompiler, err)
	}
	return f, nil
}

// ServeExternal is the external compiler's side: it reads a profile (JSON)
// from stdin, compiles it with this build's libseccomp, and writes the
// result for compileExternal to stdout. It needs cgo.
func ServeExternal() error {
	var p specs.LinuxSeccomp
	dec := json.NewDecoder(os.Stdin)
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("seccomp: reading the profile: %w", err)
	}
	var r externalResult
	r.Version, _ = LibraryVersion()
	f, err := Compile(&p)
	if err != nil {
		r.Error = err.Error()
	} else {
		r.Flags, r.Notify, r.Warnings = f.Flags, f.Notify, f.Warnings
		for _, in := range f.Insns {
			r.Insns = append(r.Insns, [4]uint32{uint32(in.Code), uint32(in.Jt), uint32(in.Jf), in.K})
		}
	}
	return json.NewEncoder(os.Stdout).Encode(&r)
}
