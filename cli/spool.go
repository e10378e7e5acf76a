package cli

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// spoolMemory is how much a spool holds in memory before it moves to a file:
// small inputs never touch the disk, and the report of a large one stays out of
// the heap.
const spoolMemory = 1 << 20

// spool holds what preflight must keep until the end but need not keep in
// memory (the Deployments of the manifests and the JSON of the objects around
// them, the rendered report): bytes written once, then read back from the
// start, as often as needed, or at a position. Past its memory limit it writes
// to a temporary file; where none can be created (a read-only file system), it
// stays in memory, as everything did before it.
type spool struct {
	limit int
	mem   []byte
	file  *os.File
	// path is the file's name while it must still be removed (on systems that do
	// not remove an open file).
	path string
	w    *bufio.Writer
}

func newSpool(limit int) *spool {
	return &spool{limit: limit}
}

func (s *spool) Write(p []byte) (int, error) {
	if s.w == nil && len(s.mem)+len(p) > s.limit {
		s.spill()
	}
	if s.w != nil {
		return s.w.Write(p)
	}
	if need := len(s.mem) + len(p); need > cap(s.mem) {
		// Grown as append would, but never past the limit.
		grown := make([]byte, len(s.mem), min(max(2*cap(s.mem), need), max(s.limit, need)))
		copy(grown, s.mem)
		s.mem = grown
	}
	s.mem = append(s.mem, p...)
	return len(p), nil
}

// spill sends what comes next to a temporary file, removed at once where the
// system allows it, so that a killed run leaves nothing behind.
func (s *spool) spill() {
	f, err := os.CreateTemp("", "kubectl-safe-rollout-*")
	if err != nil {
		s.limit = math.MaxInt // no file: memory it is
		return
	}
	s.file, s.w = f, bufio.NewWriterSize(f, 64<<10)
	if os.Remove(f.Name()) != nil {
		s.path = f.Name()
	}
}

// Reader returns the spool's contents from the start; writing after reading is
// not supported, and an earlier reader is done with.
func (s *spool) Reader() (io.Reader, error) {
	if s.w == nil {
		return bytes.NewReader(s.mem), nil
	}
	if err := s.Flush(); err != nil {
		return nil, err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("reading temporary file: %w", err)
	}
	return io.MultiReader(bytes.NewReader(s.mem), bufio.NewReaderSize(s.file, 64<<10)), nil
}

// Flush writes out what the spool buffers: ReadAt reads only what is flushed.
func (s *spool) Flush() error {
	if s.w == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("writing temporary file: %w", err)
	}
	return nil
}

// ReadAt reads what was written and flushed; it is safe for concurrent use
// once the writing is done.
func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < int64(len(s.mem)) {
		n = copy(p, s.mem[off:])
	}
	if n == len(p) {
		return n, nil
	}
	if s.file == nil {
		return n, io.EOF
	}
	// The file holds what came after the memory.
	m, err := s.file.ReadAt(p[n:], off+int64(n)-int64(len(s.mem)))
	return n + m, err
}

// Close removes the spool's file.
func (s *spool) Close() error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	if s.path != "" {
		err = errors.Join(err, os.Remove(s.path))
	}
	s.file, s.w, s.mem = nil, nil, nil
	return err
}

// writeRecord writes fields as one record: their count, then each one's length
// and bytes.
func writeRecord(w io.Writer, fields ...[]byte) error {
	buf := binary.AppendUvarint(nil, uint64(len(fields)))
	for _, f := range fields {
		buf = binary.AppendUvarint(buf, uint64(len(f)))
		buf = append(buf, f...)
	}
	_, err := w.Write(buf)
	return err
}

// recordReader reads back what writeRecord wrote.
type recordReader struct {
	r *bufio.Reader
}

func newRecordReader(r io.Reader) *recordReader {
	return &recordReader{r: bufio.NewReader(r)}
}

// next returns the next record's fields; io.EOF after the last one.
func (rr *recordReader) next() ([][]byte, error) {
	n, err := binary.ReadUvarint(rr.r)
	if err != nil {
		return nil, err // io.EOF between records is the end
	}
	fields := make([][]byte, n)
	for i := range fields {
		size, err := binary.ReadUvarint(rr.r)
		if err != nil {
			return nil, fmt.Errorf("reading record: %w", noEOF(err))
		}
		fields[i] = make([]byte, size)
		if _, err := io.ReadFull(rr.r, fields[i]); err != nil {
			return nil, fmt.Errorf("reading record: %w", noEOF(err))
		}
	}
	return fields, nil
}

// noEOF turns an end of file inside a record into the error it is.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
