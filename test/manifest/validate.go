// Package manifest validates the krew manifests of kubectl safe-rollout: plugin.yaml,
// the krew-release-bot template krew/.krew.yaml and the snapshot's
// dist/krew/safe-rollout.yaml.
//
// It is a Go module of its own: sigs.k8s.io/krew v0.4.3 requires
// k8s.io/client-go v11.0.0+incompatible, which minimal version selection would pick
// over the plugin's k8s.io/client-go v0.37 in the root module.
//
// krew's validation package is internal, so the rules are restated here, from
// sigs.k8s.io/krew v0.4.3 internal/index/validation and cmd/validate-krew-manifest
// (what krew-index's CI runs), over krew's own pkg/index types.
package manifest

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/krew/pkg/constants"
	"sigs.k8s.io/krew/pkg/index"
	"sigs.k8s.io/yaml"
)

var (
	safePluginName = regexp.MustCompile(`^[\w-]+$`)
	validSHA256    = regexp.MustCompile(`^[a-f0-9]{64}$`)
	// Windows reserved names, refused by krew as plugin names.
	windowsForbidden = []string{"CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5",
		"COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"}
)

// OSArch is one platform krew installs on.
type OSArch struct{ OS, Arch string }

func (p OSArch) String() string { return p.OS + "/" + p.Arch }

// KrewPlatforms are the <os, arch> pairs krew-index's validator checks selectors against.
var KrewPlatforms = []OSArch{
	{"windows", "386"}, {"windows", "amd64"}, {"windows", "arm64"},
	{"linux", "386"}, {"linux", "amd64"}, {"linux", "arm"}, {"linux", "arm64"},
	{"darwin", "386"}, {"darwin", "amd64"}, {"darwin", "arm64"},
}

// Read parses a manifest strictly: unknown fields are errors.
func Read(path string) (index.Plugin, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return index.Plugin{}, err
	}
	return Parse(b)
}

// Parse parses manifest bytes strictly.
func Parse(b []byte) (index.Plugin, error) {
	var p index.Plugin
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		return p, fmt.Errorf("parsing manifest: %w", err)
	}
	return p, nil
}

// Validate applies krew's rules to a manifest that must be named name.
func Validate(name string, p index.Plugin) error {
	if p.APIVersion != constants.CurrentAPIVersion {
		return fmt.Errorf("apiVersion %q, want %q", p.APIVersion, constants.CurrentAPIVersion)
	}
	if p.Kind != constants.PluginKind {
		return fmt.Errorf("kind %q, want %q", p.Kind, constants.PluginKind)
	}
	if !safePluginName.MatchString(name) || slices.ContainsFunc(windowsForbidden, func(f string) bool { return strings.EqualFold(f, name) }) {
		return fmt.Errorf("plugin name %q is not allowed, must match %s", name, safePluginName)
	}
	if p.Name != name {
		return fmt.Errorf("metadata.name %q, want %q", p.Name, name)
	}
	if p.Spec.ShortDescription == "" {
		return errors.New("spec.shortDescription is empty")
	}
	if strings.ContainsAny(p.Spec.ShortDescription, "\r\n") {
		return errors.New("spec.shortDescription has a line break")
	}
	if err := validVersion(p.Spec.Version); err != nil {
		return err
	}
	if len(p.Spec.Platforms) == 0 {
		return errors.New("spec.platforms is empty")
	}
	for i, pl := range p.Spec.Platforms {
		if err := validatePlatform(pl); err != nil {
			return fmt.Errorf("spec.platforms[%d]: %w", i, err)
		}
		if _, ok := AnyMatch(pl.Selector); !ok {
			return fmt.Errorf("spec.platforms[%d]: selector %v matches no platform krew supports", i, pl.Selector)
		}
	}
	for _, env := range KrewPlatforms {
		if m := Matching(p.Spec.Platforms, env); len(m) > 1 {
			return fmt.Errorf("spec.platforms %v have overlapping selectors: all select %s", m, env)
		}
	}
	return nil
}

// validVersion is krew's semver rule: a leading v, then a semantic version.
func validVersion(v string) error {
	if v == "" {
		return errors.New("spec.version is empty")
	}
	if !strings.HasPrefix(v, "v") {
		return fmt.Errorf("spec.version %q does not start with v", v)
	}
	if _, err := version.ParseSemantic(v); err != nil {
		return fmt.Errorf("spec.version %q: %w", v, err)
	}
	return nil
}

func validatePlatform(p index.Platform) error {
	switch {
	case p.URI == "":
		return errors.New("uri is empty")
	case !validSHA256.MatchString(p.Sha256):
		return fmt.Errorf("sha256 %q is not 64 lowercase hex digits", p.Sha256)
	case p.Bin == "":
		return errors.New("bin is empty")
	}
	if p.Files != nil {
		if len(p.Files) == 0 {
			return errors.New("files is present but empty (omit it to extract everything)")
		}
		for _, f := range p.Files {
			if f.From == "" || f.To == "" {
				return fmt.Errorf("files entry %+v: from and to must both be set", f)
			}
		}
	}
	return validateSelector(p.Selector)
}

func validateSelector(sel *metav1.LabelSelector) error {
	if sel == nil {
		return errors.New("selector is missing")
	}
	if sel.MatchLabels == nil && len(sel.MatchExpressions) == 0 {
		return errors.New("selector is empty")
	}
	if sel.MatchLabels != nil && len(sel.MatchLabels) == 0 {
		return errors.New("selector.matchLabels is present but empty")
	}
	if sel.MatchExpressions != nil && len(sel.MatchExpressions) == 0 {
		return errors.New("selector.matchExpressions is present but empty")
	}
	keys := make([]string, 0, len(sel.MatchLabels))
	for k := range sel.MatchLabels {
		keys = append(keys, k)
	}
	for _, e := range sel.MatchExpressions {
		keys = append(keys, e.Key)
	}
	for _, k := range keys {
		if k != "os" && k != "arch" {
			return fmt.Errorf("selector key %q: only os and arch are allowed", k)
		}
	}
	if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
		return fmt.Errorf("selector: %w", err)
	}
	return nil
}

// Selects tells whether sel selects the platform env.
func Selects(sel *metav1.LabelSelector, env OSArch) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set{"os": env.OS, "arch": env.Arch})
}

// AnyMatch returns the first krew platform sel selects.
func AnyMatch(sel *metav1.LabelSelector) (OSArch, bool) {
	for _, env := range KrewPlatforms {
		if Selects(sel, env) {
			return env, true
		}
	}
	return OSArch{}, false
}

// Matching returns the indexes of the platforms that select env.
func Matching(platforms []index.Platform, env OSArch) []int {
	var out []int
	for i, p := range platforms {
		if Selects(p.Selector, env) {
			out = append(out, i)
		}
	}
	return out
}
