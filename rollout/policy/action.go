package policy

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
)

// Action is what --on-breach asks for.
type Action string

const (
	ActionPause    Action = "pause"
	ActionRollback Action = "rollback"
	ActionNone     Action = "none"
	// ActionAuto rolls back a rollout that changed more than restartedAt, and
	// pauses a restart (undoing a restart only restarts again).
	ActionAuto Action = "auto"
)

// Actions lists the values --on-breach accepts.
func Actions() []Action { return []Action{ActionPause, ActionRollback, ActionNone, ActionAuto} }

// Resolve turns --on-breach into the action to take now. current is the
// template being rolled out, previous the rollback target's (nil when there is
// none). "" behaves as none.
func Resolve(onBreach Action, current, previous *corev1.PodTemplateSpec) Action {
	switch onBreach {
	case "":
		return ActionNone
	case ActionAuto:
		if previous != nil && !OnlyRestarted(current, previous) {
			return ActionRollback
		}
		return ActionPause
	}
	return onBreach
}

// OnlyRestarted tells whether two templates differ by nothing but the restartedAt annotation.
func OnlyRestarted(a, b *corev1.PodTemplateSpec) bool {
	strip := func(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
		c := t.DeepCopy()
		delete(c.Annotations, workload.RestartedAtAnnotation)
		delete(c.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		if len(c.Annotations) == 0 {
			c.Annotations = nil
		}
		return c
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}
