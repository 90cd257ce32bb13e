package main

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary builds the command and runs it as a user would: the exit
// statuses are the process's own.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	exe := filepath.Join(t.TempDir(), "arcache")
	if out, err := exec.Command(goTool, "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	arcache := func(args ...string) result {
		t.Helper()
		var out, errb bytes.Buffer
		cmd := exec.Command(exe, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return result{out.String(), errb.String(), code}
	}

	_, imgs := sample()
	sound := sampleBin(t)
	cut := damage(t, sound, pixelsOf(imgs["cmyk"]), true)
	if res := arcacheRun(t, "verify", sound); res.code != 0 {
		t.Fatalf("verify in process: %+v", res)
	}
	if res := arcache("verify", sound); res.code != 0 || !strings.HasSuffix(res.stdout, ": sound, 11 records, 1363 pixel bytes (1.3 KiB)\n") {
		t.Errorf("verify of a sound file: %+v", res)
	}
	if res := arcache("verify", cut); res.code != 1 || res.stderr != "arcache: verify "+cut+": corrupt data after 1 records: record 1: unexpected EOF\n" {
		t.Errorf("verify of a cut file: %+v", res)
	}
	if res := arcache("inspect", sound); res.code != 0 || !strings.Contains(res.stdout, "\ngray16    *image.Gray16    (0,0)-(7,5)    70\n") {
		t.Errorf("inspect: %+v", res)
	}
	if res := arcache("inspect", cut); res.code != 1 || !strings.Contains(res.stdout, "\n1 entry, 35 bytes (35 B)\n") {
		t.Errorf("inspect of a cut file: %+v", res)
	}

	// Round trip: export, import the PNGs, and export again.
	dir, file, again := t.TempDir(), filepath.Join(t.TempDir(), "imported.bin"), t.TempDir()
	if res := arcache("export", sound, dir); res.code != 0 || res.stdout != "exported 11 images to "+dir+"\n" || res.stderr != "" {
		t.Fatalf("export: %+v", res)
	}
	if res := arcache("import", dir, file); res.code != 0 || !strings.HasSuffix(res.stdout, "imported 11, refused 0, skipped 0; "+file+" holds 11 entries\n") {
		t.Fatalf("import: %+v", res)
	}
	if res := arcache("export", file, again); res.code != 0 {
		t.Fatalf("export of the import: %+v", res)
	}
	for k, img := range imgs {
		if diff := samePixels(img, decodePNG(t, filepath.Join(again, k+".png"))); diff != "" {
			t.Errorf("%s: %s", k, diff)
		}
	}
	if res := arcache("import", t.TempDir(), cut); res.code != 1 || !strings.HasSuffix(res.stderr, "; nothing written\n") {
		t.Errorf("import into a cut file: %+v", res)
	}
}
