// Package chaos registers users under load while killing, one after the
// other, every process of the suite and restarting MariaDB, then checks
// that nothing was lost and nothing was left half done. It runs only when
// CHAOS=1 (make chaos, which .ci/run runs too): it restarts the
// machine's MariaDB.
package chaos

import (
	"os"
	"testing"

	"sagasuite/internal/stacktest"
)

var stack *stacktest.Stack

func TestMain(m *testing.M) {
	if os.Getenv("CHAOS") == "" {
		os.Exit(m.Run()) // the test skips itself and says how to run it
	}
	os.Exit(stacktest.Main(m, stacktest.Options{
		DBPrefix: "sagachaos",
		Replicas: true,
		// Answers wait a little longer here: branches restart under load.
		GatewayEnv: []string{"SAGA_RESULT_TIMEOUT=3000"},
	}, &stack))
}
