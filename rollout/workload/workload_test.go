package workload

import (
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestStatus(t *testing.T) {
	deployment := func(generation, observed int64, replicas *int32, s appsv1.DeploymentStatus) *appsv1.Deployment {
		s.ObservedGeneration = observed
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: generation},
			Spec:       appsv1.DeploymentSpec{Replicas: replicas},
			Status:     s,
		}
	}
	complete := appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3, ReadyReplicas: 3}
	deadline := appsv1.DeploymentStatus{
		Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3,
		Conditions: []appsv1.DeploymentCondition{{
			Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-b" has timed out progressing.`,
		}},
	}

	tests := []struct {
		name       string
		d          *appsv1.Deployment
		target     int64
		wantDone   bool
		wantMsg    string // substring
		wantErrMsg string // non-empty: a *ProgressDeadlineError containing it
	}{
		{"generation not observed", deployment(2, 1, ptr.To[int32](3), complete), 2, false, "waiting for the deployment controller", ""},
		{"target generation not observed", deployment(2, 2, ptr.To[int32](3), complete), 3, false, "waiting for the deployment controller", ""},
		{"updated < replicas", deployment(2, 2, ptr.To[int32](3), appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3}), 2, false, "1 of 3 new pods updated", ""},
		{"old replicas pending termination", deployment(2, 2, ptr.To[int32](3), appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3, AvailableReplicas: 3}), 2, false, "1 old pods pending termination", ""},
		{"available < updated", deployment(2, 2, ptr.To[int32](3), appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2}), 2, false, "2 of 3 new pods available", ""},
		{"done", deployment(2, 2, ptr.To[int32](3), complete), 2, true, "3 new pods available", ""},
		{"done, controller ahead of the target", deployment(3, 3, ptr.To[int32](3), complete), 2, true, "3 new pods available", ""},
		{"nil replicas means 1", deployment(2, 2, nil, appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}), 2, true, "1 new pods available", ""},
		{"nil replicas, none updated", deployment(2, 2, nil, appsv1.DeploymentStatus{Replicas: 1}), 2, false, "0 of 1 new pods updated", ""},
		{"progress deadline exceeded", deployment(2, 2, ptr.To[int32](3), deadline), 2, false, "", `ReplicaSet "web-b" has timed out progressing.`},
		{"progress deadline of an unobserved generation is not reported yet", deployment(3, 2, ptr.To[int32](3), deadline), 3, false, "waiting for the deployment controller", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, done, err := Status(tc.d, tc.target)
			if tc.wantErrMsg != "" {
				var pd *ProgressDeadlineError
				if !errors.As(err, &pd) {
					t.Fatalf("Status() err = %v, want *ProgressDeadlineError", err)
				}
				if pd.Message != tc.wantErrMsg || !strings.Contains(err.Error(), "progress deadline") {
					t.Errorf("Status() err = %q (message %q), want message %q", err, pd.Message, tc.wantErrMsg)
				}
				if done {
					t.Error("Status() done with a progress deadline error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Status() err = %v", err)
			}
			if done != tc.wantDone || !strings.Contains(msg, tc.wantMsg) {
				t.Errorf("Status() = (%q, %v), want (~%q, %v)", msg, done, tc.wantMsg, tc.wantDone)
			}
		})
	}
}

func TestDesiredReplicas(t *testing.T) {
	for _, tc := range []struct {
		replicas *int32
		want     int32
	}{{nil, 1}, {ptr.To[int32](0), 0}, {ptr.To[int32](5), 5}} {
		d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: tc.replicas}}
		if got := DesiredReplicas(d); got != tc.want {
			t.Errorf("DesiredReplicas(%v) = %d, want %d", tc.replicas, got, tc.want)
		}
	}
}
