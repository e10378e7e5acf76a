//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// TestRBAC runs the plugin as a ServiceAccount bound to nothing but the documented
// Role (deploy/rbac.yaml): a guarded restart completes; without the patch verb it
// fails with a clear message and changes nothing.
func TestRBAC(t *testing.T) {
	l := newLab(t)
	ns := l.namespace(t)
	ctx := context.Background()
	l.deploy(t, ns, app{name: "rbac", replicas: 2, grace: 30, preStop: true, args: []string{"--mode=contract", "--drain-delay=3s", "--shutdown-timeout=10s"}})

	role, user, kubeconfig := l.documentedRoleUser(t, ns)

	// The ServiceAccount can do nothing outside the Role: the test would not notice a
	// broader binding otherwise.
	if r := l.runWith(t, kubeconfig, "-n", "default", "preflight", "-l", "app=rbac"); r.code != 1 || !strings.Contains(r.stderr, "forbidden") {
		t.Fatalf("preflight in namespace default as %s: exit %d, want 1 and forbidden", user, r.code)
	}

	// Everything works with the documented Role: preflight reads the HPAs and
	// Ingresses too.
	pr := l.runWith(t, kubeconfig, "preflight", "-l", "app=rbac", "-o", "json")
	if pr.code != 0 {
		t.Fatalf("preflight -l: exit %d, want 0\n%s", pr.code, pr.stdout)
	}
	if unread := notRead(t, pr.stdout); len(unread) > 0 {
		t.Errorf("preflight with the documented Role could not read everything: %q", unread)
	}
	if r := l.runWith(t, kubeconfig, "watch", "deploy/rbac", "-o", "json", "--progress=plain", "--timeout=1m"); r.code != 0 || decodeReport(t, r).Outcome != "no-rollout" {
		t.Fatalf("watch with no rollout: exit %d, want 0 and no-rollout\n%s", r.code, r.stdout)
	}
	// client-go's informers use streaming lists (a watch) where the server offers them
	// and fall back to list and watch elsewhere: the Role covers both.
	if r := l.runWithEnv(t, kubeconfig, []string{"KUBE_FEATURE_WatchListClient=false"}, "watch", "deploy/rbac", "-o", "json", "--progress=plain", "--timeout=1m"); r.code != 0 || strings.Contains(r.stderr, "forbidden") {
		t.Fatalf("watch without streaming lists: exit %d, want 0 and nothing forbidden:\n%s", r.code, forbidden(r.stderr))
	}
	r := l.runWith(t, kubeconfig, "restart", "deploy/rbac", "-o", "json", "--progress=plain", "--timeout=3m")
	rep := decodeReport(t, r)
	if r.code != 0 || rep.Outcome != "succeeded" {
		t.Fatalf("restart with the documented Role: exit %d, outcome %q (%s), want 0 and succeeded", r.code, rep.Outcome, rep.Message)
	}
	if len(rep.Pods) != 2 {
		t.Errorf("report has %d pods, want the 2 old ones", len(rep.Pods))
	}
	if strings.Contains(r.stderr, "forbidden") {
		t.Errorf("forbidden requests during the guarded restart (deploy/rbac.yaml is missing a verb):\n%s", forbidden(r.stderr))
	}

	// Without patch: exit 1, the missing permission named, nothing changed.
	role, err := l.client.RbacV1().Roles(ns).Get(ctx, role.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	removed := false
	for i, rule := range role.Rules {
		if slices.Contains(rule.Resources, "deployments") {
			role.Rules[i].Verbs = slices.DeleteFunc(rule.Verbs, func(v string) bool { return v == "patch" })
			removed = true
		}
	}
	if !removed {
		t.Fatal("deploy/rbac.yaml has no deployments rule")
	}
	if _, err := l.client.RbacV1().Roles(ns).Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.waitAllowed(t, user, ns, "patch", false)
	before, err := l.client.AppsV1().Deployments(ns).Get(ctx, "rbac", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r = l.runWith(t, kubeconfig, "restart", "deploy/rbac", "-o", "json", "--progress=plain", "--timeout=1m")
	if r.code != 1 {
		t.Errorf("restart without patch: exit %d, want 1", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "error: ") || !strings.Contains(last, `cannot patch resource "deployments"`) || !strings.Contains(last, user) {
		t.Errorf("last stderr line %q: want one error line naming the user and the missing permission (cannot patch resource \"deployments\")", last)
	}
	after, err := l.client.AppsV1().Deployments(ns).Get(ctx, "rbac", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Generation != before.Generation || after.ResourceVersion != before.ResourceVersion {
		t.Errorf("deployment changed without patch: generation %d -> %d, resourceVersion %s -> %s",
			before.Generation, after.Generation, before.ResourceVersion, after.ResourceVersion)
	}

	// Without the HPA and Ingress rules preflight still runs, and says what it
	// could not read.
	if role, err = l.client.RbacV1().Roles(ns).Get(ctx, role.Name, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	role.Rules = slices.DeleteFunc(role.Rules, func(rule rbacv1.PolicyRule) bool {
		return slices.Contains(rule.Resources, "horizontalpodautoscalers") || slices.Contains(rule.Resources, "ingresses")
	})
	if _, err = l.client.RbacV1().Roles(ns).Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.waitAllowedOn(t, user, ns, "list", "networking.k8s.io", "ingresses", false)
	l.waitAllowedOn(t, user, ns, "list", "autoscaling", "horizontalpodautoscalers", false)
	pr = l.runWith(t, kubeconfig, "preflight", "deploy/rbac", "-o", "json")
	unread := strings.Join(notRead(t, pr.stdout), "\n")
	if pr.code != 0 || !strings.Contains(unread, "HorizontalPodAutoscalers not read") || !strings.Contains(unread, "Ingresses not read") {
		t.Errorf("preflight without the HPA and Ingress rules: exit %d, notes %q; want 0 and both named as not read\n%s", pr.code, unread, pr.stderr)
	}

	// Without watch on pods the guard cannot follow the drain: it says so at once,
	// before restarting anything, instead of retrying forever.
	if role, err = l.client.RbacV1().Roles(ns).Get(ctx, role.Name, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, rule := range role.Rules {
		switch {
		case slices.Contains(rule.Resources, "deployments"):
			role.Rules[i].Verbs = append(role.Rules[i].Verbs, "patch")
		case slices.Contains(rule.Resources, "pods"):
			role.Rules[i].Verbs = slices.DeleteFunc(rule.Verbs, func(v string) bool { return v == "watch" })
		}
	}
	if role, err = l.client.RbacV1().Roles(ns).Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.waitAllowed(t, user, ns, "patch", true)
	r = l.runWith(t, kubeconfig, "restart", "deploy/rbac", "-o", "json", "--progress=plain", "--timeout=1m")
	lines = strings.Split(strings.TrimSpace(r.stderr), "\n")
	last = lines[len(lines)-1]
	if r.code != 1 || !strings.HasPrefix(last, "error: ") || !strings.Contains(last, `resource "pods"`) || !strings.Contains(last, "forbidden") {
		t.Errorf("restart without watch on pods: exit %d, last stderr line %q; want exit 1 and one error naming pods", r.code, last)
	}
	again, err := l.client.AppsV1().Deployments(ns).Get(ctx, "rbac", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Generation != before.Generation {
		t.Errorf("deployment restarted although the guard could not watch pods: generation %d -> %d", before.Generation, again.Generation)
	}
}

// documentedRoleUser binds the Role of deploy/rbac.yaml in ns to a new
// ServiceAccount and returns the Role, the user and a kubeconfig for it.
func (l *lab) documentedRoleUser(t *testing.T, ns string) (*rbacv1.Role, string, string) {
	t.Helper()
	ctx := context.Background()
	role := loadRole(t, ns)
	if _, err := l.client.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const sa = "deployer"
	if _, err := l.client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}},
	}
	if _, err := l.client.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	user := "system:serviceaccount:" + ns + ":" + sa
	l.waitAllowed(t, user, ns, "patch", true)
	return role, user, l.serviceAccountKubeconfig(t, ns, sa)
}

// forbidden returns the stderr lines that report a forbidden request.
func forbidden(stderr string) string {
	var out []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, "forbidden") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// loadRole reads the Role from deploy/rbac.yaml, for namespace ns.
func loadRole(t *testing.T, ns string) *rbacv1.Role {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "rbac.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{}
	if err := yaml.UnmarshalStrict(b, role); err != nil {
		t.Fatalf("deploy/rbac.yaml: %v", err)
	}
	if role.Kind != "Role" || role.Name == "" || len(role.Rules) == 0 {
		t.Fatalf("deploy/rbac.yaml: want one namespaced Role with rules, got %s %q", role.Kind, role.Name)
	}
	role.Namespace = ns
	return role
}

// notRead returns the preflight JSON report's findings that say something could
// not be read.
func notRead(t *testing.T, stdout string) []string {
	t.Helper()
	var rep struct {
		Objects []struct {
			Checks []struct{ ID, Message string }
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("preflight output is not JSON: %v\n%s", err, stdout)
	}
	var out []string
	for _, o := range rep.Objects {
		for _, c := range o.Checks {
			if strings.Contains(c.Message, "not read") {
				out = append(out, c.ID+": "+c.Message)
			}
		}
	}
	return out
}

// waitAllowed waits until the authorizer has caught up with a Role change: patching
// Deployments in ns is allowed (or denied) for user.
func (l *lab) waitAllowed(t *testing.T, user, ns, verb string, allowed bool) {
	t.Helper()
	l.waitAllowedOn(t, user, ns, verb, "apps", "deployments", allowed)
}

// waitAllowedOn waits until verb on group/resource in ns is allowed (or denied) for user.
func (l *lab) waitAllowedOn(t *testing.T, user, ns, verb, group, resource string, allowed bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		sar, err := l.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               user,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: group, Resource: resource},
		}}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return sar.Status.Allowed == allowed, nil
	})
	if err != nil {
		t.Fatalf("%s %s %s in %s: allowed never became %v: %v", user, verb, resource, ns, allowed, err)
	}
}

