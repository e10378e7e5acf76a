package cli

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

var deploymentsGR = schema.GroupResource{Group: "apps", Resource: "deployments"}

// TargetOptions resolves the Deployments a command works on, as kubectl does:
// `deploy/NAME`, `deployment NAME`, `-l SELECTOR` or `-f FILE|DIR|-`.
type TargetOptions struct {
	resource.FilenameOptions
	Selector string

	configFlags *genericclioptions.ConfigFlags
	namespace   string
}

// Targets is what the resolution found: the Deployments, and with manifests the
// Services, PodDisruptionBudgets and HorizontalPodAutoscalers that came with them
// and the objects skipped.
type Targets struct {
	verify.Manifests
	// FromFiles is true when the Deployments are manifests, not live objects.
	FromFiles bool
}

func (o *TargetOptions) AddFlags(cmd *cobra.Command, withFiles bool) {
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Selector (label query) to filter Deployments on, e.g. -l app=web")
	if withFiles {
		cmd.Flags().StringSliceVarP(&o.Filenames, "filename", "f", nil, "Manifests (file, directory or - for stdin) holding the Deployments to check")
		cmd.Flags().BoolVarP(&o.Recursive, "recursive", "R", true, "Process the directory used in -f recursively")
	}
}

func (o *TargetOptions) Complete(configFlags *genericclioptions.ConfigFlags) error {
	o.configFlags = configFlags
	ns, _, err := configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return fmt.Errorf("reading namespace from kubeconfig: %w", err)
	}
	o.namespace = ns
	return nil
}

// CompleteLocal is Complete for --local, which reads no kubeconfig: a broken
// KUBECONFIG or an unknown --context must not stop a check of manifests in CI.
// The namespace of manifests without one is -n, or "default".
func (o *TargetOptions) CompleteLocal(configFlags *genericclioptions.ConfigFlags) {
	o.configFlags = configFlags
	o.namespace = metav1.NamespaceDefault
	if configFlags.Namespace != nil && *configFlags.Namespace != "" {
		o.namespace = *configFlags.Namespace
	}
}

func (o *TargetOptions) Validate(args []string) error {
	hasFiles := len(o.Filenames) > 0
	switch {
	case hasFiles && (len(args) > 0 || o.Selector != ""):
		return errors.New("use either -f FILE or deploy/NAME / -l SELECTOR, not both")
	case !hasFiles && len(args) == 0 && o.Selector == "":
		return errors.New("you must specify a Deployment: deploy/NAME, deployment NAME, -l SELECTOR or -f FILE")
	}
	return nil
}

// Resolve reads the targets. Manifests are always read without contacting the
// cluster (kinds unknown to the cluster are skipped, not refused).
func (o *TargetOptions) Resolve(args []string) (*Targets, error) {
	if len(o.Filenames) > 0 {
		return o.resolveFiles()
	}
	return o.resolveLive(args)
}

func (o *TargetOptions) resolveLive(args []string) (*Targets, error) {
	if len(args) == 0 {
		args = []string{"deployments"}
	}
	r := resource.NewBuilder(o.configFlags).
		WithScheme(scheme.Scheme, appsv1.SchemeGroupVersion).
		NamespaceParam(o.namespace).DefaultNamespace().
		LabelSelectorParam(o.Selector).
		ResourceTypeOrNameArgs(true, args...).
		SingleResourceType().
		Flatten().
		Do()
	if err := r.Err(); err != nil {
		return nil, err
	}
	// Refuse other kinds before fetching anything.
	if mapping, err := r.ResourceMapping(); err == nil && mapping.Resource.GroupResource() != deploymentsGR {
		return nil, fmt.Errorf("%s is not supported: only Deployments (deploy/NAME, deployment NAME, -l SELECTOR, -f FILE)", mapping.Resource.GroupResource().String())
	}
	infos, err := r.Infos()
	if err != nil {
		return nil, err
	}
	t := &Targets{}
	for _, info := range infos {
		d, ok := info.Object.(*appsv1.Deployment)
		if !ok {
			return nil, fmt.Errorf("%s: unexpected object type %T", info.ObjectName(), info.Object)
		}
		t.Deployments = append(t.Deployments, d)
	}
	if len(t.Deployments) == 0 {
		msg := "no Deployments found in namespace " + o.namespace
		if o.Selector != "" {
			msg += " matching " + o.Selector
		}
		return nil, errors.New(msg)
	}
	return t, nil
}

// resolveFiles reads manifests with a local builder: it never asks the
// kubeconfig or the cluster for anything.
func (o *TargetOptions) resolveFiles() (*Targets, error) {
	r := resource.NewLocalBuilder().
		Unstructured().
		FilenameParam(false, &o.FilenameOptions).
		Flatten().
		Do()
	infos, err := r.Infos()
	if err != nil {
		return nil, withFileLine(err)
	}
	t := &Targets{FromFiles: true}
	for _, info := range infos {
		u, ok := info.Object.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("%s: unexpected object type %T", info.Source, info.Object)
		}
		if u.GetNamespace() == "" {
			u.SetNamespace(o.namespace)
		}
		if err := t.Add(u, info.Source); err != nil {
			return nil, fmt.Errorf("%s: %w", info.Source, err)
		}
	}
	if len(t.Deployments) == 0 {
		msg := fmt.Sprintf("no Deployment (apps/v1) found in %v", o.Filenames)
		for _, s := range t.Skipped {
			msg += fmt.Sprintf("; skipped %s %s (%s): %s", s.Kind, s.Name, s.APIVersion, s.Reason)
		}
		return nil, errors.New(msg)
	}
	return t, nil
}

var yamlLineError = regexp.MustCompile(`^error parsing (.+?): error converting YAML to JSON: yaml: line (\d+): (.*)$`)

// withFileLine rewrites a YAML parse error of a multi-document file so that its
// line counts from the start of the file, not of the failing document.
func withFileLine(err error) error {
	m := yamlLineError.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	data, readErr := os.ReadFile(m[1])
	if readErr != nil {
		return err
	}
	offset, start := 0, 0
	lines := strings.SplitAfter(string(data), "\n")
	for i := 0; i <= len(lines); i++ {
		if i < len(lines) && strings.TrimRight(lines[i], " \r\n") != "---" {
			continue // not a document separator
		}
		doc := strings.Join(lines[start:i], "")
		if _, perr := yaml.YAMLToJSON([]byte(doc)); perr != nil {
			offset = start
			break
		}
		start = i + 1
	}
	line, _ := strconv.Atoi(m[2])
	return fmt.Errorf("error parsing %s: line %d: %s", m[1], line+offset, m[3])
}
