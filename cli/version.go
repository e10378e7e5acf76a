package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"
)

// versionInfo is what `version -o json|yaml` prints.
type versionInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// NewCmdVersion prints the plugin's build information.
func NewCmdVersion(streams genericiooptions.IOStreams, build BuildInfo) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version",
		Example: `  kubectl safe-rollout version
  kubectl safe-rollout version -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := versionInfo{
				Version: orUnknown(build.Version), Commit: orUnknown(build.Commit), Date: orUnknown(build.Date),
				GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
			}
			return printVersion(streams.Out, info, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "One of 'yaml' or 'json' (default: text)")
	return cmd
}

func printVersion(w io.Writer, info versionInfo, output string) error {
	switch output {
	case "":
		_, err := fmt.Fprintf(w, "kubectl safe-rollout %s\ncommit: %s\nbuilt: %s\ngo: %s\nplatform: %s\nclient-go: %s\n",
			info.Version, info.Commit, info.Date, info.GoVersion, info.Platform, clientGoVersion())
		return err
	case "json":
		b, err := json.MarshalIndent(info, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(info)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	// kubectl version's words.
	return fmt.Errorf("--output must be 'yaml' or 'json'")
}

// resolved fills what the linker did not set (a `go install` or `go build`
// without -ldflags) from the build info Go records: the module version
// (v0.3.1 for `go install …@v0.3.1`, a pseudo-version from the checkout for a
// local build) and the VCS revision and time.
func (b BuildInfo) resolved(info *debug.BuildInfo, ok bool) BuildInfo {
	if !ok || info == nil {
		return b
	}
	if !linkerSet(b.Version) {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
	}
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision" && !linkerSet(b.Commit):
			b.Commit = s.Value
			if len(b.Commit) > 12 {
				b.Commit = b.Commit[:12]
			}
		case s.Key == "vcs.time" && !linkerSet(b.Date):
			b.Date = s.Value
		}
	}
	return b
}

// linkerSet tells whether a -X value is a real one: make build without a tag
// writes "dev", others "unknown".
func linkerSet(s string) bool {
	return s != "" && s != "dev" && s != "unknown" && s != "none"
}

// userAgent is the plugin's User-Agent on API requests, in kubectl's form
// (kubectl/v1.31.0 (linux/amd64) kubernetes/abc1234), so that audit logs tell
// its requests from kubectl's.
func (b BuildInfo) userAgent() string {
	return fmt.Sprintf("kubectl-safe_rollout/%s (%s/%s) safe-rollout/%s", orUnknown(b.Version), runtime.GOOS, runtime.GOARCH, orUnknown(b.Commit))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func clientGoVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == "k8s.io/client-go" {
			return dep.Version
		}
	}
	return "unknown"
}
