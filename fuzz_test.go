package arcache

import (
	"bytes"
	"encoding/gob"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"
)

// FuzzLoad feeds the bin-file reader arbitrary bytes: it must never panic,
// and whatever it accepts must survive a save and a second read unchanged.
// The seed corpus in testdata/fuzz/FuzzLoad holds a valid file of several
// image types and damaged variants of it.
func FuzzLoad(f *testing.F) {
	f.Add(validBin(f, 3))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readBin(bytes.NewReader(data))
		if err != nil && len(recs) > 0 && recs[len(recs)-1].img == nil {
			t.Fatal("a nil image was kept")
		}
		for _, r := range recs {
			if !ValidKey(r.key) {
				t.Fatalf("accepted the invalid key %q", r.key)
			}
			b := r.img.Bounds()
			if !b.Empty() {
				// Every pixel of an accepted image can be read.
				_ = r.img.At(b.Min.X, b.Min.Y)
				_ = r.img.At(b.Max.X-1, b.Max.Y-1)
			}
		}
		// What was accepted writes and reads back the same.
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		enc.Encode(binHeader{binMagic, binVersion})
		for _, r := range recs {
			enc.Encode(binEntry{Record: newRecord(r.key, r.img)})
		}
		enc.Encode(binEntry{Trailer: &binTrailer{Count: len(recs)}})
		again, err := readBin(&buf)
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-read %d of %d records: %v", len(again), len(recs), err)
		}
		for i := range recs {
			if again[i].key != recs[i].key || !samePixels(again[i].img, recs[i].img) {
				t.Fatalf("record %d changed in a round trip", i)
			}
		}
	})
}

// FuzzSlugify checks that ASCII slugs are slug-safe, trimmed, and fixed
// points of Slugify, whatever the input.
func FuzzSlugify(f *testing.F) {
	for _, tc := range slugCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, unicode := range []bool{false, true} {
			out := Slugify(s, unicode)
			if out == "" {
				continue
			}
			if !unicode && strings.Trim(out, "abcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
				t.Fatalf("Slugify(%q) = %q: not slug-safe", s, out)
			}
			if strings.Trim(out, "-_") != out || strings.Contains(out, "--") {
				t.Fatalf("Slugify(%q, %v) = %q: untrimmed or doubled dash", s, unicode, out)
			}
			if again := Slugify(out, unicode); again != out {
				t.Fatalf("Slugify(%q, %v) = %q, but Slugify of that is %q", s, unicode, out, again)
			}
		}
	})
}

type fuzzArgs struct {
	Name  string
	N     int64
	F     float64
	Data  []byte
	Fill  color.Color
	Extra map[string]any
}

func fuzzIcon(fuzzArgs) (*image.Gray, error) { return image.NewGray(image.Rect(0, 0, 1, 1)), nil }

// FuzzKey checks that every key is slug-safe, at most MaxKeyLen bytes,
// ends in the 16-digit hash, and is the same when made again.
func FuzzKey(f *testing.F) {
	f.Add("Green", int64(1), 1.5, []byte("x"), "placement")
	f.Add(strings.Repeat("é/..", 100), int64(-1), math.Inf(1), []byte{}, "")
	f.Add("", int64(0), math.NaN(), []byte(nil), "\x00")
	f.Fuzz(func(t *testing.T, s string, n int64, fl float64, data []byte, mk string) {
		args := fuzzArgs{Name: s, N: n, F: fl, Data: data, Fill: color.NRGBA{uint8(n), 2, 3, 4}, Extra: map[string]any{mk: s, "n": n}}
		k1, err := Key(fuzzIcon, args)
		if err != nil {
			t.Fatal(err)
		}
		k2, _ := Key(fuzzIcon, args, Name(s+"x"))
		for _, k := range []string{k1, k2} {
			if !keyPattern.MatchString(k) || !ValidKey(k) {
				t.Fatalf("key %q is not valid", k)
			}
		}
		if again, _ := Key(fuzzIcon, args); again != k1 {
			t.Fatalf("keys differ for the same arguments: %q, %q", k1, again)
		}
		args.N++
		if other, _ := Key(fuzzIcon, args); other == k1 {
			t.Fatalf("N and N+1 share the key %q", k1)
		}
	})
}
