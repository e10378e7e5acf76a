package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// RestartDaemonSet patches the DaemonSet as `kubectl rollout restart` does and
// returns it as the server (or, for a client dry run, the patch) left it.
func RestartDaemonSet(ctx context.Context, client kubernetes.Interface, ds *appsv1.DaemonSet, now time.Time, dryRun DryRun) (*appsv1.DaemonSet, error) {
	after := ds.DeepCopy()
	stampRestart(&after.Spec.Template, now)
	return sendRestart(ctx, ds, after, appsv1.DaemonSet{}, dryRun, "daemonset",
		func(ctx context.Context, patch []byte, opts metav1.PatchOptions) (*appsv1.DaemonSet, error) {
			return client.AppsV1().DaemonSets(ds.Namespace).Patch(ctx, ds.Name, types.StrategicMergePatchType, patch, opts)
		})
}

// DaemonSetStop is what StopDaemonSet replaced and how to undo it.
type DaemonSetStop struct {
	// UserStrategy is the DaemonSet's updateStrategy before the stop.
	UserStrategy appsv1.DaemonSetUpdateStrategy
	// RestoreCommand is the kubectl command that restores UserStrategy.
	RestoreCommand string
}

// daemonSetStopPatch switches the DaemonSet to OnDelete, conditional on
// resourceVersion. rollingUpdate is removed: the API documents it as "present
// only if type = RollingUpdate" (validation accepts it with OnDelete today,
// but the StatefulSet API already rejects that pairing), and RestoreCommand
// carries the user's values.
const daemonSetStopPatch = `{"metadata":{"resourceVersion":%q},"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null}}}`

// DaemonSetRestoreCommand is the kubectl command that puts the user's
// updateStrategy back: RollingUpdate with maxUnavailable and maxSurge as they
// were (rollingUpdate null if there was none: the API defaults it again).
func DaemonSetRestoreCommand(ds *appsv1.DaemonSet, user appsv1.DaemonSetUpdateStrategy) (string, error) {
	if user.Type == "" {
		user.Type = appsv1.RollingUpdateDaemonSetStrategyType // the API's default
	}
	var patch struct {
		Spec struct {
			UpdateStrategy struct {
				Type          appsv1.DaemonSetUpdateStrategyType `json:"type"`
				RollingUpdate *appsv1.RollingUpdateDaemonSet     `json:"rollingUpdate"`
			} `json:"updateStrategy"`
		} `json:"spec"`
	}
	patch.Spec.UpdateStrategy.Type = user.Type
	patch.Spec.UpdateStrategy.RollingUpdate = user.RollingUpdate
	body, err := json.Marshal(patch)
	if err != nil {
		return "", fmt.Errorf("encoding the updateStrategy of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	// The body is JSON of names, numbers and percentages: no single quote to escape.
	return fmt.Sprintf("kubectl patch daemonset/%s -n %s --type=merge -p '%s'", ds.Name, ds.Namespace, body), nil
}

// StopDaemonSet switches the DaemonSet's updateStrategy to OnDelete, which stops
// its rolling update: pods not yet replaced stay as they are. Only while it
// still carries guarded: the patch is conditional on the resourceVersion whose
// template was checked, and a conflict re-reads and checks again. ErrOnDelete
// if it already is OnDelete (nothing rolls; nothing written). Transient errors
// are retried until ctx ends; attempt hears of every try.
func StopDaemonSet(ctx context.Context, client kubernetes.Interface, ds *appsv1.DaemonSet, guarded *corev1.PodTemplateSpec, attempt func(error)) (DaemonSetStop, error) {
	var stop DaemonSetStop
	err := whileGuardedObject(ctx, ds, getDaemonSet(client, ds), daemonSetTemplate, guarded, errDaemonSetStopRefused, attempt,
		func(current *appsv1.DaemonSet) error {
			if current.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
				return ErrOnDelete
			}
			user := *current.Spec.UpdateStrategy.DeepCopy()
			restore, err := DaemonSetRestoreCommand(current, user)
			if err != nil {
				return err
			}
			patch := fmt.Sprintf(daemonSetStopPatch, current.ResourceVersion)
			_, err = client.AppsV1().DaemonSets(ds.Namespace).Patch(ctx, ds.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: workload.FieldManager})
			if err == nil {
				stop = DaemonSetStop{UserStrategy: user, RestoreCommand: restore}
			}
			return err
		})
	if err != nil {
		return DaemonSetStop{}, wrapWrite(err, "stopping", "daemonset", ds.Namespace, ds.Name)
	}
	return stop, nil
}

// RollbackDaemonSet restores the previous revision's pod template as
// `kubectl rollout undo` does (the revision's data as a strategic merge patch),
// but only while the DaemonSet still carries guarded. A conflict re-reads the
// DaemonSet and decides again; transient errors are retried until ctx ends;
// attempt hears of every try. Refusals wrap ErrRollbackRefused.
func RollbackDaemonSet(ctx context.Context, client kubernetes.Interface, ds *appsv1.DaemonSet, previous *appsv1.ControllerRevision,
	guarded *corev1.PodTemplateSpec, attempt func(error)) error {
	patch := func(ctx context.Context, data []byte) error {
		_, err := client.AppsV1().DaemonSets(ds.Namespace).Patch(ctx, ds.Name, types.StrategicMergePatchType, data, metav1.PatchOptions{FieldManager: workload.FieldManager})
		return err
	}
	return rollbackToRevision(ctx, ds, getDaemonSet(client, ds), daemonSetTemplate, patch, "daemonset", errDaemonSetRollbackRefused, previous, guarded, attempt)
}

func getDaemonSet(client kubernetes.Interface, ds *appsv1.DaemonSet) func(context.Context) (*appsv1.DaemonSet, error) {
	return func(ctx context.Context) (*appsv1.DaemonSet, error) {
		return client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	}
}

func daemonSetTemplate(ds *appsv1.DaemonSet) *corev1.PodTemplateSpec { return &ds.Spec.Template }
