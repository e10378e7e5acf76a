package verify

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

func TestRolloutStrategy(t *testing.T) {
	recreate := func(d *appsv1.Deployment) {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	noStrategy := func(d *appsv1.Deployment) { d.Spec.Strategy = appsv1.DeploymentStrategy{} }
	nilReplicas := func(d *appsv1.Deployment) { d.Spec.Replicas = nil }
	runCheckCases(t, CheckRolloutStrategy, []checkCase{
		{name: "surge 1, unavailable 0", dep: deployment(), want: StatusPass,
			contains: []string{"RollingUpdate with replicas 3, maxSurge 1, maxUnavailable 0 keeps at least 3 pods available"}},
		{name: "Recreate", dep: deployment(recreate), want: StatusFail, contains: []string{"Recreate"}, fixHas: "RollingUpdate"},
		{name: "Recreate with one replica", dep: deployment(recreate, withReplicas(1)), want: StatusFail, contains: []string{"Recreate"}},
		{name: "unset strategy is 25%/25%", dep: deployment(noStrategy), want: StatusPass,
			contains: []string{"replicas 3, maxSurge 1, maxUnavailable 0"}},
		{name: "rollingUpdate without numbers is 25%/25%", dep: deployment(withReplicas(10), withRolling(nil, nil)), want: StatusPass,
			contains: []string{"replicas 10, maxSurge 3, maxUnavailable 2 keeps at least 8 pods available"}},
		{name: "one replica, surge 0: drops to zero", dep: deployment(withReplicas(1), withRolling(intOrStr("0"), intOrStr("0"))), want: StatusFail,
			contains: []string{"replicas 1, maxSurge 0, maxUnavailable 1", "drop to 0"}, fixHas: "maxUnavailable: 0"},
		{name: "one replica, surge 0, unavailable 1", dep: deployment(withReplicas(1), withRolling(intOrStr("0"), intOrStr("1"))), want: StatusFail},
		{name: "one replica, surge 0%, unavailable 25% rounds to 0 then 1", dep: deployment(withReplicas(1), withRolling(intOrStr("0%"), intOrStr("25%"))),
			want: StatusFail, contains: []string{"maxSurge 0, maxUnavailable 1"}},
		{name: "one replica, surge 1", dep: deployment(withReplicas(1)), want: StatusWarn,
			contains: []string{"replicas 1, maxSurge 1, maxUnavailable 0", "single replica"}, fixHas: "at least 2 replicas"},
		{name: "one replica, default percentages", dep: deployment(withReplicas(1), noStrategy), want: StatusWarn,
			contains: []string{"maxSurge 1, maxUnavailable 0"}},
		{name: "unset replicas is 1", dep: deployment(nilReplicas), want: StatusWarn, contains: []string{"replicas 1,"}},
		{name: "surge percentage rounds up, unavailable rounds down", dep: deployment(withRolling(intOrStr("10%"), intOrStr("50%"))), want: StatusPass,
			contains: []string{"replicas 3, maxSurge 1, maxUnavailable 1 keeps at least 2 pods available"}},
		{name: "both percentages round to 0", dep: deployment(withReplicas(3), withRolling(intOrStr("0%"), intOrStr("20%"))), want: StatusPass,
			contains: []string{"maxSurge 0, maxUnavailable 1 keeps at least 2"}},
		{name: "100% unavailable", dep: deployment(withReplicas(4), withRolling(intOrStr("25%"), intOrStr("100%"))), want: StatusFail,
			contains: []string{"maxUnavailable 4", "drop to 0"}},
		{name: "unavailable equal to replicas", dep: deployment(withReplicas(2), withRolling(intOrStr("1"), intOrStr("2"))), want: StatusFail},
		{name: "unavailable one less than replicas", dep: deployment(withReplicas(2), withRolling(intOrStr("1"), intOrStr("1"))), want: StatusPass,
			contains: []string{"keeps at least 1 pod available"}},
		{name: "zero replicas", dep: deployment(withReplicas(0)), want: StatusSkip, contains: []string{"replicas 0"}},
		{name: "invalid maxSurge", dep: deployment(withRolling(intOrStr("lots"), intOrStr("0"))), want: StatusFail,
			contains: []string{"invalid rollingUpdate: maxSurge"}},
		{name: "invalid maxUnavailable", dep: deployment(withRolling(intOrStr("1"), intOrStr("x%"))), want: StatusFail,
			contains: []string{"invalid rollingUpdate: maxUnavailable"}},
	})
}

func TestResolveFenceposts(t *testing.T) {
	tests := []struct {
		surge, unavailable string // "" = unset
		replicas           int32
		wantS, wantU       int32
	}{
		{"", "", 1, 1, 0},
		{"", "", 4, 1, 1},
		{"", "", 10, 3, 2},
		{"0", "0", 5, 0, 1},
		{"0%", "0%", 5, 0, 1},
		{"1%", "99%", 10, 1, 9},
		{"34%", "34%", 3, 2, 1},
		{"2", "3", 1, 2, 3},
	}
	for _, tc := range tests {
		ru := &appsv1.RollingUpdateDeployment{}
		if tc.surge != "" {
			ru.MaxSurge = intOrStr(tc.surge)
		}
		if tc.unavailable != "" {
			ru.MaxUnavailable = intOrStr(tc.unavailable)
		}
		s, u, err := resolveFenceposts(ru, tc.replicas)
		if err != nil || s != tc.wantS || u != tc.wantU {
			t.Errorf("resolveFenceposts(surge %q, unavailable %q, replicas %d) = %d, %d, %v; want %d, %d",
				tc.surge, tc.unavailable, tc.replicas, s, u, err, tc.wantS, tc.wantU)
		}
	}
	if s, u, err := resolveFenceposts(nil, 4); err != nil || s != 1 || u != 1 {
		t.Errorf("resolveFenceposts(nil, 4) = %d, %d, %v; want 1, 1", s, u, err)
	}
}
