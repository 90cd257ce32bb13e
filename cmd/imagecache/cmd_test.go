package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arcache-go/arcache/imagecache"
)

// run runs the command line args in this process and returns its
// standard output, standard error and exit status.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(t.Context(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// mustRun runs args and fails the test unless they exit 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := run(t, args...)
	if code != 0 {
		t.Fatalf("%q: exit status %d\nstdout:\n%s\nstderr:\n%s", args, code, out, errs)
	}
	return out
}

// openCache opens dir with the library, closed at the end of the test.
func openCache(t *testing.T, dir string, cfg imagecache.Config) *imagecache.Cache {
	t.Helper()
	cfg.Dir = dir
	c, err := imagecache.New(cfg, imagecache.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sha256Sum(b []byte) imagecache.Checksum {
	d := sha256.Sum256(b)
	return imagecache.Checksum{Algo: "sha256", Hex: hex.EncodeToString(d[:])}
}

// cacheImage caches n bytes of b's pattern as id, with a sha256 checksum.
func cacheImage(t *testing.T, c *imagecache.Cache, id string, n int) []byte {
	t.Helper()
	b := bytes.Repeat([]byte(id+"\n"), n/(len(id)+1)+1)[:n]
	if ok, err := c.CacheReader(id, bytes.NewReader(b), sha256Sum(b)); !ok || err != nil {
		t.Fatalf("CacheReader(%s) = %v, %v", id, ok, err)
	}
	return b
}

// readAll reads id to its end, a hit, and writes the hit at once where
// the commands' own caches see it.
func readAll(t *testing.T, c *imagecache.Cache, id string) {
	t.Helper()
	rc, err := c.OpenForRead(id)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, err := c.HitCount(id); err != nil {
		t.Fatal(err)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"list"}, `imagecache: required flag "dir" not set`},
		{[]string{"list", "--dir", dir, "--driver", "nfs"}, `imagecache: --driver "nfs": want sqlite, xattr or postgres`},
		{[]string{"list", "--dir", dir, "--driver", "postgres", "--node", "http://a"}, "imagecache: --driver postgres needs --dsn (or IMAGECACHE_DSN) and --node"},
		{[]string{"list", "--dir", dir, "--dsn", "host=db"}, "imagecache: --dsn and --node are for --driver postgres"},
		{[]string{"list", "--dir", dir, "extra"}, `imagecache: unknown command "extra" for "imagecache list"`},
		{[]string{"queue", "--dir", dir}, "imagecache: requires at least 1 arg(s), only received 0"},
		{[]string{"prune", "--dir", dir, "--max-size", "lots"}, `imagecache: invalid argument "lots" for "--max-size" flag: "lots" is not a size`},
		{[]string{"clean", "--dir", dir, "--stall", "soon"}, `imagecache: invalid argument "soon" for "--stall" flag`},
		{[]string{"delete", "--dir", dir}, "imagecache: give ids, --all-cached or --all-queued"},
		{[]string{"delete", "--dir", dir, "a", "--all-cached"}, "imagecache: give ids, --all-cached or --all-queued, not several"},
		{[]string{"delete", "--dir", dir, "--all-queued", "--all-cached"}, "imagecache: give ids, --all-cached or --all-queued, not several"},
		{[]string{"delete", "--dir", dir, "a/b"}, `imagecache: delete "a/b": invalid image id`},
	} {
		out, errs, code := run(t, tc.args...)
		if code != 1 {
			t.Errorf("%q: exit status %d, want 1", tc.args, code)
		}
		if !strings.HasPrefix(errs, tc.want) {
			t.Errorf("%q: stderr %q, want it to begin %q", tc.args, errs, tc.want)
		}
		if !strings.Contains(errs, "--help\" for usage.") {
			t.Errorf("%q: stderr %q does not point to the usage", tc.args, errs)
		}
		if out != "" {
			t.Errorf("%q: stdout %q, want nothing", tc.args, out)
		}
	}
	// Help needs no directory.
	if out := mustRun(t, "help", "list"); !strings.Contains(out, "imagecache list [flags]") {
		t.Errorf("help list:\n%s", out)
	}
}

func TestSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1024", 1024}, {"1KiB", 1024}, {"1.5 MiB", 3 << 19}, {"10GiB", 10 << 30},
		{"10GB", 10_000_000_000}, {"2mb", 2_000_000}, {"9223372036854775807", 1<<63 - 1},
	} {
		if got, err := parseSize(tc.in); got != tc.want || err != nil {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "-1", "ten", "5 parsecs", "9223372036854775808"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, imagecache.Config{})
	a := cacheImage(t, c, "alpha", 10000)
	cacheImage(t, c, "beta", 300)
	readAll(t, c, "alpha")
	readAll(t, c, "alpha")
	for _, id := range []string{"q2", "q1"} {
		if ok, err := c.Queue(id); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}

	out := mustRun(t, "list", "--dir", dir)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	want := []string{
		"2 cached images, 10 KiB",
		"ID     SIZE     HITS  LAST ACCESS  CHECKSUM",
		"alpha  9.8 KiB  2     now          sha256:" + sha256Sum(a).Hex[:16] + "…",
		"beta   300 B    0     now          sha256:",
		"",
		"2 queued images, oldest first:",
		"  q2",
		"  q1",
	}
	if len(lines) != len(want) {
		t.Fatalf("list printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("list line %d = %q, want it to begin %q", i+1, lines[i], want[i])
		}
	}

	var l struct {
		Cached []struct {
			ID           string `json:"image_id"`
			Size, Hits   int64
			LastAccessed string `json:"last_accessed"`
			LastModified string `json:"last_modified"`
			Checksum     string
		} `json:"cached_images"`
		Queued []string `json:"queued_images"`
	}
	js := mustRun(t, "list", "--dir", dir, "--json")
	if err := json.Unmarshal([]byte(js), &l); err != nil {
		t.Fatalf("list --json: %v\n%s", err, js)
	}
	rs, err := c.CachedImages()
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Cached) != len(rs) {
		t.Fatalf("list --json has %d images, want %d:\n%s", len(l.Cached), len(rs), js)
	}
	for i, r := range rs {
		got := l.Cached[i]
		if got.ID != r.ID || got.Size != r.Size || got.Hits != r.Hits || got.Checksum != "sha256:"+r.Checksum.Hex {
			t.Errorf("list --json image %d = %+v, want %+v", i, got, r)
		}
		for _, tm := range []struct {
			s    string
			want time.Time
		}{{got.LastAccessed, r.LastAccessed}, {got.LastModified, r.LastModified}} {
			parsed, err := time.Parse(time.RFC3339, tm.s)
			if err != nil || !parsed.Equal(tm.want) {
				t.Errorf("list --json time %q = %v, %v; want RFC 3339 of %v", tm.s, parsed, err, tm.want)
			}
		}
	}
	if !slices.Equal(l.Queued, []string{"q2", "q1"}) {
		t.Errorf("list --json queue = %q, want [q2 q1]", l.Queued)
	}
}

func TestListEmpty(t *testing.T) {
	dir := t.TempDir()
	if out := mustRun(t, "list", "--dir", dir); out != "0 cached images, 0 B\n\n0 queued images\n" {
		t.Errorf("list of an empty cache:\n%s", out)
	}
	if out := mustRun(t, "list", "--dir", dir, "--json"); strings.Join(strings.Fields(out), "") != `{"cached_images":[],"queued_images":[]}` {
		t.Errorf("list --json of an empty cache:\n%s", out)
	}
}

func TestQueue(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, imagecache.Config{})
	cacheImage(t, c, "cached", 10)
	if _, err := c.Queue("old"); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "queue", "--dir", dir, "new1", "cached", "old", "new2")
	if want := "queued new1\ncached: already cached\nold: already queued\nqueued new2\n"; out != want {
		t.Errorf("queue printed:\n%s\nwant:\n%s", out, want)
	}
	if q, err := c.QueuedImages(); !slices.Equal(q, []string{"old", "new1", "new2"}) || err != nil {
		t.Errorf("queue after the command = %q, %v", q, err)
	}

	out, errs, code := run(t, "queue", "--dir", dir, "new3", "../etc")
	if code != 1 || !strings.HasPrefix(errs, `imagecache: queue "../etc": invalid image id`) || out != "" {
		t.Errorf("queue of an invalid id: status %d, stdout %q, stderr %q", code, out, errs)
	}
	if c.IsQueued("new3") {
		t.Error("queue with an invalid id queued the others")
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, imagecache.Config{})
	for _, id := range []string{"a", "b", "c", "d"} {
		cacheImage(t, c, id, 1000)
	}
	readAll(t, c, "a") // now the most recently accessed
	out := mustRun(t, "prune", "--dir", dir, "--max-size", "2KiB")
	if want := "removed 2 files, 2.0 KiB (2000 bytes)\n"; out != want {
		t.Errorf("prune printed %q, want %q", out, want)
	}
	for id, want := range map[string]bool{"a": true, "b": false, "c": false, "d": true} {
		if c.IsCached(id) != want {
			t.Errorf("after prune, IsCached(%s) = %v, want %v", id, !want, want)
		}
	}
	// The default budget is Glance's 10 GiB.
	if out := mustRun(t, "prune", "--dir", dir); out != "removed 0 files, 0 B\n" {
		t.Errorf("prune with the default size printed %q", out)
	}
	if out := mustRun(t, "prune", "--dir", dir, "--max-size", "0"); out != "removed 2 files, 2.0 KiB (2000 bytes)\n" {
		t.Errorf("prune to 0 printed %q", out)
	}
}

