package cli

// Reading the manifests of -f with several resource builders at once. Parsing
// YAML is most of preflight's time, and a builder parses one document after the
// other: the manifests are cut into parts (runs of whole documents of a file,
// or small files together), parts are read and decoded concurrently, and the
// objects are handed over in manifest order. What comes out is what one builder
// over all of -f gives: the same objects, sources and first error.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/safe-rollout/kubectl-safe-rollout/verify"
)

const (
	// manifestPartBytes is about how much YAML one builder reads: enough that a
	// builder costs little, little enough that the parts in flight are a few MiB.
	manifestPartBytes = 256 << 10
	// manifestBatch is how many decoded objects go from a builder's goroutine to
	// the reading one at once: one hand-over each costs more than the work on a
	// busy CPU. Two batches of a part may wait for their turn.
	manifestBatch = 16
	// maxManifestReaders caps the builders reading at once: the parts in flight,
	// and the memory they take, grow with them.
	maxManifestReaders = 4
	// jsonSniffBytes is how much of a stream the builder's decoder looks at to
	// tell JSON from YAML (resource.StreamVisitor).
	jsonSniffBytes = 4096
)

// manifestPart is what one resource builder reads: runs of whole documents of
// files, or an -f argument the builder must read itself (a URL, a pattern, a
// JSON file, a file with a byte order mark); or the error that reading a file
// ended with.
type manifestPart struct {
	runs     []documentRun
	filename string
	err      error
}

// documentRun is whole documents of a file or of stdin, named by source: data,
// or, when not cut into runs (JSON, a byte order mark), the rest of stdin.
type documentRun struct {
	source string
	data   []byte
	rest   io.Reader
}

// stdinSource is what the builder names stdin (resource.FileVisitorForSTDIN).
const stdinSource = "STDIN"

// decodedManifest is one object of the manifests, or why reading them stopped
// (visitErr).
type decodedManifest struct {
	manifest verify.Manifest
	source   string
	// err is why the object could not be decoded.
	err      error
	visitErr error
}

