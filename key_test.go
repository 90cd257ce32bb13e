package arcache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

type iconArgs struct {
	File string
	Fill string
	Size int
}

func icon(a iconArgs) (*image.NRGBA, error) {
	return image.NewNRGBA(image.Rect(0, 0, a.Size, a.Size)), nil
}

func anyIcon(a any) (*image.NRGBA, error) { return image.NewNRGBA(image.Rect(0, 0, 1, 1)), nil }

func mapIcon(a map[string]any) (*image.NRGBA, error) {
	return image.NewNRGBA(image.Rect(0, 0, 1, 1)), nil
}

func mustKey[A any, I image.Image](t *testing.T, fn func(A) (I, error), args A, opts ...ProvideOption) string {
	t.Helper()
	k, err := Key(fn, args, opts...)
	if err != nil {
		t.Fatalf("Key(%v): %v", args, err)
	}
	return k
}

var keyPattern = regexp.MustCompile(`^[a-z0-9_-]{1,183}-[0-9a-f]{16}$`)

func TestKeyFormat(t *testing.T) {
	k := mustKey(t, icon, iconArgs{File: "/tmp/Mask.png", Fill: "Green", Size: 100})
	if !keyPattern.MatchString(k) || !ValidKey(k) {
		t.Fatalf("key %q is not slug-safe with a 16-digit hash", k)
	}
	if !strings.HasPrefix(k, "icon-") {
		t.Errorf("key %q does not start with the constructor's short name", k)
	}
	for _, want := range []string{"file-tmpmaskpng", "fill-green", "size-100"} {
		if !strings.Contains(k, want) {
			t.Errorf("key %q does not show %q", k, want)
		}
	}
	if k2 := mustKey(t, icon, iconArgs{File: "/tmp/Mask.png", Fill: "Green", Size: 100}); k2 != k {
		t.Errorf("equal arguments gave %q and %q", k, k2)
	}
}

func TestKeyDistinguishesWhatTheSlugLoses(t *testing.T) {
	long := strings.Repeat("x", 500)
	pairs := [][2]iconArgs{
		{{Fill: "Green"}, {Fill: "green"}},
		{{Fill: "a b"}, {Fill: "a-b"}},
		{{File: "/tmp/ab.png"}, {File: "/tmp/a/b.png"}},
		{{File: long + "1"}, {File: long + "2"}},
		{{Fill: "1.5"}, {Fill: "15"}},
		{{Size: 1}, {Size: -1}},
	}
	for _, p := range pairs {
		if a, b := mustKey(t, icon, p[0]), mustKey(t, icon, p[1]); a == b {
			t.Errorf("%+v and %+v share the key %q", p[0], p[1], a)
		}
	}
	// Values of different types that print alike.
	seen := map[string]any{}
	for _, v := range []any{1, "1", 1.0, true, int64(1), uint(1), float32(1), []int{1}, [1]int{1}, nil, 1.5, 15.0, "1.5", "15"} {
		k := mustKey(t, anyIcon, v)
		if prev, ok := seen[k]; ok {
			t.Errorf("%#v and %#v share the key %q", prev, v, k)
		}
		seen[k] = v
	}
}

func TestKeyLongArgumentsKeepTheHash(t *testing.T) {
	a := iconArgs{File: strings.Repeat("very long path segment ", 40) + "a", Fill: strings.Repeat("f", 300)}
	b := a
	b.File = strings.Repeat("very long path segment ", 40) + "b"
	ka, kb := mustKey(t, icon, a), mustKey(t, icon, b)
	if len(ka) > MaxKeyLen || !keyPattern.MatchString(ka) {
		t.Fatalf("key %q (%d bytes) is not a valid key", ka, len(ka))
	}
	if ka == kb {
		t.Fatalf("long arguments differing at the end share the key %q", ka)
	}
	// Long values are left to the hash rather than spelt out.
	for _, k := range []string{ka, mustKey(t, anyIcon, any(strings.Repeat("word ", 100)))} {
		if len(k) > MaxKeyLen {
			t.Errorf("key has %d bytes", len(k))
		}
	}
}

