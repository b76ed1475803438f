package cgroups

import (
	"reflect"
	"testing"
)

// Lines taken from this CI host (hybrid) and from typical v2 and v1 hosts.
const (
	hybridMountinfo = `23 1 253:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	hybridCgroup = `9:name=systemd:/
8:pids:/
6:freezer:/
4:memory:/process_api/34b2
2:cpuacct:/
1:cpu:/
0::/
`
	unifiedMountinfo = `22 1 8:1 / / rw - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	unifiedCgroup = "0::/user.slice/user-1000.slice/session-3.scope\n"

	legacyMountinfo = `22 1 8:1 / / rw - ext4 /dev/sda1 rw
25 22 0:21 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
27 25 0:23 / /sys/fs/cgroup/memory ro,nosuid shared:10 - cgroup cgroup rw,memory
28 25 0:24 /docker/abc /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
`
	legacyCgroup = `5:pids:/docker/abc
3:memory:/user.slice
2:cpu,cpuacct:/user.slice
1:name=systemd:/user.slice
`
)

func TestParseLayout(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mi, cg     string
		mode       Mode
		v2Dir      string
		v1         map[string]string // hierarchy name → own dir
		v1ReadOnly []string
	}{
		{
			name: "hybrid", mi: hybridMountinfo, cg: hybridCgroup, mode: ModeHybrid,
			v2Dir: "/sys/fs/cgroup/unified",
			v1: map[string]string{
				"cpu": "/sys/fs/cgroup/cpu", "cpuacct": "/sys/fs/cgroup/cpuacct",
				"memory": "/sys/fs/cgroup/memory/process_api/34b2", "freezer": "/sys/fs/cgroup/freezer",
				"pids": "/sys/fs/cgroup/pids",
			},
		},
		{
			name: "unified", mi: unifiedMountinfo, cg: unifiedCgroup, mode: ModeUnified,
			v2Dir: "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope",
			v1:    map[string]string{},
		},
		{
			name: "legacy", mi: legacyMountinfo, cg: legacyCgroup, mode: ModeLegacy,
			v1: map[string]string{
				"cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/user.slice",
				"memory":      "/sys/fs/cgroup/memory/user.slice",
				// A subtree mount (a container's view): /docker/abc is the
				// mount's root.
				"pids": "/sys/fs/cgroup/pids",
			},
			v1ReadOnly: []string{"memory"},
		},
		{
			name: "none", mi: "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n", cg: unifiedCgroup, mode: ModeNone,
			v1: map[string]string{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseLayout([]byte(tc.mi), []byte(tc.cg))
			if err != nil {
				t.Fatal(err)
			}
			if l.Mode != tc.mode {
				t.Errorf("mode %v, want %v", l.Mode, tc.mode)
			}
			v2 := ""
			if l.V2 != nil {
				v2 = l.V2.Dir()
			}
			if v2 != tc.v2Dir {
				t.Errorf("v2 dir %q, want %q", v2, tc.v2Dir)
			}
			got := map[string]string{}
			var ro []string
			for _, h := range l.V1 {
				got[h.Name()] = h.Dir()
				if h.ReadOnly {
					ro = append(ro, h.Name())
				}
			}
			if !reflect.DeepEqual(got, tc.v1) {
				t.Errorf("v1 %v, want %v", got, tc.v1)
			}
			if !reflect.DeepEqual(ro, tc.v1ReadOnly) {
				t.Errorf("read-only %v, want %v", ro, tc.v1ReadOnly)
			}
		})
	}
}

func TestParseLayoutOutsideMount(t *testing.T) {
	// The process's cgroup lies outside the mounted subtree: the hierarchy
	// is reported, with no directory.
	mi := "28 22 0:24 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
	l, err := ParseLayout([]byte(mi), []byte("5:pids:/other\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.V1) != 1 || l.V1[0].Dir() != "" {
		t.Fatalf("V1 = %+v, want one hierarchy without a directory", l.V1)
	}
	p := place(l, &Resources{PidsMax: 5})
	if len(p.v1) != 0 || len(p.missing) != 1 || p.missing[0].Limit != "pids.max" {
		t.Errorf("placement %+v, want pids.max unenforced", p)
	}
}

func TestParseLayoutEscapes(t *testing.T) {
	mi := `41 31 0:38 / /mnt/cg\040two rw,relatime - cgroup2 cgroup2 rw` + "\n"
	l, err := ParseLayout([]byte(mi), []byte("0::/a b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.V2.Dir(); got != "/mnt/cg two/a b" {
		t.Errorf("dir %q", got)
	}
}

func TestParseLayoutShadowed(t *testing.T) {
	// A second mount at the same point hides the first.
	mi := `41 31 0:38 /x /sys/fs/cgroup rw - cgroup2 cgroup2 rw
42 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
`
	l, err := ParseLayout([]byte(mi), []byte("0::/y\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := l.V2.Dir(); got != "/sys/fs/cgroup/y" {
		t.Errorf("dir %q", got)
	}
}

func TestParseLayoutMalformed(t *testing.T) {
	if _, err := ParseLayout(nil, []byte("garbage\n")); err == nil {
		t.Error("malformed /proc/self/cgroup accepted")
	}
	if _, err := ParseLayout([]byte("1 2 3\n"), nil); err == nil {
		t.Error("malformed mountinfo accepted")
	}
}

func TestController(t *testing.T) {
	l, err := ParseLayout([]byte(hybridMountinfo), []byte(hybridCgroup))
	if err != nil {
		t.Fatal(err)
	}
	l.V2.Controllers = []string{"hugetlb"}
	if h := l.Controller("memory"); h == nil || h.Version != 1 {
		t.Errorf("memory from %+v, want v1", h)
	}
	if h := l.Controller("hugetlb"); h != l.V2 {
		t.Errorf("hugetlb from %+v, want v2", h)
	}
	if h := l.Controller("io"); h != nil {
		t.Errorf("io from %+v, want none", h)
	}
}
