package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/watch"
	"github.com/safe-rollout/kubectl-safe-rollout/rollout/workload"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/cluster"
)

const preflightExample = `  # Check a live Deployment
  kubectl safe-rollout preflight deploy/web

  # Check a StatefulSet and a DaemonSet
  kubectl safe-rollout preflight sts/postgresql ds/node-exporter

  # Check every Deployment, StatefulSet and DaemonSet labelled app=web, as JSON
  kubectl safe-rollout preflight -l app=web -o json

  # Check manifests in CI, before they are applied, without a cluster
  kubectl safe-rollout preflight -f k8s/ --local

  # Use measured numbers for the grace budget
  kubectl safe-rollout preflight deploy/web --endpoint-propagation 2s --max-request 30s`

// PreflightOptions holds the preflight command's inputs.
type PreflightOptions struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Targets     TargetOptions
	Budget      BudgetFlags
	Output      string
	Local       bool
	Strict      bool

	Deps
	args []string
	// flags tell which budget inputs were given on the command line.
	flags *pflag.FlagSet
	genericiooptions.IOStreams
}

func NewPreflightOptions(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, deps Deps) *PreflightOptions {
	return &PreflightOptions{ConfigFlags: configFlags, Budget: NewBudgetFlags(), Deps: deps, IOStreams: streams}
}

// NewCmdPreflight checks the termination contracts of Deployments,
// StatefulSets and DaemonSets.
func NewCmdPreflight(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, deps Deps) *cobra.Command {
	o := NewPreflightOptions(configFlags, streams, deps)
	cmd := &cobra.Command{
		Use:     "preflight (TYPE/NAME | TYPE NAME | -l SELECTOR | -f FILENAME)",
		Short:   "Check the termination contract of Deployments, StatefulSets and DaemonSets before a rollout",
		Example: preflightExample,
		RunE:    runE(o),
	}
	o.Targets.AddFlags(cmd, true)
	o.Budget.AddFlags(cmd.Flags())
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: wide (every check of every workload), json, yaml or sarif (SARIF 2.1.0 for CI) (default: one row per workload, then the findings that do not pass)")
	cmd.Flags().BoolVar(&o.Local, "local", false, "Read only the manifests given with -f; never contact a cluster")
	cmd.Flags().BoolVar(&o.Strict, "strict", false, "Treat warnings as failures (exit 2)")
	o.flags = cmd.Flags()
	return cmd
}

func addOutputFlag(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVarP(out, "output", "o", "", "Output format: json or yaml (default: a table)")
}

