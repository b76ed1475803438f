//go:build linux

package seccomp

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Filter is a compiled profile: a classic BPF program for
// seccomp(SECCOMP_SET_MODE_FILTER) and how to load it.
//
// Compile returns a private copy; changing it does not affect the cache.
type Filter struct {
	// Insns is the program, at most 4096 (BPF_MAXINSNS) instructions.
	Insns []unix.SockFilter
	// Flags are the seccomp(2) flags: SECCOMP_FILTER_FLAG_LOG, _SPEC_ALLOW,
	// _WAIT_KILLABLE_RECV as the profile asked, and _NEW_LISTENER when
	// Notify is set.
	Flags uint
	// Notify reports that some rule returns SECCOMP_RET_USER_NOTIF: the
	// filter is loaded with a listener, which Install hands to the parent.
	Notify bool
	// Warnings lists what was skipped or cannot be expressed, each with its
	// field path: syscall names this libseccomp does not know, rules
	// libseccomp would drop, flags the kernel lacks and that are optional.
	Warnings []string
	// ListenerPath and ListenerMetadata are copied from the profile: where
	// an OCI runtime sends the listener (SendListener), and what with.
	ListenerPath     string
	ListenerMetadata string
	// Hash is the SHA-256 of the profile's JSON encoding: the cache key.
	Hash [32]byte
}

// clone returns a deep copy of f.
func (f *Filter) clone() *Filter {
	c := *f
	c.Insns = slices.Clone(f.Insns)
	c.Warnings = slices.Clone(f.Warnings)
	return &c
}

// ErrNoLibseccomp is returned by Compile in builds without cgo: the
// profile cannot be compiled, and no sandbox may start without it.
var ErrNoLibseccomp = fmt.Errorf("seccomp: built without cgo, cannot compile profiles with libseccomp: %w", errors.ErrUnsupported)

// maxInsns is BPF_MAXINSNS, the kernel's limit for one filter.
const maxInsns = 4096

// Compile validates p and compiles it to a Filter, or returns every
// problem joined (errors.Join), each naming its field path. It is safe for
// concurrent use; results are cached by the SHA-256 of p's JSON encoding,
// and concurrent calls for the same profile compile it once.
//
// A nil p is an error: "no seccomp" must be decided by the caller, never
// by a missing profile.
func Compile(p *specs.LinuxSeccomp) (*Filter, error) {
	if p == nil {
		return nil, fmt.Errorf("%s: no profile", fieldPrefix)
	}
	key, err := profileHash(p)
	if err != nil {
		return nil, err
	}
	if f := fromPrecompiled(key); f != nil {
		return f, nil
	}
	f, err := filterCache.get(key, func() (*Filter, error) { return compileUncached(p, key) })
	if err != nil {
		return nil, err
	}
	return f.clone(), nil
}

// compileUncached runs the whole compiler on p.
func compileUncached(p *specs.LinuxSeccomp, key [32]byte) (*Filter, error) {
	pl, err := validate(p)
	if err != nil {
		return nil, err
	}
	f, err := build(pl)
	if errors.Is(err, ErrNoLibseccomp) && ExternalCompiler != "" {
		f, err = compileExternal(p)
	}
	if err != nil {
		return nil, err
	}
	f.Hash = key
	return f, nil
}

// profileHash hashes every field of p in a fixed order, each string and
// list length-prefixed, so equal profiles hash equally and no two
// different ones collide by concatenation. It is the cache key and the
// precompiled default's identity; a test checks by reflection that it
// covers every field of the spec's types.
func profileHash(p *specs.LinuxSeccomp) ([32]byte, error) {
	h := sha256.New()
	var buf [8]byte
	num := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	str := func(s string) {
		num(uint64(len(s)))
		h.Write([]byte(s))
	}
	opt := func(v *uint) {
		if v == nil {
			num(0)
			return
		}
		num(1)
		num(uint64(*v))
	}
	str(string(p.DefaultAction))
	opt(p.DefaultErrnoRet)
	num(uint64(len(p.Architectures)))
	for _, a := range p.Architectures {
		str(string(a))
	}
	num(uint64(len(p.Flags)))
	for _, f := range p.Flags {
		str(string(f))
	}
	str(p.ListenerPath)
	str(p.ListenerMetadata)
	num(uint64(len(p.Syscalls)))
	for _, sc := range p.Syscalls {
		num(uint64(len(sc.Names)))
		for _, n := range sc.Names {
			str(n)
		}
		str(string(sc.Action))
		opt(sc.ErrnoRet)
		num(uint64(len(sc.Args)))
		for _, a := range sc.Args {
			num(uint64(a.Index))
			num(a.Value)
			num(a.ValueTwo)
			str(string(a.Op))
		}
	}
	var key [32]byte
	h.Sum(key[:0])
	return key, nil
}

// cacheSize bounds the compile cache; a full cache drops an arbitrary
// entry. Real programs use a handful of profiles.
const cacheSize = 128

type cacheEntry struct {
	done chan struct{} // closed when f and err are set
	f    *Filter
	err  error
}

type cache struct {
	mu      sync.Mutex
	entries map[[32]byte]*cacheEntry // guarded by mu
}

var filterCache = &cache{entries: map[[32]byte]*cacheEntry{}}

// get returns the filter for key, compiling it with fn on a miss. Failures
// are not cached.
func (c *cache) get(key [32]byte, fn func() (*Filter, error)) (*Filter, error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		c.mu.Unlock()
		<-e.done
		return e.f, e.err
	}
	if len(c.entries) >= cacheSize {
		for k, e := range c.entries {
			select {
			case <-e.done:
				delete(c.entries, k)
			default:
				continue // still compiling: others wait on it
			}
			break
		}
	}
	e := &cacheEntry{done: make(chan struct{})}
	c.entries[key] = e
	c.mu.Unlock()

	e.f, e.err = fn()
	if e.err != nil {
		c.mu.Lock()
		delete(c.entries, key)
		c.mu.Unlock()
	}
	close(e.done)
	return e.f, e.err
}

// reset empties the cache (tests and benchmarks).
func (c *cache) reset() {
	c.mu.Lock()
	c.entries = map[[32]byte]*cacheEntry{}
	c.mu.Unlock()
}

var flagSupport sync.Map // uint → bool

// kernelHasFlag reports whether seccomp(2) accepts flags. It asks
// seccomp(SECCOMP_SET_MODE_FILTER, flags, NULL): the kernel checks the
// flags first (EINVAL when unknown) and then fails to read the NULL program
// (EFAULT), so nothing is ever installed. Any other answer (the call itself
// filtered, say) counts as supported: the child's seccomp step will report
// the real problem.
func kernelHasFlag(flags uint) bool {
	if v, ok := flagSupport.Load(flags); ok {
		return v.(bool)
	}
	_, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), 0)
	ok := e != unix.EINVAL
	flagSupport.Store(flags, ok)
	return ok
}
