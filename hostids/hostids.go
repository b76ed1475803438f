//go:build linux

// Package hostids reserves ranges of host ids for the sandboxes of a
// privileged caller, one range per running sandbox.
//
// Every sandbox a root caller starts maps its ids 0…65535 to a range of
// host ids. With one fixed range (sandbox.DefaultHostIDBase), concurrent
// sandboxes run as the same host users: the kernel's per-user quotas
// (inotify instances, pending signals, message queue bytes) are shared
// among them, so one sandbox can exhaust them for all the others, and
// what one writes in a bind they both have is the other's own. A range
// from a Pool is held by one sandbox only, for as long as its Reservation
// is held: among the callers that share the pool's lock directory (one
// host's /run; containers with a /run of their own each have theirs).
// sandbox.Cmd.OwnHostIDs and `sandbox run --host-ids auto` use DefaultPool.
//
// Invariants:
//   - A range starts at a multiple of 65536 (the upper 16 bits name the
//     range, the lower 16 bits are the id inside), as systemd-nspawn's do.
//   - A Reservation is an exclusive flock(2) on a file named after the
//     range's first id in the pool's directory: it holds across processes,
//     and ends when its holder releases it or dies. A holder that dies
//     without Release leaves its file, and the range is not handed out
//     again while the sandbox it recorded there (Hold) still runs.
//   - A range that overlaps an account (passwd, group) or a subordinate id
//     range (subuid, subgid) is never handed out.
package hostids

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// RangeSize is the number of host ids in a range: ids 0…65535 inside.
const RangeSize = 1 << 16

// The default pool: 4094 ranges from 1879048192 (0x70000000) up to
// 2147352575, which systemd's table of ids leaves unused. It lies above the
// ranges useradd hands out as subordinate ids, above systemd-nspawn's
// container ranges (524288…1879048191), below systemd's foreign range
// (0x7FFE0000) and below 2^31, which some programs mistake for negative.
const (
	DefaultFirst  = 0x70000000
	DefaultRanges = 0xFFE
	DefaultDir    = "/run/sandbox/hostids"
)

// Pool is a set of ranges and the directory where their locks live.
type Pool struct {
	// First is the first id of the first range; a multiple of RangeSize.
	First uint32
	// Ranges is how many ranges follow First.
	Ranges int
	// Dir holds one lock file per reserved range. It must be a directory
	// only its owner (the caller) may write: whoever can create files in
	// it can hold ranges.
	Dir string
	// Passwd, Group, SubUID and SubGID are the files whose ids a range
	// must not overlap (NSS and sssd are not asked). Empty skips one.
	Passwd, Group, SubUID, SubGID string
}

// DefaultPool returns the default pool, checked against the host's
// /etc/passwd, /etc/group, /etc/subuid and /etc/subgid.
func DefaultPool() Pool {
	return Pool{First: DefaultFirst, Ranges: DefaultRanges, Dir: DefaultDir,
		Passwd: "/etc/passwd", Group: "/etc/group", SubUID: "/etc/subuid", SubGID: "/etc/subgid"}
}

// Reservation is a range held by this process until Release. Holding it
// costs two descriptors, kept without a finalizer: a Reservation that is
// dropped without Release holds its range until the process exits, never
// less.
type Reservation struct {
	// Base is the range's first host id: ids 0…65535 inside map to
	// Base…Base+65535 outside, for uids and gids alike.
	Base uint32
	held bool // until Release
	dir  int  // the pool's directory
	fd   int  // the locked file
	name string
}

// maxStale bounds how often one range's lock is retried when its file is
// replaced under the locker (a holder releasing at that moment).
const maxStale = 8

// Reserve takes a range no other Reservation of the pool holds, nor a
// sandbox whose holder died before it (see Hold). It tries the ranges from
// one chosen by the caller's pid, so that concurrent callers seldom race
// for the same one.
func (p Pool) Reserve() (*Reservation, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	dir, err := openDir(p.Dir)
	if err != nil {
		return nil, err
	}
	taken := p.taken()
	start := os.Getpid() % p.Ranges
	for i := 0; i < p.Ranges; i++ {
		k := (start + i) % p.Ranges
		base := p.First + uint32(k)*RangeSize
		if taken.overlaps(uint64(base), RangeSize) != nil {
			continue
		}
		r, err := lock(dir, p.Dir, base)
		if err != nil {
			unix.Close(dir)
			return nil, err
		}
		if r != nil {
			unix.Close(dir) // r has its own
			return r, nil
		}
	}
	unix.Close(dir)
	return nil, fmt.Errorf("hostids: all %d ranges from %d are held or overlap accounts and subordinate ids", p.Ranges, p.First)
}

// check refuses a pool whose ranges are not aligned or do not fit below
// the kernel's "no id".
func (p Pool) check() error {
	if p.First%RangeSize != 0 || p.Ranges <= 0 || uint64(p.First)+uint64(p.Ranges)*RangeSize > 1<<32-1 {
		return fmt.Errorf("hostids: pool of %d ranges from %d: want a first id that is a multiple of %d and ranges below 2^32-1",
			p.Ranges, p.First, RangeSize)
	}
	return nil
}

