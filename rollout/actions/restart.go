// Package actions holds the plugin's writes to a workload: the restart
// `kubectl rollout restart` sends, and the pause and rollback a breach calls for.
package actions

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// DryRun mirrors kubectl's --dry-run values.
type DryRun string

const (
	DryRunNone   DryRun = "none"
	DryRunClient DryRun = "client"
	DryRunServer DryRun = "server"
)

// ErrPaused is returned when restarting a paused Deployment, which would not roll.
var ErrPaused = errors.New("can't restart a paused deployment (run 'kubectl rollout resume' first)")

// RestartPatch computes the strategic merge patch `kubectl rollout restart` sends:
// the restartedAt annotation of the pod template set to now (RFC 3339).
func RestartPatch(d *appsv1.Deployment, now time.Time) ([]byte, error) {
	if d.Spec.Paused {
		return nil, ErrPaused
	}
	return twoWayPatch(d, restarted(d, now), appsv1.Deployment{})
}

// restarted returns a copy of d with the pod template stamped restartedAt now.
func restarted(d *appsv1.Deployment, now time.Time) *appsv1.Deployment {
	out := d.DeepCopy()
	stampRestart(&out.Spec.Template, now)
	return out
}

// Restart patches the Deployment as `kubectl rollout restart` does and returns the
// Deployment as the server (or, for a client dry run, the patch) left it.
func Restart(ctx context.Context, client kubernetes.Interface, d *appsv1.Deployment, now time.Time, dryRun DryRun) (*appsv1.Deployment, error) {
	if d.Spec.Paused {
		return nil, ErrPaused
	}
	return sendRestart(ctx, d, restarted(d, now), appsv1.Deployment{}, dryRun, "deployment",
		func(ctx context.Context, patch []byte, opts metav1.PatchOptions) (*appsv1.Deployment, error) {
			return client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.StrategicMergePatchType, patch, opts)
		})
}

// sendRestart sends the strategic merge patch from obj to stamped (its copy
// with restartedAt set) with send, as `kubectl rollout restart` does, and
// returns the object as the server (or, for a client dry run, the patch) left it.
func sendRestart[T metav1.Object](ctx context.Context, obj, stamped T, dataStruct any, dryRun DryRun, kind string,
	send func(ctx context.Context, patch []byte, opts metav1.PatchOptions) (T, error)) (T, error) {
	var none T
	patch, err := twoWayPatch(obj, stamped, dataStruct)
	if err != nil {
		return none, err
	}
	if dryRun == DryRunClient {
		return stamped, nil
	}
	opts := metav1.PatchOptions{FieldManager: workload.FieldManager}
	if dryRun == DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := send(ctx, patch, opts)
	if err != nil {
		return none, fmt.Errorf("restarting %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return out, nil
}
