package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/safe-rollout/kubectl-safe-rollout/rollout/watch"
	"github.com/safe-rollout/kubectl-safe-rollout/verify"
	"github.com/safe-rollout/kubectl-safe-rollout/verify/cluster"
)

const preflightExample = `  # Check a live Deployment
  kubectl safe-rollout preflight deploy/web

  # Check every Deployment labelled app=web, as JSON
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

// NewCmdPreflight checks Deployments' termination contracts.
func NewCmdPreflight(configFlags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, deps Deps) *cobra.Command {
	o := NewPreflightOptions(configFlags, streams, deps)
	cmd := &cobra.Command{
		Use:     "preflight (TYPE/NAME | TYPE NAME | -l SELECTOR | -f FILENAME)",
		Short:   "Check Deployments' termination contract before a rollout",
		Example: preflightExample,
		RunE:    runE(o),
	}
	o.Targets.AddFlags(cmd, true)
	o.Budget.AddFlags(cmd.Flags())
	addOutputFlag(cmd, &o.Output)
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

func (o *PreflightOptions) Validate() error {
	if err := validateOutput(o.Output); err != nil {
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
	targets, err := o.Targets.Resolve(o.args)
	if err != nil {
		return err
	}
	var client kubernetes.Interface
	if !o.Local {
		if client, err = o.Clients(o.ConfigFlags, 0); err != nil {
			return err
		}
	}
	report, err := runPreflight(ctx, client, targets, StatedBudget(o.Budget.GraceBudget, o.flags))
	if err != nil {
		return err
	}
	if o.Strict {
		report = report.AsStrict()
	}
	if err := printPreflight(o.Out, report, o.Output, isTerminal(o.Out)); err != nil {
		return err
	}
	if report.Failed(o.Strict) {
		return withCode(ExitPreflightFailed, nil)
	}
	return nil
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

// runPreflight checks every target; client is nil for --local.
func runPreflight(ctx context.Context, client kubernetes.Interface, t *Targets, budget verify.GraceBudget) (verify.PreflightReport, error) {
	fromFiles := verify.Environment{Local: client == nil, Services: t.Services, PDBs: t.PDBs, HPAs: t.HPAs, Ingresses: t.Ingresses}
	var reader *cluster.Reader
	if client != nil {
		reader = cluster.NewReader(client)
	}
	objects := make([]verify.ObjectReport, 0, len(t.Deployments))
	for _, d := range t.Deployments {
		b, err := budget.WithAnnotations(d.Annotations)
		if err != nil {
			return verify.PreflightReport{}, fmt.Errorf("deployment %s/%s: %w", d.Namespace, d.Name, err)
		}
		env := fromFiles
		env.UnknownFields = t.UnknownFields(d)
		if reader != nil {
			known := fromFiles
			if !t.FromFiles {
				known.Live = d // resolved from the cluster a moment ago
			}
			if env, err = reader.Environment(ctx, d, known); err != nil {
				return verify.PreflightReport{}, err
			}
		}
		objects = append(objects, verify.CheckDeployment(d, b, env))
	}
	report := verify.NewPreflightReport(objects)
	report.Skipped = t.Skipped
	return report, nil
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
	switch format {
	case "json":
		return writeJSON(w, r)
	case "yaml":
		return writeYAML(w, r)
	}
	tw := printers.GetNewTabWriter(w)
	fmt.Fprintln(tw, "NAMESPACE\tDEPLOYMENT\tCHECK\tCONTAINER\tSTATUS\tFINDING")
	for _, obj := range r.Objects {
		for _, c := range obj.Checks {
			container := c.Container
			if container == "" {
				container = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", obj.Namespace, obj.Name, c.ID, container, paint(string(c.Status), c.Status, colour), c.Message)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var fixes []string
	for _, obj := range r.Objects {
		for _, c := range obj.Checks {
			if c.Fix == "" {
				continue
			}
			where := c.ID
			if c.Container != "" {
				where += " (" + c.Container + ")"
			}
			fixes = append(fixes, fmt.Sprintf("  %s/%s %s: %s", obj.Namespace, obj.Name, where, c.Fix))
		}
	}
	if len(fixes) > 0 {
		fmt.Fprintf(w, "\nFixes:\n%s\n", strings.Join(fixes, "\n"))
	}
	printSkipped(w, r.Skipped)
	verdict := paint(string(r.Verdict), r.Verdict, colour)
	if r.Strict {
		verdict += " (--strict: warnings fail)"
	}
	fmt.Fprintf(w, "\nVerdict: %s\n", verdict)
	return nil
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
