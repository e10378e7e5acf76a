package cli

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
)

// Shell completion. cobra's hidden `__complete` command serves it; the repository's
// kubectl_complete-safe_rollout script hands kubectl's plugin completion (kubectl ≥ 1.26)
// to it. Workload names come from the cluster in the namespace the flags select
// (-n, --kubeconfig, --context), as kubectl completes them.

// completionTimeout bounds every cluster call made while completing: a TAB must not hang.
const completionTimeout = 5 * time.Second

// clientFactory builds a client from the connection flags; timeout 0 keeps the
// flags' own. Completion tests pass a fake.
type clientFactory func(f *genericclioptions.ConfigFlags, timeout time.Duration) (kubernetes.Interface, error)

const rootExample = `  # Check a Deployment's termination contract
  kubectl safe-rollout preflight deploy/web

  # Restart it as kubectl rollout restart does, and guard the rollout
  kubectl safe-rollout restart deploy/web

  # Guard a rollout started by kubectl apply, helm upgrade or kubectl set image
  kubectl safe-rollout watch deploy/web`

// registerCompletions wires completion for workload names and flag values.
func registerCompletions(root *cobra.Command, configFlags *genericclioptions.ConfigFlags, clients clientFactory) {
	c := completer{flags: configFlags, clients: clients}
	if root.Example == "" {
		root.Example = rootExample
	}
	for _, cmd := range root.Commands() {
		switch cmd.Name() {
		case "preflight":
			cmd.ValidArgsFunction = c.workloadArgs(true)
		case "restart", "watch", "rehearse":
			cmd.ValidArgsFunction = c.workloadArgs(false)
		case "version":
			cmd.ValidArgsFunction = cobra.NoFileCompletions
		}
		fixed(cmd, "output", "json", "yaml")
		fixed(cmd, "progress", "auto", "plain", "none")
		fixed(cmd, "dry-run", "none", "client", "server")
		fixed(cmd, "on-breach", onBreachActions()...)
	}
	// Connection flags are persistent flags of the root: registered once, they
	// complete under every subcommand.
	if root.PersistentFlags().Lookup("namespace") != nil {
		_ = root.RegisterFlagCompletionFunc("namespace", c.namespaceValues())
	}
	for _, name := range []string{"context", "cluster", "user"} {
		if root.PersistentFlags().Lookup(name) != nil {
			_ = root.RegisterFlagCompletionFunc(name, kubeconfigValues(configFlags, name))
		}
	}
}

// completer lists cluster objects for completion.
type completer struct {
	flags   *genericclioptions.ConfigFlags
	clients clientFactory
}

// fixed completes a flag with a fixed set of values, when cmd has the flag.
func fixed(cmd *cobra.Command, flag string, values ...string) {
	if cmd.Flags().Lookup(flag) == nil {
		return
	}
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// workloadArgs completes the target arguments the way kubectl does:
// `deployment/NAME`, `statefulset/NAME` and `daemonset/NAME` for a first word
// without a type (or a prefix of one), `TYPE/NAME` once a type and a slash are
// typed, and plain names after `deployment ` (or another type). many is false
// for commands that take one workload.
func (c completer) workloadArgs(many bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		const directive = cobra.ShellCompDirectiveNoFileComp
		if f := cmd.Flags().Lookup("filename"); f != nil && f.Changed {
			return nil, directive // -f and names exclude each other
		}
		if f := cmd.Flags().Lookup("selector"); f != nil && f.Changed {
			return nil, directive
		}
		switch {
		case len(args) == 0:
		case kindOfType(args[0]) != nil:
			// `deployment NAME`: plain names.
			if len(args) > 1 && !many {
				return nil, directive
			}
			names := c.list(cmd.Context(), *kindOfType(args[0]))
			return matching(names, "", toComplete, args[1:]), directive
		case !many || !strings.Contains(args[0], "/"):
			return nil, directive
		}
		// `TYPE/NAME` (several for preflight: skip those already typed).
		if typ, _, ok := strings.Cut(toComplete, "/"); ok {
			k := kindOfType(typ)
			if k == nil {
				return nil, directive
			}
			return matching(c.list(cmd.Context(), *k), typ+"/", toComplete, args), directive
		}
		var out []string
		for _, k := range completedKinds() {
			if prefix := k.spellings[0] + "/"; strings.HasPrefix(prefix, toComplete) || strings.HasPrefix(k.short+"/", toComplete) {
				out = append(out, matching(c.list(cmd.Context(), k), prefix, prefix, args)...)
			}
		}
		return out, directive
	}
}

