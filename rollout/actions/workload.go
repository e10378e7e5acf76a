package actions

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// RestartWorkload restarts a Deployment, StatefulSet or DaemonSet as `kubectl
// rollout restart` does and returns it as the server (or, for a client dry
// run, the patch) left it.
func RestartWorkload(ctx context.Context, client kubernetes.Interface, w workload.Workload, now time.Time, dryRun DryRun) (workload.Workload, error) {
	switch o := w.(type) {
	case workload.Deployment:
		out, err := Restart(ctx, client, o.Deployment, now, dryRun)
		if err != nil {
			return nil, err
		}
		return workload.Deployment{Deployment: out}, nil
	case workload.StatefulSet:
		out, err := RestartStatefulSet(ctx, client, o.StatefulSet, now, dryRun)
		if err != nil {
			return nil, err
		}
		return workload.StatefulSet{StatefulSet: out}, nil
	case workload.DaemonSet:
		out, err := RestartDaemonSet(ctx, client, o.DaemonSet, now, dryRun)
		if err != nil {
			return nil, err
		}
		return workload.DaemonSet{DaemonSet: out}, nil
	}
	return nil, fmt.Errorf("restarting %s: unsupported kind", w.Kind())
}
