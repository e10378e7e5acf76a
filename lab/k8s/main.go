// Command k8s is the lab's multi-call Kubernetes v1.34.4 binary.
//
//	k8s <component> [flags...]      or a symlink named after the component (argv[0])
//
// Components: kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
// kube-proxy, kubectl, and (built with -tags etcd) etcd.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	_ "time/tzdata"

	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcm "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

// extra holds optional components added by build-tagged files (etcd.go: -tags etcd).
// Each receives argv with the component name as argv[0].
var extra = map[string]func(args []string){}

var cmds = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserver.NewAPIServerCommand,
	"kube-controller-manager": kcm.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
	"kubelet":                 func() *cobra.Command { return kubelet.NewKubeletCommand(context.Background()) },
	"kube-proxy":              proxy.NewProxyCommand,
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if !known(name) {
		if len(args) == 0 || !known(args[0]) {
			fmt.Fprintf(os.Stderr, "usage: k8s %s [flags]\n", strings.Join(names(), "|"))
			os.Exit(2)
		}
		name, args = args[0], args[1:]
	}
	argv := append([]string{name}, args...)
	switch {
	case extra[name] != nil:
		extra[name](argv)
	case name == "kubectl":
		// kubectl reads os.Args itself (plugin lookup: "kubectl safe-rollout" -> kubectl-safe_rollout on PATH).
		os.Args = argv
		c := kubectlcmd.NewDefaultKubectlCommand()
		if err := cli.RunNoErrOutput(c); err != nil {
			kubectlutil.CheckErr(err)
		}
	default:
		c := cmds[name]()
		c.SetArgs(args)
		os.Exit(cli.Run(c))
	}
}

func known(n string) bool { return cmds[n] != nil || extra[n] != nil || n == "kubectl" }

func names() []string {
	ns := []string{"kubectl"}
	for n := range cmds {
		ns = append(ns, n)
	}
	for n := range extra {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}
