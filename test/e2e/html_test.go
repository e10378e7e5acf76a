//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, which scripts/browser.sh (make browser) installs.
const chromiumPath = "/usr/bin/chromium"

// layout is what the browser rendered of the report's picture.
type layout struct {
	Plot box `json:"plot"`
	Rows []struct {
		Pod   string `json:"pod"`
		Exit  string `json:"exit"`
		Label string `json:"label"`
		Bars  []struct {
			Phase string `json:"phase"`
			box
		} `json:"bars"`
	} `json:"rows"`
}

type box struct {
	Left   float64 `json:"left"`
	Right  float64 `json:"right"`
	Top    float64 `json:"top"`
	Bottom float64 `json:"bottom"`
}

const readLayout = `(() => {
  const box = e => { const r = e.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  return {
    plot: box(document.querySelector('svg.timeline .plot-area')),
    rows: [...document.querySelectorAll('svg.timeline g.pod-row')].map(r => ({
      pod: r.dataset.pod, exit: r.dataset.exit, label: r.querySelector('.exit-label').textContent,
      bars: [...r.querySelectorAll('rect.bar')].map(b => Object.assign({phase: b.dataset.phase}, box(b))),
    })),
  };
})()`

// The HTML report of a SIGKILL rollout, rendered by headless Chromium: one
// row per old pod, its bars inside the time axis and in time order, the exit
// class shown, and a screenshot that is not blank (.lab/html-report.png).
func TestHTMLReportInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s: %v (make browser installs it)", chromiumPath, err)
	}
	l := newLab(t)
	ns := l.namespace(t)
	l.deploy(t, ns, app{name: "stubborn", replicas: 3, grace: 5, args: []string{"--mode=ignore-sigterm"}})
	ip := l.clusterIP(t, ns, "stubborn")
	l.waitAnswering(t, "http://"+ip+"/")

	page := filepath.Join(t.TempDir(), "report.html")
	r := l.run(t, "-n", ns, "restart", "deploy/stubborn", "--skip-preflight", "--on-breach=none", "--probe", "http://"+ip+"/",
		"--html", page, "-o", "json", "--progress=plain", "--timeout=3m")
	var rep struct {
		Outcome string `json:"outcome"`
		Pods    []struct {
			Name string `json:"name"`
			Exit string `json:"exit"`
		} `json:"pods"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, r.stdout)
	}
	if r.code != 3 || len(rep.Pods) != 3 {
		t.Fatalf("exit %d, outcome %s, %d old pods: want 3 (the SIGKILLs breach) and 3 pods", r.code, rep.Outcome, len(rep.Pods))
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatalf("--html wrote no page: %v", err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.WindowSize(1200, 800))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	defer cancelBrowser()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+page), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[layout](readLayout))
	if err != nil {
		t.Fatalf("reading the layout: %v", err)
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveArtifact(t, "html-report.png", shot)
	saveArtifact(t, "html-report.html", html)

	if len(got.Rows) != len(rep.Pods) {
		t.Fatalf("%d pod rows rendered, want one per old pod (%d)", len(got.Rows), len(rep.Pods))
	}
	const slack = 0.5 // px: rounding of the SVG's scale
	sigkills := 0
	for i, row := range got.Rows {
		if row.Pod != rep.Pods[i].Name {
			t.Errorf("row %d is %s, want %s (the report's order)", i, row.Pod, rep.Pods[i].Name)
		}
		if len(row.Bars) == 0 {
			t.Errorf("%s: no bars", row.Pod)
		}
		for j, b := range row.Bars {
			if b.Left < got.Plot.Left-slack || b.Right > got.Plot.Right+slack || b.Top < got.Plot.Top-slack || b.Bottom > got.Plot.Bottom+slack || b.Right <= b.Left {
				t.Errorf("%s: %s bar %+v outside the time axis %+v", row.Pod, b.Phase, b.box, got.Plot)
			}
			if j > 0 && b.Left < row.Bars[j-1].Right-slack {
				t.Errorf("%s: %s bar starts at %.1f before the %s bar ends at %.1f", row.Pod, b.Phase, b.Left, row.Bars[j-1].Phase, row.Bars[j-1].Right)
			}
		}
		if row.Exit == "sigkill" && strings.HasPrefix(row.Label, "sigkill") {
			sigkills++
		}
	}
	if sigkills != len(rep.Pods) {
		t.Errorf("%d rows show the exit class sigkill, want every pod's (%d): %+v", sigkills, len(rep.Pods), got.Rows)
	}

	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	colours, inked := screenshotInk(img)
	t.Logf("screenshot %v: %d colours, %.1f %% not white", img.Bounds().Size(), colours, inked*100)
	if colours < 8 || inked < 0.03 {
		t.Errorf("screenshot looks blank: %d colours, %.1f %% not white", colours, inked*100)
	}
}

// screenshotInk counts an image's distinct colours and its share of pixels that are not white.
func screenshotInk(img image.Image) (colours int, inked float64) {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
			if r>>8 < 245 || g>>8 < 245 || bl>>8 < 245 {
				n++
			}
		}
	}
	return len(seen), float64(n) / float64(b.Dx()*b.Dy())
}

// saveArtifact keeps a file under .lab/ for people to look at.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("../..", ".lab", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Logf("not saved: %v", err)
		return
	}
	t.Logf("saved %s", path)
}
