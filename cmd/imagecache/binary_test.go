//go:build unix

package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary with")
	}
	bin := filepath.Join(t.TempDir(), "imagecache")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs the built command to its end.
func runBinary(t *testing.T, bin string, args ...string) (stdout string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	if errb.Len() > 0 {
		t.Logf("%q wrote to stderr:\n%s", args, errb.String())
	}
	return out.String(), 0
}

// The built command: serve in front of an origin on loopback, with a
// request in flight when SIGTERM comes; then the other commands on the
// cache it left.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	img, slow, q := pattern("image", 256<<10), pattern("slow", 1<<20), pattern("q", 5000)
	o := newTestOrigin(t, map[string][]byte{"img": img, "slow": slow, "q": q})

	cmd := exec.Command(bin, "serve", "--dir", dir, "--origin", o.URL,
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--prefetch-interval", "0")
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	log := &syncBuffer{}
	go func() {
		io.Copy(log, stderrPipe)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("serve's log:\n%s", log)
		}
	})
	var public, admin string
	for ok := false; !ok; {
		select {
		case err := <-exited:
			t.Fatalf("serve exited: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
		public, admin, ok = servedAddrs(log.String())
	}

	for i, want := range []string{"fwd", "hit"} {
		resp, b := get(t, public+"/img")
		if resp.StatusCode != http.StatusOK || !bytes.Equal(b, img) || cacheStatus(resp.Header.Get("Cache-Status")) != want {
			t.Errorf("GET %d: %s, %d bytes, Cache-Status %q; want 200, %d bytes, %s",
				i+1, resp.Status, len(b), resp.Header.Get("Cache-Status"), len(img), want)
		}
		waitFor(t, "the image to be listed", func() bool {
			_, b := get(t, admin+"/cache")
			return bytes.Contains(b, []byte(`"img"`))
		})
	}
	if m := scrape(t, admin+"/metrics"); m["imagecache_hits_total"] != 1 || m["imagecache_origin_fetches_total"] != 1 {
		t.Errorf("metrics: hits %v, origin fetches %v; want 1 and 1", m["imagecache_hits_total"], m["imagecache_origin_fetches_total"])
	}

	// A slow image: the origin sends half, then holds the rest until
	// serve is shutting down.
	hold, halfSent := make(chan struct{}), make(chan struct{})
	o.mu.Lock()
	o.hold, o.halfSent = hold, halfSent
	o.mu.Unlock()
	type result struct {
		body []byte
		err  error
	}
	slowDone := make(chan result, 1)
	go func() {
		resp, err := http.Get(public + "/slow")
		if err != nil {
			slowDone <- result{nil, err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slowDone <- result{b, err}
	}()
	select {
	case <-halfSent:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the origin")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the public listener to close", func() bool {
		conn, err := net.Dial("tcp", strings.TrimPrefix(public, "http://"))
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	time.AfterFunc(time.Second, func() { close(hold) }) // the origin's delay
	select {
	case r := <-slowDone:
		if r.err != nil || !bytes.Equal(r.body, slow) {
			t.Errorf("the request in flight at SIGTERM got %d bytes, %v; want all %d", len(r.body), r.err, len(slow))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the request in flight never finished")
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not exit after SIGTERM")
	}
	for _, want := range []string{`msg="imagecache: shutting down"`, `msg="imagecache: stopped"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("serve's log has no %s", want)
		}
	}

	o.mu.Lock()
	o.hold, o.halfSent = nil, nil
	o.mu.Unlock()

	// The other commands on what serve left.
	out, code := runBinary(t, bin, "list", "--dir", dir, "--json")
	if code != 0 || !strings.Contains(out, `"image_id": "img"`) || !strings.Contains(out, `"image_id": "slow"`) || !strings.Contains(out, `"hits": 1`) {
		t.Errorf("list --json: status %d\n%s", code, out)
	}
	steps := []struct {
		args []string
		want string
		code int
	}{
		{[]string{"queue", "q", "img"}, "queued q\nimg: already cached\n", 0},
		{[]string{"prefetch", "--origin", o.URL}, "cached 1 image (4.9 KiB), skipped 0, failed 0\n", 0},
		{[]string{"verify"}, "checked 3 images, 0 invalid\n", 0},
		{[]string{"prune", "--max-size", "1.1MiB"}, "removed 1 file, 256 KiB (262144 bytes)\n", 0},
		{[]string{"clean"}, "removed 0 invalid files and 0 stalled files, 0 B\n", 0},
		{[]string{"delete", "q", "nothing"}, "deleted q from the cache\n", 1},
		{[]string{"delete", "--all-cached"}, "deleted 1 cached image\n", 0},
	}
	for _, s := range steps {
		out, code := runBinary(t, bin, append(s.args, "--dir", dir)...)
		if code != s.code || !strings.HasPrefix(out, s.want) {
			t.Errorf("%q: status %d, stdout %q; want %d, %q", s.args, code, out, s.code, s.want)
		}
	}
}