func TestClean(t *testing.T) {
	dir := t.TempDir()
	openCache(t, dir, imagecache.Config{}) // makes the layout
	for name, size := range map[string]int{"invalid/x": 100, "invalid/y": 200, "incomplete/z": 4000} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-3 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "incomplete/z"), old, old); err != nil {
		t.Fatal(err)
	}
	// Three hours is not stalled by the default day.
	if out := mustRun(t, "clean", "--dir", dir); out != "removed 2 invalid files and 0 stalled files, 300 B\n" {
		t.Errorf("clean printed %q", out)
	}
	if out := mustRun(t, "clean", "--dir", dir, "--stall", "2h"); out != "removed 0 invalid files and 1 stalled file, 3.9 KiB (4000 bytes)\n" {
		t.Errorf("clean --stall 2h printed %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "incomplete/z")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stalled file is still there: %v", err)
	}
}

func TestDelete(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, imagecache.Config{})
	for _, id := range []string{"a", "b", "c", "d"} {
		cacheImage(t, c, id, 10)
	}
	for _, id := range []string{"q1", "q2", "q3"} {
		if _, err := c.Queue(id); err != nil {
			t.Fatal(err)
		}
	}
	out := mustRun(t, "delete", "--dir", dir, "a", "q1")
	if want := "deleted a from the cache\ndeleted q1 from the queue\n"; out != want {
		t.Errorf("delete printed %q, want %q", out, want)
	}
	if c.IsCached("a") || c.IsQueued("q1") {
		t.Error("delete left what it said it deleted")
	}

	out, errs, code := run(t, "delete", "--dir", dir, "nothing", "b")
	if code != 1 || out != "deleted b from the cache\n" || !strings.HasPrefix(errs, `imagecache: delete: neither cached nor queued: ["nothing"]`) {
		t.Errorf("delete of a missing id: status %d, stdout %q, stderr %q", code, out, errs)
	}

	if out := mustRun(t, "delete", "--dir", dir, "--all-queued"); out != "deleted 2 queued images\n" {
		t.Errorf("delete --all-queued printed %q", out)
	}
	if out := mustRun(t, "delete", "--dir", dir, "--all-cached"); out != "deleted 2 cached images\n" {
		t.Errorf("delete --all-cached printed %q", out)
	}
	if rs, err := c.CachedImages(); len(rs) != 0 || err != nil {
		t.Errorf("after delete --all-cached: %v, %v", rs, err)
	}
	if q, err := c.QueuedImages(); len(q) != 0 || err != nil {
		t.Errorf("after delete --all-queued: %v, %v", q, err)
	}
}

func TestVerify(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, imagecache.Config{})
	cacheImage(t, c, "good", 1000)
	cacheImage(t, c, "bad", 1000)
	if out := mustRun(t, "verify", "--dir", dir); out != "checked 2 images, 0 invalid\n" {
		t.Errorf("verify of a sound cache printed %q", out)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "bad"), []byte("rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := run(t, "verify", "--dir", dir)
	if code != 1 || out != "invalid bad\nchecked 2 images, 1 invalid\n" {
		t.Errorf("verify of a damaged cache: status %d, stdout %q, stderr %q", code, out, errs)
	}
	if !strings.Contains(errs, "imagecache: verify: 1 of 2 images failed checksum verification; moved to invalid/\n") {
		t.Errorf("verify's stderr %q does not say what failed", errs)
	}
	if c.IsCached("bad") || !c.IsCached("good") {
		t.Error("verify kept the damaged image or removed the sound one")
	}
	if _, err := os.Stat(filepath.Join(dir, "invalid", "bad")); err != nil {
		t.Errorf("the damaged image is not in invalid/: %v", err)
	}
}

// Every command works with the xattr driver too, where the file system
// has user extended attributes.
func TestXattrDriver(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir, imagecache.Config{Driver: imagecache.DriverXattr})
	if c.Driver() != imagecache.DriverXattr {
		t.Skip("no user extended attributes here")
	}
	cacheImage(t, c, "x", 100)
	readAll(t, c, "x")
	js := mustRun(t, "list", "--dir", dir, "--driver", "xattr", "--json")
	if !strings.Contains(js, `"image_id": "x"`) || !strings.Contains(js, `"hits": 1`) {
		t.Errorf("list --driver xattr --json:\n%s", js)
	}
	if out := mustRun(t, "verify", "--dir", dir, "--driver", "xattr"); out != "checked 1 image, 0 invalid\n" {
		t.Errorf("verify --driver xattr printed %q", out)
	}
}
