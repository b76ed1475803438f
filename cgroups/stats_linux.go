package cgroups

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Stats is the sandbox's accounting, read from whichever hierarchy holds
// each controller. Counters cover the group's whole life.
type Stats struct {
	// MemoryPeak is the highest memory use, in bytes: memory.peak on v2
	// (Linux 5.19), memory.max_usage_in_bytes on v1 (which may pass the
	// limit by a page). It includes page cache, like the limit.
	MemoryPeak uint64
	// OOMKills counts processes the OOM killer killed in the group:
	// memory.events oom_kill on v2, memory.oom_control oom_kill on v1
	// (Linux 4.13).
	OOMKills uint64
	// MemoryLimitHits counts the times usage reached MemoryMax (the kernel
	// then reclaims, and kills when it cannot): memory.events max on v2,
	// memory.failcnt on v1. Some kernels leave memory.failcnt at 0 (seen on
	// Linux 6.18); OOMKills is the reliable sign of a memory-limit death.
	MemoryLimitHits uint64
	// PidsLimitHits counts forks refused by PidsMax: pids.events max.
	PidsLimitHits uint64
	// CPU is the CPU time used by the group's processes, in total and split
	// into user and system time: cpu.stat on v2, cpuacct on v1.
	CPU, CPUUser, CPUSystem time.Duration
	// Missing lists the files this host lacks ("memory.peak in …"); their
	// fields are zero.
	Missing []string
}

// Stats reads the sandbox's accounting. Files the kernel lacks are listed
// in Missing rather than failing.
func (c *Cgroup) Stats() (*Stats, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return nil, ErrDestroyed
	}
	s := &Stats{}
	r := statReader{s: s}
	if dir, v2 := c.ctrlDir("memory"); dir != "" && v2 {
		r.keyed(dir, "memory.events", "oom_kill", &s.OOMKills)
		r.keyed(dir, "memory.events", "max", &s.MemoryLimitHits)
		r.single(dir, "memory.peak", &s.MemoryPeak)
	} else if dir != "" {
		r.keyed(dir, "memory.oom_control", "oom_kill", &s.OOMKills)
		r.single(dir, "memory.failcnt", &s.MemoryLimitHits)
		r.single(dir, "memory.max_usage_in_bytes", &s.MemoryPeak)
	}
	if dir, _ := c.ctrlDir("pids"); dir != "" {
		r.keyed(dir, "pids.events", "max", &s.PidsLimitHits)
	}
	if dir, _ := c.ctrlDir("cpuacct"); dir != "" {
		var total, user, sys uint64
		r.single(dir, "cpuacct.usage", &total)
		r.single(dir, "cpuacct.usage_user", &user)
		r.single(dir, "cpuacct.usage_sys", &sys)
		s.CPU, s.CPUUser, s.CPUSystem = time.Duration(total), time.Duration(user), time.Duration(sys)
	} else if c.v2 != nil {
		// cpu.stat's usage lines are core cgroup2 files: present even
		// without the cpu controller.
		var total, user, sys uint64
		r.keyed(c.v2.dir, "cpu.stat", "usage_usec", &total)
		r.keyed(c.v2.dir, "cpu.stat", "user_usec", &user)
		r.keyed(c.v2.dir, "cpu.stat", "system_usec", &sys)
		s.CPU, s.CPUUser, s.CPUSystem = time.Duration(total)*time.Microsecond,
			time.Duration(user)*time.Microsecond, time.Duration(sys)*time.Microsecond
	}
	return s, r.err
}

// ctrlDir returns the directory that holds ctrl for this sandbox, and
// whether it is the cgroup2 one; "" when ctrl is not used.
// AccountsCPU reports whether Stats counts the tree's CPU time: cpuacct on
// cgroup v1, cpu.stat (present without the cpu controller) on v2.
func (c *Cgroup) AccountsCPU() bool {
	dir, _ := c.ctrlDir("cpuacct")
	return dir != "" || c.v2 != nil
}

func (c *Cgroup) ctrlDir(ctrl string) (string, bool) {
	if n := c.v1Node(ctrl); n != nil {
		return n.dir, false
	}
	if c.v2 != nil && slices.Contains(c.v2.ctrls, ctrl) {
		return c.v2.dir, true
	}
	return "", false
}

// statReader reads stat files, caching each file once, noting missing ones
// and keeping the first other error.
type statReader struct {
	s     *Stats
	err   error
	cache map[string][]byte
}

func (r *statReader) read(dir, file string) ([]byte, bool) {
	key := dir + "/" + file
	if b, ok := r.cache[key]; ok {
		return b, b != nil
	}
	if r.cache == nil {
		r.cache = map[string][]byte{}
	}
	b, err := readFile(dir, file)
	switch {
	case errors.Is(err, unix.ENOENT):
		r.s.Missing = append(r.s.Missing, file+" in "+dir)
	case err != nil:
		r.err = cmp.Or(r.err, err)
	}
	r.cache[key] = b
	return b, b != nil
}

func (r *statReader) keyed(dir, file, key string, dst *uint64) {
	if b, ok := r.read(dir, file); ok {
		if v, ok := keyed(b, key); ok {
			*dst = v
		} else {
			r.s.Missing = append(r.s.Missing, file+" "+key+" in "+dir)
		}
	}
}

func (r *statReader) single(dir, file string, dst *uint64) {
	if b, ok := r.read(dir, file); ok {
		if v, ok := single(b); ok {
			*dst = v
		} else {
			r.err = cmp.Or(r.err, error(fileError("read", dir, file, errors.New("not a number: "+string(b)))))
		}
	}
}