func validateOutput(out string) error {
	switch out {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unsupported output format %q: use json or yaml", out)
}

func (o *PreflightOptions) Complete(args []string) error {
	o.args = args
	if o.Local {
		o.Targets.CompleteLocal(o.ConfigFlags)
		return nil
	}
	return o.Targets.Complete(o.ConfigFlags)
}

// validatePreflightOutput accepts the formats of preflight: those of every
// command and the wide table.
func validatePreflightOutput(out string) error {
	switch out {
	case formatWide, formatSARIF:
		return nil
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unsupported output format %q: use wide, json, yaml or sarif", out)
}

func (o *PreflightOptions) Validate() error {
	if err := validatePreflightOutput(o.Output); err != nil {
		return err
	}
	if err := o.Budget.Validate(); err != nil {
		return err
	}
	if o.Local && len(o.Targets.Filenames) == 0 {
		return fmt.Errorf("--local needs manifests: use -f FILE")
	}
	return o.Targets.Validate(o.args)
}

func (o *PreflightOptions) Run(ctx context.Context) error {
	if len(o.Targets.Filenames) > 0 {
		return o.runManifests(ctx)
	}
	targets, err := o.Targets.Resolve(o.args)
	if err != nil {
		return err
	}
	client, err := o.Clients(o.ConfigFlags, 0)
	if err != nil {
		return err
	}
	budget := StatedBudget(o.Budget.GraceBudget, o.flags)
	report, err := runPreflight(ctx, client, targets, budget)
	if err != nil {
		return err
	}
	if o.Strict {
		report = report.AsStrict()
	}
	report.Inputs = preflightInputs(budget)
	if err := printPreflight(o.Out, report, o.Output, o.Colour.on(o.Out)); err != nil {
		return err
	}
	if report.Failed(o.Strict) {
		return withCode(ExitPreflightFailed, nil)
	}
	return nil
}

// runManifests checks the workloads of -f one at a time: only their rendered
// findings are kept, so the memory used does not grow with their number.
func (o *PreflightOptions) runManifests(ctx context.Context) error {
	targets, err := o.Targets.ReadManifests()
	if err != nil {
		return err
	}
	defer targets.Close()
	var client kubernetes.Interface
	if !o.Local {
		if client, err = o.Clients(o.ConfigFlags, 0); err != nil {
			return err
		}
	}
	out := newReportWriter(o.Output, o.Colour.on(o.Out))
	out.QualifyNames(!targets.OnlyDeployments())
	defer out.Close()
	budget := StatedBudget(o.Budget.GraceBudget, o.flags)
	checker := newWorkloadChecker(client, &targets.Surroundings, budget, false)
	head := verify.PreflightReport{Verdict: verify.StatusPass, Objects: []verify.ObjectReport{}, Skipped: targets.Skipped, Strict: o.Strict, Inputs: preflightInputs(budget)}
	// The lines of the objects, for the formats that say them.
	var lines *manifestLines
	if o.Output != formatSummary && o.Output != formatWide {
		lines = readManifestLines(o.Targets.FilenameOptions)
		out.lines = lines
	}
	// The checks of a workload need nothing of another's: they run on every
	// CPU. Not against a cluster: its reader caches what it lists, unguarded.
	workers := 1
	if client == nil {
		workers = runtime.GOMAXPROCS(0)
	}
	// Rendered where checked: YAML takes as long to render as to check.
	check := func(w *verify.Workload, unknownFields []string) (renderedObject, error) {
		obj, err := checker.check(ctx, w, unknownFields)
		if err != nil {
			return renderedObject{}, err
		}
		obj.Judge(o.Strict)
		obj.Source = lines.source(obj.Kind, obj.Namespace, obj.Name)
		return out.Render(obj)
	}
	err = CheckEach(targets, workers, check, func(r renderedObject) error {
		if r.verdict.Worse(head.Verdict) {
			head.Verdict = r.verdict
		}
		return out.AddRendered(r)
	})
	if err != nil {
		return err
	}
	if err := out.WriteTo(o.Out, head); err != nil {
		return err
	}
	if head.Failed(o.Strict) {
		return withCode(ExitPreflightFailed, nil)
	}
	return nil
}

// preflightInputs are the budget inputs of a report.
func preflightInputs(b verify.GraceBudget) *verify.PreflightInputs {
	in := &verify.PreflightInputs{
		EndpointPropagationSeconds: b.EndpointPropagation.Seconds(),
		DrainDelaySeconds:          b.DrainDelay.Seconds(),
		MaxRequestSeconds:          b.MaxRequest.Seconds(),
		SafetyMarginSeconds:        b.SafetyMargin.Seconds(),
	}
	for name, stated := range map[string]bool{
		"endpointPropagation": b.Stated.EndpointPropagation, "drainDelay": b.Stated.DrainDelay,
		"maxRequest": b.Stated.MaxRequest, "safetyMargin": b.Stated.SafetyMargin,
	} {
		if stated {
			in.Stated = append(in.Stated, name)
		}
	}
	slices.Sort(in.Stated)
	return in
}

// StatedBudget marks the budget inputs given as flags: only those (and the
// annotations) can make grace-budget fail; the defaults are assumptions.
func StatedBudget(b verify.GraceBudget, fs *pflag.FlagSet) verify.GraceBudget {
	if fs == nil {
		return b
	}
	b.Stated.EndpointPropagation = b.Stated.EndpointPropagation || fs.Changed("endpoint-propagation")
	b.Stated.DrainDelay = b.Stated.DrainDelay || fs.Changed("drain-delay")
	b.Stated.MaxRequest = b.Stated.MaxRequest || fs.Changed("max-request")
	b.Stated.SafetyMargin = b.Stated.SafetyMargin || fs.Changed("safety-margin")
	return b
}

// runPreflight checks every live target.
func runPreflight(ctx context.Context, client kubernetes.Interface, t *Targets, budget verify.GraceBudget) (verify.PreflightReport, error) {
	checker := newWorkloadChecker(client, &verify.Surroundings{}, budget, true)
	objects := make([]verify.ObjectReport, 0, len(t.Workloads))
	for _, w := range t.Workloads {
		obj, err := checker.check(ctx, w, nil)
		if err != nil {
			return verify.PreflightReport{}, err
		}
		objects = append(objects, obj)
	}
	return verify.NewPreflightReport(objects), nil
}

// workloadChecker checks workloads one at a time.
type workloadChecker struct {
	// reader reads the cluster; nil for --local.
	reader *cluster.Reader
	// fromFiles are the objects of the manifests around the workloads.
	fromFiles *verify.Surroundings
	budget    verify.GraceBudget
	// live is true when the workloads were resolved from the cluster a moment
	// ago: they need not be read again.
	live bool
}

// newWorkloadChecker checks with client, nil for --local.
func newWorkloadChecker(client kubernetes.Interface, fromFiles *verify.Surroundings, budget verify.GraceBudget, live bool) *workloadChecker {
	c := &workloadChecker{fromFiles: fromFiles, budget: budget, live: live}
	if client != nil {
		c.reader = cluster.NewReader(client)
	}
	return c
}

// check checks w; unknownFields are the fields of its manifest the API server
// would drop.
func (c *workloadChecker) check(ctx context.Context, w *verify.Workload, unknownFields []string) (verify.ObjectReport, error) {
	b, err := c.budget.WithAnnotations(w.Annotations)
	if err != nil {
		return verify.ObjectReport{}, fmt.Errorf("%s %s/%s: %w", strings.ToLower(w.Kind), w.Namespace, w.Name, err)
	}
	known, err := c.fromFiles.WorkloadEnvironment(w, c.reader == nil)
	if err != nil {
		return verify.ObjectReport{}, fmt.Errorf("%s %s/%s: %w", strings.ToLower(w.Kind), w.Namespace, w.Name, err)
	}
	env := known
	env.UnknownFields = unknownFields
	if c.reader != nil {
		if c.live {
			known.Live = w
		}
		if env, err = c.reader.WorkloadEnvironment(ctx, w, known); err != nil {
			return verify.ObjectReport{}, err
		}
	}
	return verify.CheckWorkload(w, b, env), nil
}

// newClient is the clientFactory of the real commands. Its requests are
// watched for API server outages (the guard's watch gaps).
func newClient(f *genericclioptions.ConfigFlags, timeout time.Duration) (kubernetes.Interface, error) {
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	if timeout > 0 && cfg.Timeout == 0 {
		cfg.Timeout = timeout
	}
	conn := watch.NewConnectivity()
	cfg.Wrap(conn.Wrap)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &connectedClient{Interface: client, connectivity: conn}, nil
}

// connectedClient is a client whose requests a watch.Connectivity observes.
type connectedClient struct {
	kubernetes.Interface
	connectivity *watch.Connectivity
}

// connectivityOf returns the Connectivity of a client newClient built; nil for
// others (fakes in tests).
func connectivityOf(client kubernetes.Interface) *watch.Connectivity {
	if c, ok := client.(*connectedClient); ok {
		return c.connectivity
	}
	return nil
}

func printPreflight(w io.Writer, r verify.PreflightReport, format string, colour bool) error {
	out := newReportWriter(format, colour)
	out.QualifyNames(slices.ContainsFunc(r.Objects, func(o verify.ObjectReport) bool { return o.Kind != workload.KindDeployment }))
	defer out.Close()
	for _, obj := range r.Objects {
		if err := out.Add(obj); err != nil {
			return err
		}
	}
	head := r
	head.Objects = r.Objects[:0]
	return out.WriteTo(w, head)
}

// printSkipped lists the manifest objects that were not checked, and why.
func printSkipped(w io.Writer, skipped []verify.SkippedObject) {
	if len(skipped) == 0 {
		return
	}
	fmt.Fprintln(w, "\nSkipped (not checked):")
	for _, s := range skipped {
		fmt.Fprintf(w, "  %s %s/%s (%s, %s): %s\n", s.Kind, s.Namespace, s.Name, s.APIVersion, s.Source, s.Reason)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // findings say ">=": keep them greppable
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
