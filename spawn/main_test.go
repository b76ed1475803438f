//go:build linux

package spawn

import (
	"os"
	"testing"

	"github.com/gosandbox/sandbox/internal/testutil"
)

// TestMain removes the checker the tests built.
func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
