// imgtool wraps one static binary into a single-layer image tarball (docker-save format, importable
// with `ctr images import`): the binary at /app, entrypoint /app, a world-writable /tmp, no base image.
//
//	imgtool -bin ./drain-app -ref safe-rollout.local/drain-app:dev -out drain-app.tar [-arch amd64]
//
// Layer and config are deterministic (fixed mtimes, no creation date), so the image digest changes
// only when the binary changes.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"io"
	"log"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	bin := flag.String("bin", "", "static binary to put at /app")
	ref := flag.String("ref", "", "image reference, e.g. safe-rollout.local/drain-app:dev")
	out := flag.String("out", "", "output tarball")
	arch := flag.String("arch", "amd64", "image architecture (os is always linux)")
	flag.Parse()
	if *bin == "" || *ref == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	data, err := os.ReadFile(*bin)
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(0, 0)
	must(tw.WriteHeader(&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 01777, ModTime: mt}))
	must(tw.WriteHeader(&tar.Header{Name: "app", Typeflag: tar.TypeReg, Mode: 0755, Size: int64(len(data)), ModTime: mt}))
	_, err = tw.Write(data)
	must(err)
	must(tw.Close())
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	must(err)
	img, err := mutate.AppendLayers(empty.Image, layer)
	must(err)
	cf, err := img.ConfigFile()
	must(err)
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = *arch, "linux"
	cf.Config.Entrypoint = []string{"/app"}
	cf.Config.Env = []string{"PATH=/"}
	img, err = mutate.ConfigFile(img, cf)
	must(err)
	r, err := name.NewTag(*ref)
	must(err)
	tmp := *out + ".tmp"
	must(tarball.WriteToFile(tmp, r, img))
	must(os.Rename(tmp, *out))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