// completedKind is a workload kind as completion offers and reads it.
type completedKind struct {
	// spellings are the type names kubectl accepts, the canonical first.
	spellings []string
	short     string
	list      func(ctx context.Context, client kubernetes.Interface, ns string) ([]string, error)
}

// completedKinds are offered in this order: Deployments, StatefulSets, DaemonSets.
func completedKinds() []completedKind {
	return []completedKind{
		{spellings: []string{"deployment", "deployments", "deploy", "deployment.apps", "deployments.apps"}, short: "deploy",
			list: func(ctx context.Context, client kubernetes.Interface, ns string) ([]string, error) {
				l, err := client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					return nil, err
				}
				return objectNames(l.Items, func(i int) string { return l.Items[i].Name }), nil
			}},
		{spellings: []string{"statefulset", "statefulsets", "sts", "statefulset.apps", "statefulsets.apps"}, short: "sts",
			list: func(ctx context.Context, client kubernetes.Interface, ns string) ([]string, error) {
				l, err := client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					return nil, err
				}
				return objectNames(l.Items, func(i int) string { return l.Items[i].Name }), nil
			}},
		{spellings: []string{"daemonset", "daemonsets", "ds", "daemonset.apps", "daemonsets.apps"}, short: "ds",
			list: func(ctx context.Context, client kubernetes.Interface, ns string) ([]string, error) {
				l, err := client.AppsV1().DaemonSets(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					return nil, err
				}
				return objectNames(l.Items, func(i int) string { return l.Items[i].Name }), nil
			}},
	}
}

func objectNames[T any](items []T, name func(int) string) []string {
	out := make([]string, 0, len(items))
	for i := range items {
		out = append(out, name(i))
	}
	sort.Strings(out)
	return out
}

// kindOfType is the kind a type name spells, nil for none of ours.
func kindOfType(s string) *completedKind {
	for _, k := range completedKinds() {
		if slices.Contains(k.spellings, strings.ToLower(s)) {
			return &k
		}
	}
	return nil
}

// matching returns prefix+name for the names that complete toComplete and are not in exclude.
func matching(names []string, prefix, toComplete string, exclude []string) []string {
	var out []string
	for _, n := range names {
		c := prefix + n
		if strings.HasPrefix(c, toComplete) && !slices.Contains(exclude, c) {
			out = append(out, c)
		}
	}
	return out
}

// list lists the names of a kind in the namespace the flags select; nil on
// any error (completion offers nothing rather than an error).
func (c completer) list(ctx context.Context, k completedKind) []string {
	ns, _, err := c.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil
	}
	client, err := c.clients(c.flags, completionTimeout)
	if err != nil {
		return nil
	}
	ctx, cancel := completionContext(ctx)
	defer cancel()
	names, err := k.list(ctx, client, ns)
	if err != nil {
		cobra.CompDebugln("listing "+k.spellings[1]+": "+err.Error(), false)
		return nil
	}
	return names
}

func (c completer) namespaceValues() cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		client, err := c.clients(c.flags, completionTimeout)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := completionContext(cmd.Context())
		defer cancel()
		list, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			cobra.CompDebugln("listing namespaces: "+err.Error(), false)
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, n := range list.Items {
			if strings.HasPrefix(n.Name, toComplete) {
				out = append(out, n.Name)
			}
		}
		sort.Strings(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// kubeconfigValues completes --context, --cluster and --user from the kubeconfig.
func kubeconfigValues(configFlags *genericclioptions.ConfigFlags, flag string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		raw, err := configFlags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		switch flag {
		case "context":
			for n := range raw.Contexts {
				names = append(names, n)
			}
		case "cluster":
			for n := range raw.Clusters {
				names = append(names, n)
			}
		case "user":
			for n := range raw.AuthInfos {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		return matching(names, "", toComplete, nil), cobra.ShellCompDirectiveNoFileComp
	}
}

func completionContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, completionTimeout)
}
