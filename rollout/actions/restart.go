// Package actions holds the plugin's writes to a workload: the restart
// `kubectl rollout restart` sends, and the pause and rollback a breach calls for.
package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
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
	before, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encoding deployment: %w", err)
	}
	afterJSON, err := json.Marshal(restarted(d, now))
	if err != nil {
		return nil, fmt.Errorf("encoding deployment: %w", err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(before, afterJSON, appsv1.Deployment{})
	if err != nil {
		return nil, fmt.Errorf("computing restart patch: %w", err)
	}
	return patch, nil
}

// restarted returns a copy of d with the pod template stamped restartedAt now.
func restarted(d *appsv1.Deployment, now time.Time) *appsv1.Deployment {
	out := d.DeepCopy()
	if out.Spec.Template.Annotations == nil {
		out.Spec.Template.Annotations = map[string]string{}
	}
	out.Spec.Template.Annotations[workload.RestartedAtAnnotation] = now.Format(time.RFC3339)
	return out
}

// Restart patches the Deployment as `kubectl rollout restart` does and returns the
// Deployment as the server (or, for a client dry run, the patch) left it.
func Restart(ctx context.Context, client kubernetes.Interface, d *appsv1.Deployment, now time.Time, dryRun DryRun) (*appsv1.Deployment, error) {
	patch, err := RestartPatch(d, now)
	if err != nil {
		return nil, err
	}
	if dryRun == DryRunClient {
		return restarted(d, now), nil
	}
	opts := metav1.PatchOptions{FieldManager: workload.FieldManager}
	if dryRun == DryRunServer {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, types.StrategicMergePatchType, patch, opts)
	if err != nil {
		return nil, fmt.Errorf("restarting deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	return out, nil
}
