package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

var (
	deploymentsGR  = schema.GroupResource{Group: "apps", Resource: "deployments"}
	statefulSetsGR = schema.GroupResource{Group: "apps", Resource: "statefulsets"}
	daemonSetsGR   = schema.GroupResource{Group: "apps", Resource: "daemonsets"}
)

// workloadResources are the resources preflight checks, in the order it
// reports them; -l alone lists them all.
var workloadResources = []schema.GroupResource{deploymentsGR, statefulSetsGR, daemonSetsGR}

// TargetOptions resolves the workloads a command works on, as kubectl does:
// `deploy/NAME`, `deployment NAME`, `-l SELECTOR` or `-f FILE|DIR|-`.
// Every command takes Deployments, StatefulSets and DaemonSets.
type TargetOptions struct {
	// withFiles is true for the commands that read manifests (-f).
	withFiles bool
	resource.FilenameOptions
	Selector string
	// All selects every Deployment, StatefulSet and DaemonSet of the namespace.
	All bool

	configFlags *genericclioptions.ConfigFlags
	namespace   string
	// enforceNamespace is true when -n was given: manifests of another
	// namespace are refused, as kubectl refuses them.
	enforceNamespace bool
}

// Targets are the live workloads a command works on.
type Targets struct {
	// Workloads are every target, in the order resolved.
	Workloads []*verify.Workload
}

// ManifestTargets are the workloads of manifests (-f), with the Services,
// PodDisruptionBudgets, HorizontalPodAutoscalers and Ingresses that came with
// them and the objects skipped. The workloads are read once and spooled, not
// kept: CheckEach decodes them a few at a time. Close removes the spools.
type ManifestTargets struct {
	verify.ManifestIndex
	workloads *spool
	count     int
	// kinds counts the workloads of each kind.
	kinds map[string]int
	// surroundings holds the JSON of the Services, PDBs, HPAs and Ingresses.
	surroundings *spool
}

func (o *TargetOptions) AddFlags(cmd *cobra.Command, withFiles bool) {
	const what = "Deployments, StatefulSets and DaemonSets"
	o.withFiles = withFiles
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Selector (label query) to filter "+what+" on, e.g. -l app=web")
	cmd.Flags().BoolVar(&o.All, "all", false, "Select every Deployment, StatefulSet and DaemonSet in the namespace")
	if withFiles {
		cmd.Flags().StringSliceVarP(&o.Filenames, "filename", "f", nil, "Manifests (file, directory or - for stdin) holding the "+what)
		// false, as kubectl's -R.
		cmd.Flags().BoolVarP(&o.Recursive, "recursive", "R", false, "Process the directory used in -f recursively")
	}
}

func (o *TargetOptions) Complete(configFlags *genericclioptions.ConfigFlags) error {
	o.configFlags = configFlags
	ns, explicit, err := configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return fmt.Errorf("reading namespace from kubeconfig: %w", err)
	}
	o.namespace, o.enforceNamespace = ns, explicit
	return nil
}

// CompleteLocal is Complete for --local, which reads no kubeconfig: a broken
// KUBECONFIG or an unknown --context must not stop a check of manifests in CI.
// The namespace of manifests without one is -n, or "default".
func (o *TargetOptions) CompleteLocal(configFlags *genericclioptions.ConfigFlags) {
	o.configFlags = configFlags
	o.namespace = metav1.NamespaceDefault
	if configFlags.Namespace != nil && *configFlags.Namespace != "" {
		o.namespace, o.enforceNamespace = *configFlags.Namespace, true
	}
}

func (o *TargetOptions) Validate(args []string) error {
	hasFiles := len(o.Filenames) > 0
	switch {
	case hasFiles && len(args) > 0:
		return errors.New("use either -f FILE or deploy/NAME, not both")
	case o.All && (hasFiles || len(args) > 0 || o.Selector != ""):
		return errors.New("--all selects every workload of the namespace: give no TYPE/NAME, -l or -f with it")
	case o.All:
		return nil
	case o.Selector != "":
		// -l with -f filters the manifests' workloads, as kubectl filters them.
		if _, err := labels.Parse(o.Selector); err != nil {
			return fmt.Errorf("invalid -l %q: %w", o.Selector, err)
		}
	case !hasFiles && len(args) == 0 && o.Selector == "" && o.withFiles:
		return errors.New("you must specify a Deployment, StatefulSet or DaemonSet: TYPE/NAME (deploy/web, sts/db, ds/agent), TYPE NAME, -l SELECTOR or -f FILE")
	case !hasFiles && len(args) == 0 && o.Selector == "":
		return errors.New("you must specify a Deployment, StatefulSet or DaemonSet: TYPE/NAME (deploy/web, sts/db, ds/agent), TYPE NAME or -l SELECTOR")
	}
	return nil
}