func TestKeyMapsIgnoreOrder(t *testing.T) {
	a := map[string]any{}
	b := map[string]any{}
	for i := range 50 {
		a[fmt.Sprint("k", i)] = i
		b[fmt.Sprint("k", 49-i)] = 49 - i
	}
	if ka, kb := mustKey(t, mapIcon, a), mustKey(t, mapIcon, b); ka != kb {
		t.Fatalf("equal maps built in other orders: %q != %q", ka, kb)
	}
	b["k0"] = "0"
	if ka, kb := mustKey(t, mapIcon, a), mustKey(t, mapIcon, b); ka == kb {
		t.Fatalf("maps that differ in one value share %q", ka)
	}
	// Other map types, and maps nested in structs.
	type nested struct {
		M map[int]string
		S map[string]string
	}
	fn := func(nested) (*image.Gray, error) { return image.NewGray(image.Rect(0, 0, 1, 1)), nil }
	n1 := nested{M: map[int]string{1: "a", 2: "b", 3: "c"}, S: map[string]string{"x": "1", "y": "2"}}
	n2 := nested{M: map[int]string{3: "c", 2: "b", 1: "a"}, S: map[string]string{"y": "2", "x": "1"}}
	n3 := nested{M: map[int]string{1: "a", 2: "b", 3: "d"}, S: map[string]string{"y": "2", "x": "1"}}
	if mustKey(t, fn, n1) != mustKey(t, fn, n2) {
		t.Error("equal nested maps gave different keys")
	}
	if mustKey(t, fn, n1) == mustKey(t, fn, n3) {
		t.Error("different nested maps share a key")
	}
	if k := mustKey(t, mapIcon, map[string]any{"fill": "green", "size": 3}); !strings.Contains(k, "fill-green-size-3") {
		t.Errorf("map key %q does not show its sorted entries", k)
	}
}

type placed struct {
	Fill      string
	Placement image.Point
	Cache     *int `arcache:"-"`
}

func TestKeyExclusions(t *testing.T) {
	fn := func(placed) (*image.NRGBA, error) { return image.NewNRGBA(image.Rect(0, 0, 1, 1)), nil }
	one, two := 1, 2
	a := placed{Fill: "red", Placement: image.Pt(1, 2), Cache: &one}
	b := placed{Fill: "red", Placement: image.Pt(30, 40), Cache: &two}
	if mustKey(t, fn, a) == mustKey(t, fn, b) {
		t.Fatal("different placements share a key without Exclude")
	}
	ka, kb := mustKey(t, fn, a, Exclude("Placement")), mustKey(t, fn, b, Exclude("Placement"))
	if ka != kb {
		t.Fatalf("Exclude(Placement): %q != %q", ka, kb)
	}
	if strings.Contains(ka, "placement") || strings.Contains(ka, "cache") {
		t.Errorf("key %q shows an excluded field", ka)
	}
	b.Fill = "blue"
	if mustKey(t, fn, a, Exclude("Placement")) == mustKey(t, fn, b, Exclude("Placement")) {
		t.Fatal("Exclude dropped a field it was not given")
	}
	// Map keys, as arcache's exclude did with keyword arguments.
	m1 := map[string]any{"fill": "green", "placement": map[string]int{"x": 25, "y": 50}}
	m2 := map[string]any{"fill": "green", "placement": map[string]int{"x": 1, "y": 2}}
	if mustKey(t, mapIcon, m1, Exclude("placement")) != mustKey(t, mapIcon, m2, Exclude("placement")) {
		t.Fatal("Exclude(placement) on a map argument had no effect")
	}
	if mustKey(t, mapIcon, m1) == mustKey(t, mapIcon, m2) {
		t.Fatal("maps with different placements share a key")
	}
}

func TestKeyUnkeyable(t *testing.T) {
	type withFunc struct{ F func() }
	type withChan struct{ C chan int }
	type deep struct{ S []any }
	type node struct{ Next *node }
	cyc := &node{}
	cyc.Next = cyc
	cases := map[string]func() error{
		"func field": func() error {
			_, err := Key(func(withFunc) (*image.Gray, error) { return nil, nil }, withFunc{F: func() {}})
			return err
		},
		"chan field": func() error {
			_, err := Key(func(withChan) (*image.Gray, error) { return nil, nil }, withChan{})
			return err
		},
		"func in map": func() error { _, err := Key(mapIcon, map[string]any{"cb": func() {}}); return err },
		"chan in slice": func() error {
			_, err := Key(func(deep) (*image.Gray, error) { return nil, nil }, deep{S: []any{1, make(chan int)}})
			return err
		},
		"pointer cycle": func() error {
			_, err := Key(func(*node) (*image.Gray, error) { return nil, nil }, cyc)
			return err
		},
	}
	for name, f := range cases {
		if err := f(); !errors.Is(err, ErrUnkeyable) {
			t.Errorf("%s: err = %v, want ErrUnkeyable", name, err)
		}
	}
	// A func left out of the key is fine.
	type tagged struct {
		Fill string
		F    func() `arcache:"-"`
	}
	if _, err := Key(func(tagged) (*image.Gray, error) { return nil, nil }, tagged{F: func() {}}); err != nil {
		t.Errorf("a tagged func field: %v", err)
	}
}

