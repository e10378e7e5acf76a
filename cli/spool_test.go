package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpool(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		// noTemp: the temporary directory does not exist.
		noTemp   bool
		wantFile bool
	}{
		{name: "in memory", limit: 1 << 20},
		{name: "past the limit, in a file", limit: 10, wantFile: true},
		{name: "past the limit without a temporary directory, in memory", limit: 10, noTemp: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			if tc.noTemp {
				tmp = filepath.Join(tmp, "missing")
			}
			t.Setenv("TMPDIR", tmp)
			s := newSpool(tc.limit)
			var want bytes.Buffer
			for _, chunk := range []string{"abc", "defgh", "", "ijklmnopqrstuvwxyz", strings.Repeat("0123456789", 50)} {
				if _, err := s.Write([]byte(chunk)); err != nil {
					t.Fatal(err)
				}
				want.WriteString(chunk)
			}
			if got := s.file != nil; got != tc.wantFile {
				t.Errorf("in a file: %v, want %v", got, tc.wantFile)
			}
			if tc.wantFile {
				// Removed at once: nothing is left behind if preflight is killed.
				if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
					t.Errorf("temporary directory holds %v", entries)
				}
			}
			for range 2 { // read as often as needed
				r, err := s.Reader()
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, want.Bytes()) {
					t.Errorf("read %q, %v; want %q", got, err, want.Bytes())
				}
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			for _, at := range []struct{ off, n int }{{0, 3}, {2, 10}, {8, 20}, {100, 50}, {want.Len() - 5, 5}} {
				b := make([]byte, at.n)
				if _, err := s.ReadAt(b, int64(at.off)); err != nil {
					t.Fatalf("ReadAt(%d, %d): %v", at.off, at.n, err)
				}
				if w := want.Bytes()[at.off : at.off+at.n]; !bytes.Equal(b, w) {
					t.Errorf("ReadAt(%d, %d) = %q, want %q", at.off, at.n, b, w)
				}
			}
			if _, err := s.ReadAt(make([]byte, 10), int64(want.Len()-5)); !errors.Is(err, io.EOF) {
				t.Errorf("ReadAt past the end: %v, want EOF", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRecords(t *testing.T) {
	records := [][][]byte{
		{[]byte(`{"kind":"Deployment"}`)},
		{[]byte(`{}`), []byte("spec.foo"), []byte("spec.bar")},
		{},
		{[]byte(""), []byte(strings.Repeat("x", 1000))},
	}
	var buf bytes.Buffer
	for _, r := range records {
		if err := writeRecord(&buf, r...); err != nil {
			t.Fatal(err)
		}
	}
	full := buf.Bytes()
	rr := newRecordReader(bytes.NewReader(full))
	for i, want := range records {
		got, err := rr.next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if len(got) != len(want) {
			t.Fatalf("record %d: %d fields, want %d", i, len(got), len(want))
		}
		for j := range want {
			if !bytes.Equal(got[j], want[j]) {
				t.Errorf("record %d field %d = %q, want %q", i, j, got[j], want[j])
			}
		}
	}
	if _, err := rr.next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last record: %v, want EOF", err)
	}
	// A record cut short is an error, not the end.
	rr = newRecordReader(bytes.NewReader(full[:len(full)-10]))
	var err error
	for err == nil {
		_, err = rr.next()
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a record cut short: %v, want an unexpected EOF", err)
	}
}
