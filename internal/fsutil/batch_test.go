package fsutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range entries {
		ns = append(ns, e.Name())
	}
	return ns
}

func TestBatch(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "b"), []byte("old b"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := NewBatch(dir, 16)
	for _, n := range []string{"a", "b", "c"} {
		err := b.Add(n, func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "new %s, longer than the buffer", n)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	failed := errors.New("encoder failed")
	if err := b.Add("d", func(w io.Writer) error { io.WriteString(w, "half"); return failed }); !errors.Is(err, failed) {
		t.Fatalf("Add of a failing write = %v; want %v", err, failed)
	}
	if b.Len() != 3 {
		t.Fatalf("Len = %d after three good Adds and a failed one; want 3", b.Len())
	}
	// Nothing is in place before Commit.
	if got, err := os.ReadFile(filepath.Join(dir, "b")); err != nil || string(got) != "old b" {
		t.Fatalf("b before Commit = %q, %v; want the old contents", got, err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		got, err := os.ReadFile(filepath.Join(dir, n))
		if want := "new " + n + ", longer than the buffer"; err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", n, got, err, want)
		}
	}
	if got := names(t, dir); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("directory holds %q; want a, b and c and no temporary files", got)
	}
	if b.Len() != 0 {
		t.Errorf("Len = %d after Commit; want 0", b.Len())
	}
	if err := b.Commit(); err != nil {
		t.Errorf("Commit of an empty batch = %v", err)
	}
}

func TestBatchMissingDir(t *testing.T) {
	b := NewBatch(filepath.Join(t.TempDir(), "gone"), 16)
	err := b.Add("a", func(w io.Writer) error { return nil })
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Add in a missing directory = %v; want ErrNotExist", err)
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteAtomic(path, 4, func(w io.Writer) error { _, err := io.WriteString(w, "first"); return err }); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("writer failed")
	if err := WriteAtomic(path, 4, func(w io.Writer) error { io.WriteString(w, "second"); return failed }); !errors.Is(err, failed) {
		t.Fatalf("WriteAtomic with a failing write = %v; want %v", err, failed)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "first" {
		t.Fatalf("f = %q, %v; want the first contents kept", got, err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"f"}) {
		t.Errorf("directory holds %q; want only f", got)
	}
}
