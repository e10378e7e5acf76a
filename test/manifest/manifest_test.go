package manifest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/krew/pkg/index"
)

const (
	pluginName = "safe-rollout"
	binary     = "kubectl-safe_rollout"
	releaseURL = "https://github.com/safe-rollout/kubectl-safe-rollout/releases/download/"
)

var (
	root = filepath.Join("..", "..")
	// The platforms .goreleaser.yaml builds: one archive each.
	shipped = []OSArch{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}, {"windows", "arm64"}}
)

// TestPluginYAML checks the repository's plugin.yaml, the manifest of the latest
// tagged release: a snapshot's manifest names downloads that never exist.
func TestPluginYAML(t *testing.T) {
	p, err := Read(filepath.Join(root, "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`).MatchString(p.Spec.Version) {
		t.Errorf("plugin.yaml is version %q, not a tagged release (make release-manifest writes it from a release's dist/)", p.Spec.Version)
	}
	if err := Validate(pluginName, p); err != nil {
		t.Fatalf("plugin.yaml: %v", err)
	}
	checkPlatforms(t, p)
}

// checkPlatforms asserts what is ours rather than krew's: one platform per shipped
// archive, the binary's name, and download URLs of the manifest's version.
func checkPlatforms(t *testing.T, p index.Plugin) { checkPlatformsOf(t, p, shipped) }

// checkPlatformsOf is checkPlatforms for a manifest of the archives of these platforms.
func checkPlatformsOf(t *testing.T, p index.Plugin, shipped []OSArch) {
	t.Helper()
	if len(p.Spec.Platforms) != len(shipped) {
		t.Errorf("%d platforms, want %d (one per archive: %v)", len(p.Spec.Platforms), len(shipped), shipped)
	}
	if p.Spec.Homepage == "" || p.Spec.Description == "" {
		t.Errorf("homepage %q / description %q: krew-index wants both", p.Spec.Homepage, p.Spec.Description)
	}
	archive := regexp.MustCompile(`^kubectl-safe-rollout_` + regexp.QuoteMeta(p.Spec.Version) + `_(linux|darwin|windows)_(amd64|arm64)\.(tar\.gz|zip)$`)
	for _, env := range shipped {
		m := Matching(p.Spec.Platforms, env)
		if len(m) != 1 {
			t.Errorf("%s: selected by platforms %v, want exactly one", env, m)
			continue
		}
		pl := p.Spec.Platforms[m[0]]
		wantBin, wantExt := binary, ".tar.gz"
		if env.OS == "windows" {
			wantBin, wantExt = binary+".exe", ".zip"
		}
		if pl.Bin != wantBin {
			t.Errorf("%s: bin %q, want %q", env, pl.Bin, wantBin)
		}
		dir, file := path.Split(pl.URI)
		if dir != releaseURL+p.Spec.Version+"/" {
			t.Errorf("%s: uri %q is not under %s%s/", env, pl.URI, releaseURL, p.Spec.Version)
		}
		sub := archive.FindStringSubmatch(file)
		if sub == nil || sub[1] != env.OS || sub[2] != env.Arch || "."+sub[3] != wantExt {
			t.Errorf("%s: archive %q, want kubectl-safe-rollout_%s_%s_%s%s", env, file, p.Spec.Version, env.OS, env.Arch, wantExt)
		}
	}
}

// renderBotTemplate renders krew/.krew.yaml as krew-release-bot does; sha256 answers
// addURIAndSha instead of downloading the archive.
func renderBotTemplate(t *testing.T, tag string, sha256 func(uri string) string) []byte {
	t.Helper()
	file := filepath.Join(root, "krew", ".krew.yaml")
	tmpl, err := template.New(filepath.Base(file)).Funcs(template.FuncMap{
		"addURIAndSha": func(url, tag string) (string, error) {
			var buf bytes.Buffer
			u, err := template.New("url").Parse(url)
			if err == nil {
				err = u.Execute(&buf, struct{ TagName string }{tag})
			}
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("uri: %s\n    sha256: %s", buf.String(), sha256(buf.String())), nil
		},
	}).ParseFiles(file)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, struct{ TagName string }{tag}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestKrewReleaseBotTemplate renders the template for a future tag, and for the current
// version, where it must give plugin.yaml again: the template and GoReleaser's krews:
// section describe the same archives.
func TestKrewReleaseBotTemplate(t *testing.T) {
	fake := func(uri string) string { s := sha256.Sum256([]byte(uri)); return hex.EncodeToString(s[:]) }
	future, err := Parse(renderBotTemplate(t, "v9.8.7", fake))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(pluginName, future); err != nil {
		t.Fatalf("rendered for v9.8.7: %v", err)
	}
	if future.Spec.Version != "v9.8.7" {
		t.Errorf("version %q, want v9.8.7", future.Spec.Version)
	}
	checkPlatforms(t, future)

	current, err := Read(filepath.Join(root, "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	shas := map[string]string{}
	for _, pl := range current.Spec.Platforms {
		shas[pl.URI] = pl.Sha256
	}
	rendered, err := Parse(renderBotTemplate(t, current.Spec.Version, func(uri string) string {
		if s, ok := shas[uri]; ok {
			return s
		}
		t.Errorf("template names %s, which plugin.yaml does not", uri)
		return strings.Repeat("0", 64)
	}))
	if err != nil {
		t.Fatal(err)
	}
	samePlugin(t, "krew/.krew.yaml rendered for "+current.Spec.Version, rendered, "plugin.yaml", current)
}

// snapshotUnderTest is the GoReleaser snapshot TestSnapshot checks and the platforms
// it was built for. make manifest-test builds one of its own and names it in
// MANIFEST_TEST_DIST and MANIFEST_TEST_PLATFORMS (os/arch,...): then a missing
// snapshot fails. Otherwise it is make release-snapshot's dist/, all platforms,
// and the test skips when there is none.
func snapshotUnderTest(t *testing.T) (dist string, platforms []OSArch, required bool) {
	t.Helper()
	dist, required = os.LookupEnv("MANIFEST_TEST_DIST")
	if !required {
		return filepath.Join(root, "dist"), shipped, false
	}
	list := os.Getenv("MANIFEST_TEST_PLATFORMS")
	if list == "" {
		return dist, shipped, true
	}
	for _, pair := range strings.Split(list, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(pair), "/")
		if !ok || !slices.Contains(shipped, OSArch{goos, goarch}) {
			t.Fatalf("MANIFEST_TEST_PLATFORMS: %q is not one of the shipped platforms %v", pair, shipped)
		}
		platforms = append(platforms, OSArch{goos, goarch})
	}
	return dist, platforms, true
}

// TestSnapshot checks GoReleaser's manifest against the archives it describes.
func TestSnapshot(t *testing.T) {
	dist, platforms, required := snapshotUnderTest(t)
	file := filepath.Join(dist, "krew", pluginName+".yaml")
	if _, err := os.Stat(file); err != nil {
		if required {
			t.Fatalf("no snapshot in MANIFEST_TEST_DIST (%v): make manifest-test builds it first", err)
		}
		t.Skipf("no snapshot (%v): run make release-snapshot, or make manifest-test", err)
	}
	p, err := Read(file)
	if err != nil {
		t.Fatal(err)
	}
	// In krew-index the file name is the plugin name.
	if err := Validate(strings.TrimSuffix(filepath.Base(file), ".yaml"), p); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	checkPlatformsOf(t, p, platforms)
	sums := readChecksums(t, filepath.Join(dist, "checksums.txt"))
	for _, pl := range p.Spec.Platforms {
		name := path.Base(pl.URI)
		if got := fileSHA256(t, filepath.Join(dist, name)); got != pl.Sha256 {
			t.Errorf("%s: sha256 %s, manifest says %s", name, got, pl.Sha256)
		}
		if sums[name] != pl.Sha256 {
			t.Errorf("%s: checksums.txt says %q, manifest %s", name, sums[name], pl.Sha256)
		}
	}
	current, err := Read(filepath.Join(root, "plugin.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if current.Spec.Version != p.Spec.Version {
		t.Logf("plugin.yaml is %s, the snapshot %s: not compared", current.Spec.Version, p.Spec.Version)
		return
	}
	// plugin.yaml was written by make release-snapshot at some commit: the archives'
	// sha256 are that commit's, everything else must match this snapshot.
	withoutSHA := func(p index.Plugin) index.Plugin {
		p.Spec.Platforms = slices.Clone(p.Spec.Platforms)
		for i := range p.Spec.Platforms {
			p.Spec.Platforms[i].Sha256 = ""
		}
		return p
	}
	if len(platforms) == len(shipped) {
		samePlugin(t, "plugin.yaml", withoutSHA(current), file, withoutSHA(p))
		return
	}
	// A snapshot of some platforms: plugin.yaml's entries for them.
	var some []index.Platform
	for _, env := range platforms {
		for _, i := range Matching(current.Spec.Platforms, env) {
			some = append(some, current.Spec.Platforms[i])
		}
	}
	current.Spec.Platforms = some
	samePlugin(t, "plugin.yaml ("+fmt.Sprint(platforms)+")", withoutSHA(current), file, withoutSHA(p))
}

func samePlugin(t *testing.T, aName string, a index.Plugin, bName string, b index.Plugin) {
	t.Helper()
	if a.TypeMeta != b.TypeMeta || a.Name != b.Name {
		t.Errorf("%s is %v %s, %s is %v %s", aName, a.TypeMeta, a.Name, bName, b.TypeMeta, b.Name)
	}
	as, bs := a.Spec, b.Spec
	for _, f := range []struct{ field, a, b string }{
		{"version", as.Version, bs.Version},
		{"homepage", as.Homepage, bs.Homepage},
		{"shortDescription", as.ShortDescription, bs.ShortDescription},
		{"description", as.Description, bs.Description},
		{"caveats", as.Caveats, bs.Caveats},
	} {
		if f.a != f.b {
			t.Errorf("spec.%s differs:\n%s: %q\n%s: %q", f.field, aName, f.a, bName, f.b)
		}
	}
	key := func(p index.Platform) string {
		env, _ := AnyMatch(p.Selector)
		return fmt.Sprintf("%s uri=%s sha256=%s bin=%s files=%v", env, p.URI, p.Sha256, p.Bin, p.Files)
	}
	set := func(ps []index.Platform) map[string]bool {
		m := map[string]bool{}
		for _, p := range ps {
			m[key(p)] = true
		}
		return m
	}
	am, bm := set(as.Platforms), set(bs.Platforms)
	for k := range am {
		if !bm[k] {
			t.Errorf("platform only in %s: %s", aName, k)
		}
	}
	for k := range bm {
		if !am[k] {
			t.Errorf("platform only in %s: %s", bName, k)
		}
	}
}

func fileSHA256(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func readChecksums(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) == 2 {
			sums[fields[1]] = fields[0]
		}
	}
	return sums
}

// TestValidatorRejects makes sure the rules above catch what krew refuses.
func TestValidatorRejects(t *testing.T) {
	good := func() index.Plugin {
		p, err := Parse(renderBotTemplate(t, "v1.0.0", func(string) string { return strings.Repeat("ab", 32) }))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := Validate(pluginName, good()); err != nil {
		t.Fatalf("the base manifest is invalid: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(p *index.Plugin)
		want   string
	}{
		{"other apiVersion", func(p *index.Plugin) { p.APIVersion = "krew.googlecontainertools.github.com/v1alpha1" }, "apiVersion"},
		{"name differs from file", func(p *index.Plugin) { p.Name = "safe_rollout" }, "metadata.name"},
		{"version without v", func(p *index.Plugin) { p.Spec.Version = "1.0.0" }, "does not start with v"},
		{"version not semver", func(p *index.Plugin) { p.Spec.Version = "v1.0" }, "spec.version"},
		{"two-line short description", func(p *index.Plugin) { p.Spec.ShortDescription += "\nmore" }, "line break"},
		{"uppercase sha256", func(p *index.Plugin) { p.Spec.Platforms[0].Sha256 = strings.Repeat("AB", 32) }, "sha256"},
		{"short sha256", func(p *index.Plugin) { p.Spec.Platforms[0].Sha256 = "abcd" }, "sha256"},
		{"no bin", func(p *index.Plugin) { p.Spec.Platforms[0].Bin = "" }, "bin"},
		{"no uri", func(p *index.Plugin) { p.Spec.Platforms[0].URI = "" }, "uri"},
		{"empty files", func(p *index.Plugin) { p.Spec.Platforms[0].Files = []index.FileOperation{} }, "files"},
		{"files without to", func(p *index.Plugin) { p.Spec.Platforms[0].Files = []index.FileOperation{{From: "*"}} }, "files"},
		{"selector on another label", func(p *index.Plugin) {
			p.Spec.Platforms[0].Selector.MatchLabels["distro"] = "debian"
		}, "only os and arch"},
		{"no selector", func(p *index.Plugin) { p.Spec.Platforms[0].Selector = nil }, "selector"},
		{"overlapping selectors", func(p *index.Plugin) {
			p.Spec.Platforms[1].Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"os": "linux"}}
		}, "overlapping"},
		{"selects no krew platform", func(p *index.Plugin) {
			p.Spec.Platforms[0].Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"os": "plan9"}}
		}, "matches no platform"},
		{"no platforms", func(p *index.Plugin) { p.Spec.Platforms = nil }, "platforms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good()
			tt.mutate(&p)
			err := Validate(pluginName, p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := Parse([]byte("apiVersion: x\nkind: Plugin\nspec:\n  versoin: v1.0.0\n")); err == nil {
		t.Error("a misspelt field parsed without error")
	}
}
