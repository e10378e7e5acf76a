package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// Targets are the live Deployments a command works on.
type Targets struct {
	Deployments []*appsv1.Deployment
}

// ManifestTargets are the Deployments of manifests (-f), with the Services,
// PodDisruptionBudgets, HorizontalPodAutoscalers and Ingresses that came with
// them and the objects skipped. The Deployments are read once and spooled, not
// kept: CheckEach decodes them a few at a time. Close removes the spools.
type ManifestTargets struct {
	verify.ManifestIndex
	deployments *spool
	count       int
	// surroundings holds the JSON of the Services, PDBs, HPAs and Ingresses.
	surroundings *spool
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

// Resolve reads the live targets: deploy/NAME, deployment NAME or -l SELECTOR.
// Manifests (-f) are read by ReadManifests.
func (o *TargetOptions) Resolve(args []string) (*Targets, error) {
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

// ReadManifests reads the manifests of -f with local builders: they never ask
// the kubeconfig or the cluster for anything (kinds unknown to the cluster are
// skipped, not refused). Each Deployment is checked for errors and spooled, the
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
		deployments:   newSpool(spoolMemory),
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
	err = visitManifests(o.FilenameOptions, o.namespace, manifestPartBytes, func(obj decodedManifest) error {
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
		msg := fmt.Sprintf("no Deployment (apps/v1) found in %v", o.Filenames)
		for _, s := range t.Skipped {
			msg += fmt.Sprintf("; skipped %s %s (%s): %s", s.Kind, s.Name, s.APIVersion, s.Reason)
		}
		return nil, errors.New(msg)
	}
	return t, nil
}

// add keeps what preflight needs of one decoded object: a Deployment is
// spooled, the other objects indexed.
func (t *ManifestTargets) add(obj decodedManifest) error {
	dm := obj.manifest.Deployment()
	if dm == nil {
		return t.ManifestIndex.Add(obj.manifest)
	}
	fields := [][]byte{dm.JSON}
	for _, f := range dm.UnknownFields {
		fields = append(fields, []byte(f))
	}
	if err := writeRecord(t.deployments, fields...); err != nil {
		return fmt.Errorf("spooling Deployment %s/%s: %w", dm.Deployment.Namespace, dm.Deployment.Name, err)
	}
	t.count++
	return nil
}

// CheckEach decodes the Deployments of t and checks each, on up to workers
// goroutines at once, and hands the results to emit in manifest order. check
// gets the fields of the Deployment's manifest the API server would drop. It
// stops at the first error, of check in manifest order, or of emit.
func CheckEach[R any](t *ManifestTargets, workers int, check func(d *appsv1.Deployment, unknownFields []string) (R, error), emit func(R) error) error {
	r, err := t.deployments.Reader()
	if err != nil {
		return fmt.Errorf("reading spooled Deployments: %w", err)
	}
	records := newRecordReader(r)
	// Deployments go to the checking goroutines in batches: one hand-over each
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
				return nil, fmt.Errorf("reading spooled Deployments: %w", err)
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
			d, err := verify.DecodeDeploymentJSON(fields[0])
			if err != nil {
				results[i].err = err
				continue
			}
			var unknown []string
			for _, f := range fields[1:] {
				unknown = append(unknown, string(f))
			}
			results[i].result, results[i].err = check(d, unknown)
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

// checkBatch is how many Deployments CheckEach hands a goroutine at once.
const checkBatch = 16

// Close removes the spools.
func (t *ManifestTargets) Close() error {
	return errors.Join(t.deployments.Close(), t.surroundings.Close())
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
