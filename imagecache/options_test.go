package imagecache

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// TestWithLogger: the cache logs to slog.Default() unless told otherwise,
// and WithLogger(nil) discards its log lines. A file without a record,
// adopted by New, makes one.
func TestWithLogger(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want bool // a line in slog.Default()
	}{
		{"default", nil, true},
		{"nil", []Option{WithLogger(nil)}, false},
		{"own", []Option{WithLogger(slog.New(slog.DiscardHandler))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, dataDir), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, dataDir, "unrecorded"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			defer slog.SetDefault(slog.Default())
			slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
			c, err := New(Config{Dir: dir}, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if got := logged.Len() > 0; got != tc.want {
				t.Errorf("slog.Default() got %q; want a line: %v", logged.String(), tc.want)
			}
		})
	}
}