// Hold records pid, the sandbox's first process (its pid-1 reaper), in
// the range's lock file. Its holder's lock ends the moment the holder
// dies, while a sandbox whose supervisor was killed outright may still be
// dying; a Reserve that finds the lock free but pid alive (not a zombie,
// with the start time recorded) leaves the range alone.
func (r *Reservation) Hold(pid int) error {
	if r == nil || !r.held {
		return errors.New("hostids: Hold on a released reservation")
	}
	start, _, err := procStart(pid)
	if err != nil {
		return fmt.Errorf("hostids: holder %d: %w", pid, err)
	}
	return writeRecord(r.fd, fmt.Sprintf("%d %d %s\n", os.Getpid(), pid, start))
}

// Release gives the range back. The lock file is removed while still
// locked (if the name still names it), so a caller that opened it
// meanwhile finds it stale (Reserve checks) and moves on. Release is
// idempotent.
func (r *Reservation) Release() error {
	if r == nil || !r.held {
		return nil
	}
	var err error
	if same, _ := namesFile(r.dir, r.name, r.fd); same {
		err = unix.Unlinkat(r.dir, r.name, 0)
	}
	unix.Close(r.fd)
	unix.Close(r.dir)
	r.held = false
	if err != nil {
		return fmt.Errorf("hostids: release %d: %w", r.Base, err)
	}
	return nil
}

// lock tries the lock of the range at base in the directory dir (named
// dirName in errors): the reservation, nil if another holder has it, or
// an error that is not about the lock.
func lock(dir int, dirName string, base uint32) (*Reservation, error) {
	name := strconv.FormatUint(uint64(base), 10)
	path := filepath.Join(dirName, name)
	for try := 0; try < maxStale; try++ {
		fd, err := unix.Openat(dir, name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("hostids: %w", &os.PathError{Op: "open", Path: path, Err: err})
		}
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			unix.Close(fd)
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, nil
			}
			return nil, fmt.Errorf("hostids: %w", &os.PathError{Op: "flock", Path: path, Err: err})
		}
		// A holder that released between our open and our lock removed
		// the file: the inode locked is no longer the one the name
		// names. Try again with the name's new file.
		same, err := namesFile(dir, name, fd)
		if same {
			if sandboxAlive(fd) {
				unix.Close(fd)
				return nil, nil
			}
			if err := writeRecord(fd, strconv.Itoa(os.Getpid())+"\n"); err != nil {
				unix.Close(fd)
				return nil, fmt.Errorf("hostids: %s: %w", path, err)
			}
			ddir, err := unix.Dup(dir)
			if err != nil {
				unix.Close(fd)
				return nil, fmt.Errorf("hostids: %w", err)
			}
			unix.CloseOnExec(ddir)
			return &Reservation{Base: base, held: true, dir: ddir, fd: fd, name: name}, nil
		}
		unix.Close(fd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("hostids: %s: %w", path, err)
		}
	}
	return nil, fmt.Errorf("hostids: %s: replaced under the lock %d times", path, maxStale)
}

// namesFile reports whether name in dir is still the file open at fd: a
// holder releasing removes the name (ENOENT), and another file may take
// it.
func namesFile(dir int, name string, fd int) (bool, error) {
	var open, named unix.Stat_t
	if err := unix.Fstat(fd, &open); err != nil {
		return false, os.NewSyscallError("fstat", err)
	}
	if err := unix.Fstatat(dir, name, &named, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return false, err
	}
	return open.Ino == named.Ino && open.Dev == named.Dev, nil
}

// sandboxAlive reports whether the lock file at fd, just locked, names a
// sandbox (Hold) that still runs: its holder died without Release.
func sandboxAlive(fd int) bool {
	buf := make([]byte, 128)
	n, _ := unix.Pread(fd, buf, 0)
	f := strings.Fields(string(buf[:max(n, 0)]))
	if len(f) != 3 {
		return false
	}
	pid, err := strconv.Atoi(f[1])
	if err != nil || pid <= 0 {
		return false
	}
	start, state, err := procStart(pid)
	return err == nil && start == f[2] && state != 'Z' && state != 'X'
}

// procStart returns the start time (in clock ticks after boot, field 22
// of /proc/PID/stat) and state of a process: with the pid, it names one
// process for good.
func procStart(pid int) (string, byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return "", 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", 0, fmt.Errorf("/proc/%d/stat: %d fields after the command name", pid, len(f))
	}
	return f[19], f[0][0], nil
}

// writeRecord replaces the lock file's contents: for whoever looks, and
// for the next locker (sandboxAlive). The lock is what holds the range.
func writeRecord(fd int, s string) error {
	if err := unix.Ftruncate(fd, 0); err != nil {
		return err
	}
	_, err := unix.Pwrite(fd, []byte(s), 0)
	return err
}

