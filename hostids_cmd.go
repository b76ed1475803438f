//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/gosandbox/sandbox/hostids"
)

// ownHostIDs moves spec's id mappings onto a range of host ids reserved
// for this run (Cmd.OwnHostIDs). The range is held until releaseHostIDs,
// which runs once the sandbox is gone.
func (c *Cmd) ownHostIDs(spec *specs.Spec) error {
	if os.Geteuid() != 0 {
		return errors.New("sandbox: OwnHostIDs needs a root caller: an unprivileged caller's sandbox maps its own uid and gid alone")
	}
	if !newPidNS(spec) {
		return errors.New("sandbox: OwnHostIDs needs a new pid namespace (linux.namespaces), so that no process keeps the ids once the sandbox ends")
	}
	for _, m := range []struct {
		field string
		maps  []specs.LinuxIDMapping
	}{{"linux.uidMappings", spec.Linux.UIDMappings}, {"linux.gidMappings", spec.Linux.GIDMappings}} {
		if len(m.maps) != 1 || m.maps[0].ContainerID != 0 || m.maps[0].Size != hostids.RangeSize {
			return fmt.Errorf("sandbox: OwnHostIDs: %s must be one range of %d ids from id 0, as DefaultSpec's (it is %s)",
				m.field, hostids.RangeSize, describeMaps(m.maps))
		}
	}
	r, err := hostids.DefaultPool().Reserve()
	if err != nil {
		return fmt.Errorf("sandbox: OwnHostIDs: %w", err)
	}
	spec.Linux.UIDMappings[0].HostID = r.Base
	spec.Linux.GIDMappings[0].HostID = r.Base
	c.hostRange = r
	return nil
}

// holdHostIDs records the sandbox's first process with its range: were
// this program killed outright, the range stays taken until that process
// is gone too.
func (c *Cmd) holdHostIDs(pid int) {
	if c.hostRange == nil {
		return
	}
	if err := c.hostRange.Hold(pid); err != nil {
		c.Warnings = append(c.Warnings, "OwnHostIDs: "+err.Error())
	}
}

// releaseHostIDs gives the range back; the sandbox must be gone.
func (c *Cmd) releaseHostIDs() {
	c.hostRange.Release()
	c.hostRange = nil
}

// describeMaps shows id mappings as "container:host:size" entries.
func describeMaps(maps []specs.LinuxIDMapping) string {
	if len(maps) == 0 {
		return "empty"
	}
	parts := make([]string, len(maps))
	for i, m := range maps {
		parts[i] = fmt.Sprintf("%d:%d:%d", m.ContainerID, m.HostID, m.Size)
	}
	return strings.Join(parts, ", ")
}