// targetQuery is what one resource builder resolves: one resource type, and
// the names asked for (none for a selector or every object of the type).
type targetQuery struct {
	args []string
	// list is true when the query lists objects (-l, or a type alone). They
	// come in the API server's order: by name (its storage's key order).
	list bool
}

// queries cuts the arguments into queries of one resource type each, in the
// order they are reported: TYPE/NAME arguments one by one, as given; TYPE NAME
// (TYPE may be a list: deploy,sts) one query per type; and with no argument,
// every resource the command takes.
func (o *TargetOptions) queries(args []string) []targetQuery {
	if len(args) == 0 {
		var out []targetQuery
		for _, gr := range workloadResources {
			out = append(out, targetQuery{args: []string{gr.String()}, list: true})
		}
		return out
	}
	if !slices.ContainsFunc(args, func(a string) bool { return !strings.Contains(a, "/") }) {
		out := make([]targetQuery, 0, len(args))
		for _, a := range args {
			out = append(out, targetQuery{args: []string{a}})
		}
		return out
	}
	if strings.Contains(args[0], "/") || !strings.Contains(args[0], ",") {
		// One type, or a mix kubectl refuses: the builder says so.
		return []targetQuery{{args: args, list: len(args) == 1}}
	}
	var out []targetQuery
	for _, typ := range strings.Split(args[0], ",") {
		out = append(out, targetQuery{args: append([]string{typ}, args[1:]...), list: len(args) == 1})
	}
	return out
}

// Resolve reads the live targets: TYPE/NAME, TYPE NAME or -l SELECTOR. Every
// type is mapped, and refused unless it is a workload kind, before any object
// is read. Manifests (-f) are read by ReadManifests.
func (o *TargetOptions) Resolve(args []string) (*Targets, error) {
	selector := o.Selector
	if len(o.Filenames) > 0 {
		named, err := o.namedInFiles()
		if err != nil {
			return nil, err
		}
		args, selector = named, "" // -l filtered the files' objects
	}
	queries := o.queries(args)
	results := make([]*resource.Result, len(queries))
	kinds := make([]string, len(queries))
	for i, q := range queries {
		r := resource.NewBuilder(o.configFlags).
			WithScheme(scheme.Scheme, appsv1.SchemeGroupVersion).
			NamespaceParam(o.namespace).DefaultNamespace().
			LabelSelectorParam(selector).
			ResourceTypeOrNameArgs(true, q.args...).
			SingleResourceType().
			Flatten().
			Do()
		if err := r.Err(); err != nil {
			return nil, err
		}
		// Refuse other kinds before fetching anything.
		mapping, err := r.ResourceMapping()
		if err != nil {
			return nil, err
		}
		if gr := mapping.Resource.GroupResource(); !slices.Contains(workloadResources, gr) {
			return nil, fmt.Errorf("%s is not supported: only Deployments, StatefulSets and DaemonSets (deploy/NAME, sts/NAME, ds/NAME, -l SELECTOR, -f FILE)", gr.String())
		}
		results[i], kinds[i] = r, mapping.GroupVersionKind.Kind
	}
	t := &Targets{}
	for _, r := range results {
		infos, err := r.Infos()
		if err != nil {
			return nil, err
		}
		var found []*verify.Workload
		for _, info := range infos {
			w, err := verify.NewWorkload(info.Object)
			if err != nil {
				return nil, fmt.Errorf("%s: unexpected object type %T", info.ObjectName(), info.Object)
			}
			found = append(found, w)
		}
		t.Workloads = append(t.Workloads, found...)
	}
	if len(t.Workloads) == 0 {
		msg := "no " + pluralKinds(kinds) + " found in namespace " + o.namespace
		if o.Selector != "" {
			msg += " matching " + o.Selector
		}
		return nil, errors.New(msg)
	}
	return t, nil
}