// openDir makes sure dir exists and that nobody but its owner, the
// caller, can add locks to it, and opens it: the locks are opened,
// checked and removed relative to that descriptor, never by path.
func openDir(dir string) (int, error) {
	if dir == "" {
		return -1, errors.New("hostids: no lock directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return -1, fmt.Errorf("hostids: %w", err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return -1, fmt.Errorf("hostids: %s must be a directory owned by uid %d and writable by nobody else (%w)", dir, os.Geteuid(), err)
		}
		return -1, fmt.Errorf("hostids: %w", &os.PathError{Op: "open", Path: dir, Err: err})
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("hostids: %w", &os.PathError{Op: "fstat", Path: dir, Err: err})
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		unix.Close(fd)
		return -1, fmt.Errorf("hostids: %s must be a directory owned by uid %d and writable by nobody else (it is mode %#o, uid %d)",
			dir, os.Geteuid(), st.Mode&0o7777, st.Uid)
	}
	return fd, nil
}

// Status counts the pool's ranges without taking any: held (locked, or
// kept for a sandbox whose holder died; see Hold), and free (neither held
// nor overlapping an account or subordinate range). It checks the lock
// directory as Reserve does, but does not create it: none means no range
// was ever held.
func (p Pool) Status() (held, free int, err error) {
	if err := p.check(); err != nil {
		return 0, 0, err
	}
	dir := -1
	if _, err := os.Lstat(p.Dir); !errors.Is(err, os.ErrNotExist) || p.Dir == "" {
		if dir, err = openDir(p.Dir); err != nil {
			return 0, 0, err
		}
		defer unix.Close(dir)
	}
	locked, err := flockedInodes()
	if err != nil {
		return 0, 0, err
	}
	taken := p.taken()
	for k := 0; k < p.Ranges; k++ {
		base := p.First + uint32(k)*RangeSize
		name := strconv.FormatUint(uint64(base), 10)
		var st unix.Stat_t
		if dir >= 0 && unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			if locked[[3]uint64{uint64(unix.Major(st.Dev)), uint64(unix.Minor(st.Dev)), st.Ino}] {
				held++
				continue
			}
			if fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err == nil {
				alive := sandboxAlive(fd)
				unix.Close(fd)
				if alive {
					held++
					continue
				}
			}
		}
		if taken.overlaps(uint64(base), RangeSize) == nil {
			free++
		}
	}
	return held, free, nil
}

// flockedInodes returns the files with an exclusive flock(2), as
// /proc/locks lists them: {major, minor, inode}.
func flockedInodes() (map[[3]uint64]bool, error) {
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil, fmt.Errorf("hostids: %w", err)
	}
	locked := map[[3]uint64]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		// 1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" || f[3] != "WRITE" {
			continue
		}
		id := strings.Split(f[5], ":")
		if len(id) != 3 {
			continue
		}
		maj, err1 := strconv.ParseUint(id[0], 16, 32)
		min, err2 := strconv.ParseUint(id[1], 16, 32)
		ino, err3 := strconv.ParseUint(id[2], 10, 64)
		if err1 == nil && err2 == nil && err3 == nil {
			locked[[3]uint64{maj, min, ino}] = true
		}
	}
	return locked, nil
}

// span is ids [lo, hi) that belong to who.
type span struct {
	lo, hi uint64
	who    string
}

type spans []span

// overlaps returns the holders of any id in [lo, lo+n).
func (s spans) overlaps(lo, n uint64) []string {
	var who []string
	for _, x := range s {
		if x.lo < lo+n && lo < x.hi {
			who = append(who, x.who)
		}
	}
	return who
}

func (p Pool) taken() spans {
	return holders(p.Passwd, p.Group, p.SubUID, p.SubGID)
}

// Conflicts names who else holds host ids in [lo, lo+n): the accounts of
// passwd and group whose id falls in it, and the subordinate ranges of
// subuid and subgid that overlap it. Unreadable files are skipped.
func Conflicts(lo, n uint64, passwd, group, subuid, subgid string) []string {
	var who []string
	for _, w := range holders(passwd, group, subuid, subgid).overlaps(lo, n) {
		if !slices.Contains(who, w) {
			who = append(who, w)
		}
	}
	return who
}

func holders(passwd, group, subuid, subgid string) spans {
	var s spans
	// name:x:id:… — one id each.
	for _, f := range []string{passwd, group} {
		eachLine(f, func(parts []string) {
			if len(parts) < 3 {
				return
			}
			if id, err := strconv.ParseUint(parts[2], 10, 32); err == nil {
				s = append(s, span{id, id + 1, fmt.Sprintf("%s (id %d in %s)", parts[0], id, f)})
			}
		})
	}
	// name:start:count — a range each.
	for _, f := range []string{subuid, subgid} {
		eachLine(f, func(parts []string) {
			if len(parts) != 3 {
				return
			}
			start, err1 := strconv.ParseUint(parts[1], 10, 32)
			count, err2 := strconv.ParseUint(parts[2], 10, 32)
			if err1 == nil && err2 == nil && count > 0 {
				s = append(s, span{start, start + count, parts[0] + " (" + f + ")"})
			}
		})
	}
	return s
}

func eachLine(file string, fn func(parts []string)) {
	if file == "" {
		return
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			fn(strings.Split(line, ":"))
		}
	}
}