// visitManifests reads the manifests of opts, several parts of about partBytes
// at once, and hands fn each object decoded, in manifest order; namespace is the
// one of objects without. It stops at the first error of a builder, which it
// returns, or of fn.
func visitManifests(opts resource.FilenameOptions, scope readScope, partBytes int, fn func(decodedManifest) error) error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)

	type job struct {
		part manifestPart
		out  chan<- []decodedManifest
	}
	workers := min(runtime.GOMAXPROCS(0), maxManifestReaders)
	jobs := make(chan job, workers)
	// order holds each part's objects in manifest order; its capacity bounds the
	// parts in flight.
	order := make(chan chan []decodedManifest, 2*workers)

	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(jobs)
		defer close(order)
		_ = splitManifests(opts, partBytes, func(p manifestPart) error {
			out := make(chan []decodedManifest, 2)
			select {
			case order <- out:
			case <-done:
				return errStopped
			}
			select {
			case jobs <- job{p, out}:
				return nil
			case <-done:
				return errStopped
			}
		})
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				readPart(j.part, opts.Recursive, scope, j.out, done)
				close(j.out)
			}
		}()
	}

	for batches := range order {
		for batch := range batches {
			for _, obj := range batch {
				if obj.visitErr != nil {
					return obj.visitErr
				}
				if err := fn(obj); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// errStopped ends the reading of parts no one waits for any more.
var errStopped = errors.New("stopped")

// readPart reads one part with a resource builder and sends its objects to out,
// decoded, in batches, then the builder's error if any; it gives up when done
// closes.
func readPart(p manifestPart, recursive bool, scope readScope, out chan<- []decodedManifest, done <-chan struct{}) {
	var batch []decodedManifest
	send := func() bool {
		if len(batch) == 0 {
			return true
		}
		select {
		case out <- batch:
			batch = nil
			return true
		case <-done:
			return false
		}
	}
	if p.err != nil {
		batch = append(batch, decodedManifest{visitErr: p.err})
		send()
		return
	}
	b := resource.NewLocalBuilder().Unstructured()
	if p.filename != "" {
		b = b.FilenameParam(false, &resource.FilenameOptions{Filenames: []string{p.filename}, Recursive: recursive})
	}
	for _, run := range p.runs {
		var r io.Reader = bytes.NewReader(run.data)
		if run.rest != nil {
			r = run.rest
		}
		// As resource.FileVisitor reads a file: byte order mark honoured, bytes
		// that are not UTF-8 replaced.
		b = b.Stream(transform.NewReader(r, unicode.BOMOverride(unicode.UTF8.NewDecoder())), run.source)
	}
	// After an error the builder visits the part's other runs; their objects
	// come after the error, which ends the reading.
	failed := false
	err := b.Flatten().Do().Visit(func(info *resource.Info, err error) error {
		switch {
		case err != nil:
			failed = true
			return err
		case failed:
			return nil
		}
		obj, keep := decodeInfo(info, scope)
		if !keep {
			return nil
		}
		if batch = append(batch, obj); len(batch) == manifestBatch && !send() {
			return errStopped
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopped) {
		batch = append(batch, decodedManifest{visitErr: helmTemplateError(err, p.runs)})
	}
	send()
}

// parseErrorSource finds the file in the builder's parse errors ("error parsing
// FILE: ...", as resource.StreamVisitor words them).
var parseErrorSource = regexp.MustCompile(`error parsing (\S+): `)

// helmTemplateError says so when the manifest that failed to parse holds Go
// template actions: a Helm chart's templates/ become manifests only once
// rendered, and YAML's own error ("did not find expected key") does not say it.
func helmTemplateError(err error, runs []documentRun) error {
	m := parseErrorSource.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	source := m[1]
	var data []byte
	for _, run := range runs {
		if run.source == source && run.rest == nil {
			data = append(data, run.data...)
		}
	}
	if data == nil && source != stdinSource {
		// A file the builder read itself: read its start again, on this error path only.
		f, ferr := os.Open(source)
		if ferr != nil {
			return err
		}
		defer f.Close()
		data, _ = io.ReadAll(io.LimitReader(f, 1<<20))
	}
	if !bytes.Contains(data, []byte("{{")) || !bytes.Contains(data, []byte("}}")) {
		return err
	}
	return fmt.Errorf("%s looks like a Helm template ({{ ... }} actions): render it with `helm template` first, then pass the output with -f", source)
}

// readScope is what the objects of the manifests are read with: the
// namespace of objects without one, whether -n was given (then an object of
// another namespace is refused, as kubectl refuses it), and -l.
type readScope struct {
	namespace        string
	enforceNamespace bool
	// selector, when set, keeps only the workloads whose labels match. The
	// Services, PDBs, HPAs and Ingresses stay: they are what the workloads are
	// checked against, and dropping an unlabelled PDB would report it missing.
	selector labels.Selector
}

// decodeInfo decodes the object a builder read; keep is false for a workload
// -l leaves out.
func decodeInfo(info *resource.Info, scope readScope) (obj decodedManifest, keep bool) {
	obj = decodedManifest{source: info.Source}
	u, ok := info.Object.(*unstructured.Unstructured)
	if !ok {
		obj.err = fmt.Errorf("%s: unexpected object type %T", info.Source, info.Object)
		return obj, true
	}
	if scope.selector != nil && isWorkloadObject(u.GroupVersionKind().Group, u.GetKind()) && !scope.selector.Matches(labels.Set(u.GetLabels())) {
		return obj, false
	}
	switch ns := u.GetNamespace(); {
	case ns == "":
		u.SetNamespace(scope.namespace)
	case scope.enforceNamespace && ns != scope.namespace:
		obj.err = namespaceMismatch(ns, scope.namespace)
		return obj, true
	}
	if obj.manifest, obj.err = verify.DecodeManifest(u, info.Source); obj.err != nil {
		obj.err = fmt.Errorf("%s: %w", info.Source, obj.err)
	}
	return obj, true
}

// splitManifests cuts the manifests of opts into parts of about partBytes, in
// manifest order, and hands each to emit; it stops when emit fails. The -f
// arguments were checked by a builder: they exist.
func splitManifests(opts resource.FilenameOptions, partBytes int, emit func(manifestPart) error) error {
	s := &manifestSplitter{emit: emit, partBytes: partBytes}
	for _, arg := range opts.Filenames {
		for _, f := range expandFilename(arg, opts.Recursive) {
			var err error
			switch {
			case f.name == "-":
				err = s.stdin()
			case f.file:
				err = s.file(f.name)
			default:
				err = s.whole(f.name)
			}
			if err != nil {
				return err
			}
		}
	}
	return s.flush()
}

// expandedFilename is a file of an -f argument, stdin (-), or (file false) an
// argument the builder reads itself.
type expandedFilename struct {
	name string
	file bool
}

// expandFilename returns the files of an -f argument in the builder's order (a
// directory's with resource.ExpandPathsToFileVisitors, as the builder walks it);
// stdin, a URL or a pattern is returned as it is.
func expandFilename(arg string, recursive bool) []expandedFilename {
	if arg == "-" || strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://") {
		return []expandedFilename{{name: arg}}
	}
	fi, err := os.Stat(arg)
	switch {
	case err != nil:
		return []expandedFilename{{name: arg}}
	case !fi.IsDir():
		return []expandedFilename{{name: arg, file: true}}
	}
	visitors, err := resource.ExpandPathsToFileVisitors(nil, arg, recursive, resource.FileExtensions, nil)
	if err != nil {
		return []expandedFilename{{name: arg}} // the builder says what is wrong
	}
	files := make([]expandedFilename, 0, len(visitors))
	for _, v := range visitors {
		fv, ok := v.(*resource.FileVisitor)
		if !ok {
			return []expandedFilename{{name: arg}}
		}
		files = append(files, expandedFilename{name: fv.Path, file: true})
	}
	return files
}

// manifestSplitter gathers runs of documents into parts.
type manifestSplitter struct {
	emit      func(manifestPart) error
	partBytes int
	pending   manifestPart
	size      int
}

// whole makes arg a part of its own, read by the builder.
func (s *manifestSplitter) whole(arg string) error {
	if err := s.flush(); err != nil {
		return err
	}
	return s.emit(manifestPart{filename: arg})
}

func (s *manifestSplitter) add(run documentRun) error {
	if len(run.data) == 0 {
		return nil
	}
	s.pending.runs = append(s.pending.runs, run)
	if s.size += len(run.data); s.size >= s.partBytes {
		return s.flush()
	}
	return nil
}

func (s *manifestSplitter) flush() error {
	if len(s.pending.runs) == 0 {
		return nil
	}
	p := s.pending
	s.pending, s.size = manifestPart{}, 0
	return s.emit(p)
}

// file cuts a file into runs of whole documents. A file the builder would read
// as JSON, or whose byte order mark it would honour, is read by the builder
// whole.
func (s *manifestSplitter) file(path string) error {
	f, err := os.Open(path)
	if err != nil {
		// The builder's error: resource.FileVisitor returns it as it is.
		return s.fail(err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	if !splittableAt(r) {
		return s.whole(path)
	}
	return s.documents(r, path)
}

// stdin cuts stdin into runs of whole documents, or hands the rest of it to one
// builder (JSON, a byte order mark).
func (s *manifestSplitter) stdin() error {
	r := bufio.NewReaderSize(os.Stdin, 64<<10)
	if splittableAt(r) {
		return s.documents(r, stdinSource)
	}
	if err := s.flush(); err != nil {
		return err
	}
	return s.emit(manifestPart{runs: []documentRun{{source: stdinSource, rest: r}}})
}

// documents cuts YAML into runs of whole documents at separator lines. A run
// never starts where the builder would take the rest for JSON, or at a byte
// order mark.
func (s *manifestSplitter) documents(r *bufio.Reader, source string) error {
	var run bytes.Buffer
	for {
		line, err := r.ReadSlice('\n')
		run.Write(line)
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue // the rest of a long line comes next
		case errors.Is(err, io.EOF):
			return s.add(documentRun{source: source, data: run.Bytes()})
		case err != nil:
			return s.fail(fmt.Errorf("error parsing %s: %w", source, err))
		}
		if run.Len() >= s.partBytes && isDocumentSeparator(line) && splittableAt(r) {
			if err := s.add(documentRun{source: source, data: bytes.Clone(run.Bytes())}); err != nil {
				return err
			}
			run.Reset()
		}
	}
}

// fail ends the manifests read so far with err.
func (s *manifestSplitter) fail(err error) error {
	if ferr := s.flush(); ferr != nil {
		return ferr
	}
	return s.emit(manifestPart{err: err})
}

// isDocumentSeparator tells whether line is a YAML document separator with
// nothing after it, as utilyaml.YAMLReader splits documents.
func isDocumentSeparator(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("---"))
	return ok && len(bytes.TrimSpace(rest)) == 0
}

// splittableAt tells whether a builder reading from r's position on would read
// YAML as one reading the whole file does: no JSON stream, no byte order mark.
func splittableAt(r *bufio.Reader) bool {
	head, _ := r.Peek(jsonSniffBytes)
	return !utilyaml.IsJSONBuffer(head) && !hasByteOrderMark(head)
}

func hasByteOrderMark(b []byte) bool {
	return bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}) || bytes.HasPrefix(b, []byte{0xfe, 0xff}) || bytes.HasPrefix(b, []byte{0xff, 0xfe})
}