// namedInFiles lists the workloads the manifests of -f name, as TYPE/NAME in
// the files' order, for Resolve to read live, as `kubectl rollout restart -f`
// does. The manifests' other kinds (Services, ConfigMaps) are passed over: a
// release's files hold them too.
func (o *TargetOptions) namedInFiles() ([]string, error) {
	infos, err := resource.NewLocalBuilder().Unstructured().FilenameParam(false, &o.FilenameOptions).Flatten().Do().Infos()
	if err != nil {
		return nil, withFileLine(err)
	}
	selector := labels.Everything()
	if o.Selector != "" {
		if selector, err = labels.Parse(o.Selector); err != nil {
			return nil, fmt.Errorf("invalid -l %q: %w", o.Selector, err)
		}
	}
	var named []string
	for _, info := range infos {
		gvk := info.Object.GetObjectKind().GroupVersionKind()
		if !isWorkloadObject(gvk.Group, gvk.Kind) {
			continue
		}
		if u, ok := info.Object.(*unstructured.Unstructured); ok && !selector.Matches(labels.Set(u.GetLabels())) {
			continue
		}
		if ns := info.Namespace; ns != "" && ns != o.namespace && o.enforceNamespace {
			return nil, namespaceMismatch(ns, o.namespace)
		}
		if ns := info.Namespace; ns != "" && ns != o.namespace {
			return nil, fmt.Errorf("%s/%s is in namespace %s, not %s: run once per namespace (-n %s)", strings.ToLower(gvk.Kind), info.Name, ns, o.namespace, ns)
		}
		named = append(named, strings.ToLower(gvk.Kind)+"/"+info.Name)
	}
	if len(named) == 0 && o.Selector != "" {
		return nil, fmt.Errorf("no Deployment, StatefulSet or DaemonSet matching %s in %s", o.Selector, strings.Join(o.Filenames, ", "))
	}
	if len(named) == 0 {
		return nil, fmt.Errorf("no Deployment, StatefulSet or DaemonSet in %s", strings.Join(o.Filenames, ", "))
	}
	return named, nil
}

// isWorkloadObject tells whether group and kind name an apps/v1 workload.
func isWorkloadObject(group, kind string) bool {
	return group == appsv1.GroupName && slices.Contains(verify.WorkloadKinds(), kind)
}

// namespaceMismatch is kubectl's refusal of an object of another namespace
// than -n's (resource.RequireNamespace), word for word.
func namespaceMismatch(objectNS, flagNS string) error {
	return fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", objectNS, flagNS, objectNS)
}

