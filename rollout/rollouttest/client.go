package rollouttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var deploymentsGVR = appsv1.SchemeGroupVersion.WithResource("deployments")

// DeploymentActions are the client's verb actions on Deployments themselves (not their status).
func DeploymentActions(c *fake.Clientset, verb string) []k8stesting.Action {
	var out []k8stesting.Action
	for _, a := range c.Actions() {
		if a.GetResource() == deploymentsGVR && a.GetVerb() == verb && a.GetSubresource() == "" {
			out = append(out, a)
		}
	}
	return out
}

// StoredDeployment is web as the fake API server has it now.
func StoredDeployment(t *testing.T, c *fake.Clientset) *appsv1.Deployment {
	t.Helper()
	d, err := c.AppsV1().Deployments(NS).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// AssertSeconds checks a reported duration; want < 0 means it must be absent.
func AssertSeconds(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	switch {
	case want < 0 && got != nil:
		t.Errorf("%s = %v, want nil", what, *got)
	case want >= 0 && got == nil:
		t.Errorf("%s = nil, want %v", what, want)
	case want >= 0 && *got != want:
		t.Errorf("%s = %v, want %v", what, *got, want)
	}
}

// FmtInstant shows an instant relative to T0.
func FmtInstant(v time.Time) string {
	if v.IsZero() {
		return "never"
	}
	return fmt.Sprintf("t0%+.3fs", v.Sub(T0).Seconds())
}

// FmtPtr shows an optional figure.
func FmtPtr(v *float64) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprint(*v)
}
