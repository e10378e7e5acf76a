package cli

import (
	"github.com/spf13/pflag"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

// BudgetFlags are the inputs of the grace budget formula, shared by every
// command that runs a preflight.
type BudgetFlags struct {
	verify.GraceBudget
}

func NewBudgetFlags() BudgetFlags { return BudgetFlags{GraceBudget: verify.DefaultGraceBudget()} }

func (b *BudgetFlags) AddFlags(fs *pflag.FlagSet) {
	fs.DurationVar(&b.EndpointPropagation, "endpoint-propagation", b.EndpointPropagation, "Time for EndpointSlice changes to reach every proxy and load balancer (annotation "+verify.AnnotationEndpointPropagation+")")
	fs.DurationVar(&b.DrainDelay, "drain-delay", b.DrainDelay, "Time the app keeps serving after readiness flips (annotation "+verify.AnnotationDrainDelay+")")
	fs.DurationVar(&b.MaxRequest, "max-request", b.MaxRequest, "Worst-case duration of an in-flight request (annotation "+verify.AnnotationMaxRequest+")")
	fs.DurationVar(&b.SafetyMargin, "safety-margin", b.SafetyMargin, "Slack before the kubelet's SIGKILL (annotation "+verify.AnnotationSafetyMargin+")")
}