// pluralKinds names kinds for a message: "Deployments, StatefulSets or DaemonSets".
func pluralKinds(kinds []string) string {
	var names []string
	for _, k := range kinds {
		if p := k + "s"; !slices.Contains(names, p) {
			names = append(names, p)
		}
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ReadManifests reads the manifests of -f with local builders: they never ask
// the kubeconfig or the cluster for anything (kinds unknown to the cluster are
// skipped, not refused). Each workload is checked for errors and spooled, the
// objects around it are indexed.
func (o *TargetOptions) ReadManifests() (_ *ManifestTargets, err error) {
	// What one builder finds wrong with -f before reading (a path that does not
	// exist, a directory without manifests), in its words.
	if err := resource.NewLocalBuilder().Unstructured().FilenameParam(false, &o.FilenameOptions).Flatten().Do().Err(); err != nil {
		return nil, withFileLine(err)
	}
	surroundings := newSpool(spoolMemory)
	t := &ManifestTargets{
		ManifestIndex: verify.ManifestIndex{Surroundings: verify.NewSurroundings(surroundings)},
		workloads:     newSpool(spoolMemory),
		kinds:         map[string]int{},
		surroundings:  surroundings,
	}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	// A document that does not parse is reported before any object that does not
	// decode, wherever it is, as when every document was parsed first; of the
	// objects that do not decode, the first.
	var objectErr error
	scope := readScope{namespace: o.namespace, enforceNamespace: o.enforceNamespace}
	if o.Selector != "" {
		if scope.selector, err = labels.Parse(o.Selector); err != nil {
			return nil, fmt.Errorf("invalid -l %q: %w", o.Selector, err)
		}
	}
	err = visitManifests(o.FilenameOptions, scope, manifestPartBytes, func(obj decodedManifest) error {
		switch {
		case objectErr != nil:
		case obj.err != nil:
			objectErr = obj.err
		default:
			objectErr = t.add(obj)
		}
		return nil
	})
	if err != nil {
		return nil, withFileLine(err)
	}
	if objectErr != nil {
		return nil, objectErr
	}
	if err := t.surroundings.Flush(); err != nil {
		return nil, err
	}
	if t.count == 0 {
		msg := fmt.Sprintf("no Deployment, StatefulSet or DaemonSet (apps/v1) found in %v", o.Filenames)
		for _, s := range t.Skipped {
			msg += fmt.Sprintf("; skipped %s %s (%s): %s", s.Kind, s.Name, s.APIVersion, s.Reason)
		}
		return nil, errors.New(msg)
	}
	return t, nil
}

// add keeps what preflight needs of one decoded object: a workload is
// spooled (its kind, its JSON, its unknown fields), the other objects indexed.
func (t *ManifestTargets) add(obj decodedManifest) error {
	wm := obj.manifest.Workload()
	if wm == nil {
		return t.ManifestIndex.Add(obj.manifest)
	}
	w := wm.Workload
	fields := [][]byte{[]byte(w.Kind), wm.JSON}
	for _, f := range wm.UnknownFields {
		fields = append(fields, []byte(f))
	}
	if err := writeRecord(t.workloads, fields...); err != nil {
		return fmt.Errorf("spooling %s %s/%s: %w", w.Kind, w.Namespace, w.Name, err)
	}
	t.count++
	t.kinds[w.Kind]++
	return nil
}

// OnlyDeployments tells whether every workload of the manifests is a Deployment.
func (t *ManifestTargets) OnlyDeployments() bool {
	return t.kinds[workload.KindDeployment] == t.count
}

// CheckEach decodes the workloads of t and checks each, on up to workers
// goroutines at once, and hands the results to emit in manifest order. check
// gets the fields of the workload's manifest the API server would drop. It
// stops at the first error, of check in manifest order, or of emit.
func CheckEach[R any](t *ManifestTargets, workers int, check func(w *verify.Workload, unknownFields []string) (R, error), emit func(R) error) error {
	r, err := t.workloads.Reader()
	if err != nil {
		return fmt.Errorf("reading spooled workloads: %w", err)
	}
	records := newRecordReader(r)
	// Workloads go to the checking goroutines in batches: one hand-over each
	// costs more than the work on a busy CPU.
	next := func() ([][][]byte, error) {
		var batch [][][]byte
		for len(batch) < checkBatch {
			fields, err := records.next()
			switch {
			case errors.Is(err, io.EOF) && len(batch) > 0:
				return batch, nil
			case errors.Is(err, io.EOF):
				return nil, err
			case err != nil:
				return nil, fmt.Errorf("reading spooled workloads: %w", err)
			}
			batch = append(batch, fields)
		}
		return batch, nil
	}
	type checked struct {
		result R
		err    error
	}
	work := func(batch [][][]byte) []checked {
		results := make([]checked, len(batch))
		for i, fields := range batch {
			w, err := verify.DecodeWorkloadJSON(string(fields[0]), fields[1])
			if err != nil {
				results[i].err = err
				continue
			}
			var unknown []string
			for _, f := range fields[2:] {
				unknown = append(unknown, string(f))
			}
			results[i].result, results[i].err = check(w, unknown)
		}
		return results
	}
	return inOrder(workers, next, work, func(results []checked) error {
		for _, c := range results {
			if c.err != nil {
				return c.err
			}
			if err := emit(c.result); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkBatch is how many workloads CheckEach hands a goroutine at once.
const checkBatch = 16

// Close removes the spools.
func (t *ManifestTargets) Close() error {
	return errors.Join(t.workloads.Close(), t.surroundings.Close())
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
