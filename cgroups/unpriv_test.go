package cgroups

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/gosandbox/sandbox/internal/testutil"
)

// TestUnprivileged: without root and without a delegated cgroup, Probe
// says what is missing and New fails with a permission error and its fix;
// nothing is created.
func TestUnprivileged(t *testing.T) {
	testutil.RequireNonRoot(t)
	l, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	if l.Mode == ModeNone {
		testutil.SkipAlways(t, "no cgroup hierarchy mounted")
	}
	r, err := Probe(l)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", r)
	writable := false
	for _, c := range r.Controllers {
		writable = writable || c.Writable
	}
	if writable || r.V2Writable {
		testutil.SkipAlways(t, "this user has a delegated cgroup; the test is for one without")
	}
	if len(r.Fixes) == 0 {
		t.Error("no fix suggested")
	}
	parent := testParent()
	leakCheck(t, l, parent)
	_, err = New(Config{Layout: l, Parent: parent, Resources: Resources{PidsMax: 10}})
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "Delegate=yes") {
		t.Errorf("New: %v, want a permission error with the delegation fix", err)
	}
	_, err = New(Config{Layout: l, Parent: parent, BestEffort: true})
	if err == nil || !strings.Contains(err.Error(), "no hierarchy is usable") {
		t.Errorf("New with BestEffort: %v", err)
	}
}