// serviceAccountKubeconfig mints a token for the ServiceAccount (TokenRequest API) and
// writes a kubeconfig with the lab's server and CA and that token.
func (l *lab) serviceAccountKubeconfig(t *testing.T, ns, sa string) string {
	t.Helper()
	tr, err := l.client.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.LoadFromFile(l.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	current, ok := admin.Contexts[admin.CurrentContext]
	if !ok {
		t.Fatalf("%s: no current context", l.kubeconfig)
	}
	cluster := admin.Clusters[current.Cluster]
	if cluster == nil {
		t.Fatalf("%s: no cluster %q", l.kubeconfig, current.Cluster)
	}
	ca := cluster.CertificateAuthorityData
	if len(ca) == 0 && cluster.CertificateAuthority != "" {
		file := cluster.CertificateAuthority
		if !filepath.IsAbs(file) {
			file = filepath.Join(filepath.Dir(l.kubeconfig), file)
		}
		if ca, err = os.ReadFile(file); err != nil {
			t.Fatal(err)
		}
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["lab"] = &clientcmdapi.Cluster{Server: cluster.Server, CertificateAuthorityData: ca}
	cfg.AuthInfos[sa] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["lab"] = &clientcmdapi.Context{Cluster: "lab", AuthInfo: sa, Namespace: ns}
	cfg.CurrentContext = "lab"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
