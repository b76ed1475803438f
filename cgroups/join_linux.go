package cgroups

import (
	"errors"
	"os"
	"strconv"

	"github.com/gosandbox/sandbox/spawn"
	"golang.org/x/sys/unix"
)

// Dir is the sandbox's cgroup2 directory, for spawn.Attr.Cgroup: clone3
// with CLONE_INTO_CGROUP starts the child in it, so the child never runs
// outside the group. On a hybrid host this is the twin in the unified
// hierarchy, which Kill relies on. Nil when no cgroup2 hierarchy is used
// (v1 hosts) or after Destroy. The Cgroup keeps ownership.
func (c *Cgroup) Dir() *os.File {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dir
}

// JoinSteps appends to b, for each v1 hierarchy of c, a step that moves
// the child into the sandbox's cgroup there: write(fd, "0", 1) on that
// hierarchy's cgroup.procs, where "0" means the writer. It declares one
// program input per hierarchy; Inputs returns their descriptors in the
// same order, to be placed in spawn.Attr.Inputs at the position of the
// first. Nothing is appended on a pure cgroup v2 host.
//
// Put the steps early: before credentials change, and before the child
// unshares a cgroup namespace (the namespace's root is the cgroup at that
// moment). Until they run, the child (which runs only the program's
// steps) is charged to the parent's v1 cgroups.
//
// The program depends only on Joins, so it may be reused with any Cgroup
// whose Joins are equal (same host layout and the same hierarchies
// enforced).
func (c *Cgroup) JoinSteps(b *spawn.Builder) {
	if len(c.v1) == 0 {
		return
	}
	zero := b.String("0")
	one := uint64(1)
	for _, n := range c.v1 {
		name := n.h.Name()
		fd := b.Input("cgroup.procs of " + name)
		b.Call(spawn.Call{
			Nr:     unix.SYS_WRITE,
			Args:   []spawn.Arg{spawn.Imm(fd), zero.Arg(), spawn.Imm(1)},
			Op:     "join cgroup",
			Target: name + " " + n.cgPath,
			Check:  &one,
		})
	}
}

// Inputs returns the descriptors for the inputs JoinSteps declared, in
// order. The Cgroup keeps ownership; they stay open until Destroy.
func (c *Cgroup) Inputs() []*os.File {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*os.File(nil), c.procs...)
}

// Joins names the v1 hierarchies JoinSteps joins, in order.
func (c *Cgroup) Joins() []string {
	js := make([]string, len(c.v1))
	for i, n := range c.v1 {
		js[i] = n.h.Name()
	}
	return js
}

// Add moves a running process (all its threads) into the sandbox's cgroup
// in every hierarchy. Processes it already forked stay where they are: for
// new children prefer Dir and JoinSteps, which leave no window.
func (c *Cgroup) Add(pid int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return ErrDestroyed
	}
	var errs []error
	for _, n := range c.nodes() {
		errs = append(errs, c.l.writeFile(n.dir, "cgroup.procs", strconv.Itoa(pid)))
	}
	return errors.Join(errs...)
}
