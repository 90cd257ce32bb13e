package arcache_test

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"log"
	"strings"
	"testing"

	"github.com/arcache-go/arcache"
)

// A tool can list a bin file without loading it into a cache.
func ExampleReadBin() {
	var total int64
	n, err := arcache.ReadBin(bytes.NewReader(prebuilt), func(key string, img image.Image) error {
		total += arcache.PixelBytes(img)
		fmt.Printf("%T %v %d\n", img, img.Bounds(), arcache.PixelBytes(img))
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d records, %d pixel bytes\n", n, total)
	// Output:
	// *image.RGBA (0,0)-(16,16) 1024
	// *image.RGBA (0,0)-(16,16) 1024
	// *image.RGBA (0,0)-(24,24) 2304
	// 3 records, 4352 pixel bytes
}

func ExamplePixelBytes() {
	rect := image.Rect(0, 0, 4, 2)
	fmt.Println(arcache.PixelBytes(image.NewNRGBA(rect)))
	fmt.Println(arcache.PixelBytes(image.NewGray16(rect)))
	fmt.Println(arcache.PixelBytes(image.NewYCbCr(rect, image.YCbCrSubsampleRatio420)))
	// Output:
	// 32
	// 16
	// 12
}

// binOf returns the bin file of a cache holding the images under their
// keys, put in keys' order.
func binOf(t *testing.T, keys []string, imgs map[string]image.Image) []byte {
	t.Helper()
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = t.TempDir()
	cfg.BinFile = arcache.NoBinFile
	c, err := arcache.New(cfg, arcache.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, k := range keys {
		if err := c.Put(k, imgs[k]); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := c.SaveTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// marked is a gray image whose pixels spell a pattern found nowhere else
// in a bin file.
func marked(mark string) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, len(mark), 1))
	copy(img.Pix, mark)
	return img
}

func threeRecords(t *testing.T) []byte {
	keys := []string{"first", "second", "third"}
	return binOf(t, keys, map[string]image.Image{
		"first":  marked("FIRST-PIXELS"),
		"second": marked("SECOND-PIXELS"),
		"third":  image.NewPaletted(image.Rect(1, 2, 4, 6), color.Palette{color.Black, color.White}),
	})
}

func TestReadBinInFileOrder(t *testing.T) {
	data := threeRecords(t)
	var keys []string
	n, err := arcache.ReadBin(bytes.NewReader(data), func(key string, img image.Image) error {
		keys = append(keys, fmt.Sprintf("%s %T %v", key, img, img.Bounds()))
		return nil
	})
	want := []string{"first *image.Gray (0,0)-(12,1)", "second *image.Gray (0,0)-(13,1)", "third *image.Paletted (1,2)-(4,6)"}
	if err != nil || n != 3 || strings.Join(keys, "|") != strings.Join(want, "|") {
		t.Fatalf("ReadBin = %d, %v; records %q, want %q", n, err, keys, want)
	}
	if n, err := arcache.ReadBin(bytes.NewReader(data), nil); n != 3 || err != nil {
		t.Errorf("ReadBin with a nil fn = %d, %v", n, err)
	}
}

func TestReadBinDamage(t *testing.T) {
	good := threeRecords(t)
	flipped := bytes.Clone(good)
	i := bytes.Index(flipped, []byte("SECOND-PIXELS"))
	if i < 0 {
		t.Fatal("the second record's pixels are not in the file")
	}
	flipped[i] ^= 1
	third := bytes.Index(good, []byte("third"))
	cases := []struct {
		name     string
		data     []byte
		n        int
		contains []string
	}{
		{"flipped pixel", flipped, 1, []string{"after 1 records", "record 1: second: checksum mismatch"}},
		{"cut in the third record", good[:third+3], 2, []string{"after 2 records", "record 2"}},
		{"no trailer", good[:len(good)-4], 3, []string{"after 3 records", "record 3"}},
		{"empty", nil, 0, []string{"header"}},
		{"not a bin file", []byte("\x00\x01 hello, world: this is not a gob stream"), 0, []string{"after 0 records"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := 0
			n, err := arcache.ReadBin(bytes.NewReader(tc.data), func(string, image.Image) error { seen++; return nil })
			if !errors.Is(err, arcache.ErrCorrupt) {
				t.Fatalf("ReadBin = %d, %v; want an error matching ErrCorrupt", n, err)
			}
			if n != tc.n || seen != tc.n {
				t.Errorf("ReadBin returned %d and gave fn %d records, want %d", n, seen, tc.n)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestReadBinStopsAtFnError(t *testing.T) {
	stop := errors.New("enough")
	calls := 0
	n, err := arcache.ReadBin(bytes.NewReader(threeRecords(t)), func(key string, _ image.Image) error {
		calls++
		if key == "second" {
			return stop
		}
		return nil
	})
	if err != stop || n != 1 || calls != 2 {
		t.Errorf("ReadBin = %d, %v after %d calls; want 1, the error as it is, after 2 calls", n, err, calls)
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadBinReadError(t *testing.T) {
	good := threeRecords(t)
	broken := errors.New("disk on fire")
	n, err := arcache.ReadBin(&failingReader{good[:len(good)/2], broken}, nil)
	if !errors.Is(err, broken) || errors.Is(err, arcache.ErrCorrupt) {
		t.Errorf("ReadBin = %d, %v; want the read error, not ErrCorrupt", n, err)
	}
	// io.EOF is the end of the data, not an error reading it.
	if _, err := arcache.ReadBin(&failingReader{good[:len(good)/2], io.EOF}, nil); !errors.Is(err, arcache.ErrCorrupt) {
		t.Errorf("ReadBin of a cut stream = %v, want ErrCorrupt", err)
	}
}

// LoadFrom and ReadBin read one format: what ReadBin streams is what
// LoadFrom stores.
func TestReadBinAgreesWithLoadFrom(t *testing.T) {
	data := threeRecords(t)
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = t.TempDir()
	cfg.BinFile = arcache.NoBinFile
	c, err := arcache.New(cfg, arcache.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.LoadFrom(bytes.NewReader(data)); n != 3 || err != nil {
		t.Fatalf("LoadFrom = %d, %v", n, err)
	}
	var keys []string
	if _, err := arcache.ReadBin(bytes.NewReader(data), func(key string, img image.Image) error {
		keys = append(keys, key)
		got, ok := c.Get(key)
		if !ok || arcache.PixelBytes(got) != arcache.PixelBytes(img) || got.Bounds() != img.Bounds() {
			return fmt.Errorf("%s: cache holds %v, ReadBin gave %v", key, got, img)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Keys(), ","); got != strings.Join(keys, ",") {
		t.Errorf("cache keys %s, ReadBin keys %s", got, keys)
	}
}
