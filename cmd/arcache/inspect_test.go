package main

import (
	"fmt"
	"image"
	"strings"
	"testing"

	"github.com/arcache-go/arcache"
	"github.com/dustin/go-humanize"
)

func TestInspect(t *testing.T) {
	keys, imgs := sample()
	res := arcacheRun(t, "inspect", sampleBin(t))
	if res.code != 0 || res.stderr != "" {
		t.Fatalf("inspect: %+v", res)
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != len(keys)+2 {
		t.Fatalf("inspect printed %d lines, want a header, %d entries and the totals:\n%s", len(lines), len(keys), res.stdout)
	}
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "KEY TYPE BOUNDS BYTES" {
		t.Errorf("header %q", lines[0])
	}
	// Columns are aligned: each starts at the header's offset.
	cols := []int{strings.Index(lines[0], "TYPE"), strings.Index(lines[0], "BOUNDS"), strings.Index(lines[0], "BYTES")}
	var total int64
	for i, k := range keys {
		img := imgs[k]
		total += fileBytes(img)
		line := lines[i+1]
		want := []string{k, fmt.Sprintf("%T", img), img.Bounds().String(), fmt.Sprint(fileBytes(img))}
		if got := strings.Fields(line); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("line %d is %q, want the fields %q", i+1, line, want)
			continue
		}
		for j, c := range cols {
			if !strings.HasPrefix(line[c:], want[j+1]) {
				t.Errorf("line %q: %s does not start at column %d", line, want[j+1], c)
			}
		}
	}
	wantTotal := fmt.Sprintf("%d entries, %d bytes (%s)", len(keys), total, humanize.IBytes(uint64(total)))
	if lines[len(lines)-1] != wantTotal {
		t.Errorf("totals %q, want %q", lines[len(lines)-1], wantTotal)
	}
	if !strings.Contains(res.stdout, "\noffset    *image.NRGBA     (5,6)-(12,10)  112\n") {
		t.Errorf("the sub-image is not listed with its own bounds and pixels:\n%s", res.stdout)
	}
}

// fileBytes is what PixelBytes counts for img once it has been through a
// bin file, which keeps only the pixels a sub-image shows.
func fileBytes(img image.Image) int64 {
	if m, ok := img.(*image.NRGBA); ok {
		return int64(4 * m.Rect.Dx() * m.Rect.Dy())
	}
	return arcache.PixelBytes(img)
}

func TestInspectDamaged(t *testing.T) {
	_, imgs := sample()
	cut := damage(t, sampleBin(t), pixelsOf(imgs["gray16"]), true)
	res := arcacheRun(t, "inspect", cut)
	if res.code != 1 {
		t.Fatalf("inspect of a cut file: %+v", res)
	}
	// The three records before gray16 are listed, then the totals.
	for _, k := range []string{"alpha", "cmyk", "gray "} {
		if !strings.Contains(res.stdout, "\n"+k) {
			t.Errorf("record %q before the damage is not listed:\n%s", k, res.stdout)
		}
	}
	if strings.Contains(res.stdout, "gray16") || !strings.Contains(res.stdout, "\n3 entries, ") {
		t.Errorf("inspect listed more than the 3 good entries:\n%s", res.stdout)
	}
	if want := "arcache: inspect " + cut + ": corrupt data after 3 records: record 3: "; !strings.HasPrefix(res.stderr, want) {
		t.Errorf("stderr %q, want it to start with %q", res.stderr, want)
	}
}

func TestInspectStdin(t *testing.T) {
	var out, errb strings.Builder
	in := strings.NewReader(readFile(t, sampleBin(t)))
	if code := run([]string{"inspect", "-"}, in, &out, &errb); code != 0 || !strings.Contains(out.String(), "\n11 entries, ") {
		t.Errorf("inspect - = %d, stdout:\n%s\nstderr: %s", code, out.String(), errb.String())
	}
}

func TestVerify(t *testing.T) {
	keys, imgs := sample()
	path := sampleBin(t)
	var total int64
	for _, k := range keys {
		total += fileBytes(imgs[k])
	}
	res := arcacheRun(t, "verify", path)
	want := fmt.Sprintf("%s: sound, 11 records, %d pixel bytes (%s)\n", path, total, humanize.IBytes(uint64(total)))
	if res.code != 0 || res.stdout != want || res.stderr != "" {
		t.Errorf("verify of a sound file: %+v, want stdout %q", res, want)
	}
}

func TestVerifyDamaged(t *testing.T) {
	_, imgs := sample()
	path := sampleBin(t)
	data := readFile(t, path)
	cases := []struct {
		name, file, want string
	}{
		// gray16 is the fourth record, index 3; cmyk the second.
		{"flipped pixel", damage(t, path, pixelsOf(imgs["gray16"]), false),
			"corrupt data after 3 records: record 3: gray16: checksum mismatch"},
		{"cut", damage(t, path, pixelsOf(imgs["cmyk"]), true),
			"corrupt data after 1 records: record 1: unexpected EOF"},
		{"no trailer", writeFile(t, []byte(data[:len(data)-3])),
			"corrupt data after 11 records: record 11: unexpected EOF"},
		{"empty", writeFile(t, nil), "corrupt data after 0 records: header: EOF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := arcacheRun(t, "verify", tc.file)
			want := "arcache: verify " + tc.file + ": " + tc.want + "\n"
			if res.code != 1 || res.stderr != want || res.stdout != "" {
				t.Errorf("verify: %+v, want stderr %q", res, want)
			}
		})
	}
}