func TestKeyColorsAndDurations(t *testing.T) {
	type style struct {
		Fill  color.Color
		Shade color.NRGBA
		Fade  time.Duration
	}
	fn := func(style) (*image.Gray, error) { return nil, nil }
	a := style{Fill: color.RGBA{255, 0, 0, 255}, Shade: color.NRGBA{1, 2, 3, 255}, Fade: time.Second}
	b := a
	b.Fill = color.NRGBA{255, 0, 0, 255} // the same colour, another type
	if mustKey(t, fn, a) != mustKey(t, fn, b) {
		t.Error("colours equal by RGBA value gave different keys")
	}
	b.Shade.B = 4
	if mustKey(t, fn, a) == mustKey(t, fn, b) {
		t.Error("different colours share a key")
	}
	b = a
	b.Fade = time.Millisecond
	if mustKey(t, fn, a) == mustKey(t, fn, b) {
		t.Error("different durations share a key")
	}
	if k := mustKey(t, fn, a); !strings.Contains(k, "fill-ff0000ff") || !strings.Contains(k, "fade-1s") {
		t.Errorf("key %q does not show the colour and the duration", k)
	}
}

func TestKeyNames(t *testing.T) {
	k1 := mustKey(t, icon, iconArgs{Size: 1})
	k2 := mustKey(t, icon, iconArgs{Size: 1}, Name("badge"))
	if k1 == k2 || !strings.HasPrefix(k2, "badge-") {
		t.Errorf("Name: %q vs %q", k1, k2)
	}
	// Closures of one literal share a name; Name tells them apart.
	var fns []func(iconArgs) (*image.NRGBA, error)
	for i := range 2 {
		fns = append(fns, func(a iconArgs) (*image.NRGBA, error) { return image.NewNRGBA(image.Rect(0, 0, i+1, 1)), nil })
	}
	if mustKey(t, fns[0], iconArgs{}) != mustKey(t, fns[1], iconArgs{}) {
		t.Error("closures of one literal should share a key without Name")
	}
	if mustKey(t, fns[0], iconArgs{}, Name("a")) == mustKey(t, fns[1], iconArgs{}, Name("b")) {
		t.Error("Name did not separate closures")
	}
	if mustKey(t, icon, iconArgs{}) == mustKey(t, benchIcon, benchArgs{}) {
		t.Error("two constructors share a key")
	}
}

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{
		"example.com/app.icon":          "icon",
		"example.com/app.(*T).Draw-fm":  "T.Draw",
		"main.outer.func1":              "outer.func1",
		"github.com/x/y/v2/pkg.Builder": "Builder",
	} {
		if got := shortName(in); got != want {
			t.Errorf("shortName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestKeyGolden pins the key format: keys name files and bin-file entries,
// so a change here breaks every saved cache and must be deliberate.
func TestKeyGolden(t *testing.T) {
	k := mustKey(t, icon, iconArgs{File: "mask.png", Fill: "green", Size: 16}, Name("golden"))
	if want := "golden-file-maskpng-fill-green-size-16-d5cb2c153e28c15e"; k != want {
		t.Fatalf("key = %q, want %q", k, want)
	}
	if h := hashBytes(0, []byte("arcache")); h != 0x55ea8bc3d193a6e3 {
		t.Errorf("hashBytes changed: %#x", h)
	}
}

const childEnv = "ARCACHE_TEST_KEY_CHILD"

// stableArgs are keyed in two processes; the map's iteration order
// differs between them.
func stableKeys(t *testing.T) []string {
	m := map[string]any{}
	for i := range 20 {
		m[fmt.Sprint("k", i)] = []any{i, fmt.Sprint(i), float64(i) / 3}
	}
	return []string{
		mustKey(t, icon, iconArgs{File: "/tmp/ab.png", Fill: "Green", Size: 7}),
		mustKey(t, mapIcon, m),
		mustKey(t, anyIcon, any(1.5)),
		mustKey(t, icon, iconArgs{Fill: "x"}, Name("named")),
	}
}

func TestKeyStableAcrossProcesses(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		for _, k := range stableKeys(t) {
			fmt.Println("KEY", k)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeyStableAcrossProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var child []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, ok := strings.CutPrefix(sc.Text(), "KEY "); ok {
			child = append(child, k)
		}
	}
	want := stableKeys(t)
	if len(child) != len(want) {
		t.Fatalf("child printed %d keys, want %d:\n%s", len(child), len(want), out)
	}
	for i := range want {
		if child[i] != want[i] {
			t.Errorf("key %d: this process %q, child %q", i, want[i], child[i])
		}
	}
}

func TestValidKeyAndIndex(t *testing.T) {
	for _, k := range []string{"", "../x", "a/b", "a b", "A", "é", ".", "..", strings.Repeat("a", MaxKeyLen+1), "a.png"} {
		if ValidKey(k) {
			t.Errorf("ValidKey(%q) = true", k)
		}
	}
	for _, k := range []string{"a", "icon-green-0123456789abcdef", "_-_", strings.Repeat("z", MaxKeyLen)} {
		if !ValidKey(k) {
			t.Errorf("ValidKey(%q) = false", k)
		}
	}
	if keyIndex("x-00000000000000ff") != 0xff {
		t.Error("keyIndex does not read the hash suffix")
	}
	if keyIndex("x-00000000000000fg") == keyIndex("x-00000000000000ff") {
		t.Error("keyIndex took a bad suffix for a hash")
	}
}
