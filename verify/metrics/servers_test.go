package metrics

import "github.com/safe-rollout/kubectl-safe-rollout/verify/verifytest"

var (
	closedPort     = verifytest.ClosedPort
	blockingServer = verifytest.BlockingServer
)
