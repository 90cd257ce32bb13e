package arcache

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func keyableFn[A any](A) (*image.Gray, error) { return image.NewGray(image.Rect(0, 0, 1, 1)), nil }

// keySides keys v on both sides: the hash, as a Provide hit computes it,
// and the readable part, as a miss and Key build it. It also checks that
// the three ways to a key (Key, and argsHash with key) give the same one.
func keySides[A any](t *testing.T, v A, opts ...ProvideOption) (hashErr, readErr error) {
	t.Helper()
	fn := keyableFn[A]
	po := mergeOptions(opts)
	info := infoOf(fn, po.name)
	h, hashErr := argsHash(info, &v, po.exclude)
	_, readErr = info.readable(v, po.exclude)
	k, keyErr := Key(fn, v, opts...)
	if (keyErr == nil) != (hashErr == nil) {
		t.Errorf("Key: %v, argsHash: %v", keyErr, hashErr)
	}
	if hashErr == nil && keyErr == nil {
		if want := info.key(v, po.exclude, h); k != want {
			t.Errorf("Key gave %q, a Provide miss %q", k, want)
		}
	}
	return hashErr, readErr
}

type keyableCase struct {
	name  string
	sides func(t *testing.T) (error, error)
	ok    bool
}

func accepts[A any](name string, v A, opts ...ProvideOption) keyableCase {
	return keyableCase{name, func(t *testing.T) (error, error) { return keySides(t, v, opts...) }, true}
}

func rejects[A any](name string, v A, opts ...ProvideOption) keyableCase {
	return keyableCase{name, func(t *testing.T) (error, error) { return keySides(t, v, opts...) }, false}
}

type (
	keyInner  struct{ N int }
	keyNested struct {
		In  keyInner
		Ptr *keyInner
	}
	keyColors struct {
		C color.Color
		N color.NRGBA
		P *color.RGBA
	}
	keyFuncField  struct{ F func() }
	keyFuncHidden struct{ f func() }
	keyFuncTagged struct {
		F func() `arcache:"-"`
	}
	keyFuncTaggedLow struct {
		f func() `arcache:"-"`
	}
	keyChanField      struct{ C chan int }
	keyUnsafeField    struct{ P unsafe.Pointer }
	keyIfaceField     struct{ V any }
	keyHiddenMap      struct{ m map[string]int }
	keyHiddenAnyMap   struct{ m map[string]any }
	keyHiddenColor    struct{ c keyColorHolder }
	keyColorHolder    struct{ C color.RGBA }
	keyHiddenIfaceCol struct{ v any }
	keyCycle          struct{ Next *keyCycle }
	keyNamedMap       map[string]any
)

// TestKeyableAgree runs argument types of every kind through the hash and
// the readable part of the key: both must accept the same ones, and
// reject the rest with ErrUnkeyable.
func TestKeyableAgree(t *testing.T) {
	cyc := &keyCycle{}
	cyc.Next = cyc
	var nilRGBA *color.RGBA
	cases := []keyableCase{
		accepts("bool", true),
		accepts("int", -1),
		accepts("int8", int8(-8)),
		accepts("int16", int16(16)),
		accepts("int32", int32(32)),
		accepts("int64", int64(64)),
		accepts("uint", uint(1)),
		accepts("uint8", uint8(8)),
		accepts("uint16", uint16(16)),
		accepts("uint32", uint32(32)),
		accepts("uint64", uint64(64)),
		accepts("uintptr", uintptr(7)),
		accepts("float32", float32(1.5)),
		accepts("float64", 2.5),
		accepts("complex64", complex64(1+2i)),
		accepts("complex128", 3-4i),
		accepts("string", "s"),
		accepts("struct", iconArgs{File: "f", Size: 1}),
		accepts("nested struct", keyNested{In: keyInner{1}, Ptr: &keyInner{2}}),
		accepts("pointer", &keyInner{3}),
		accepts("nil pointer", (*keyInner)(nil)),
		accepts("slice", []int{1, 2}),
		accepts("nil slice", []string(nil)),
		accepts("bytes", []byte("raw")),
		accepts("array", [2]string{"a", "b"}),
		accepts("map string keys", map[string]int{"a": 1}),
		accepts("map int keys", map[int]string{1: "a"}),
		accepts("map struct keys", map[image.Point]string{{1, 2}: "a"}),
		accepts("map string string", map[string]string{"a": "b"}),
		accepts("named map", keyNamedMap{"a": 1}),
		accepts("map any", map[string]any{"a": 1, "b": []any{"x", nil}, "c": nil}),
		rejects("map any func", map[string]any{"cb": func() {}}),
		rejects("map any chan in slice", map[string]any{"s": []any{1, make(chan int)}}),
		accepts("map any func excluded", map[string]any{"cb": func() {}, "a": 1}, Exclude("cb")),
		rejects("named map func", keyNamedMap{"cb": func() {}}),
		rejects("map string func", map[string]func(){"cb": func() {}}),
		accepts("empty map string func", map[string]func(){}), // holds no function
		rejects("map chan keys", map[chan int]int{make(chan int): 1}),
		accepts("color", color.RGBA{1, 2, 3, 4}),
		accepts("color interface", color.Color(color.Gray{7})),
		accepts("color fields", keyColors{C: color.White, N: color.NRGBA{1, 2, 3, 4}, P: &color.RGBA{5, 6, 7, 8}}),
		accepts("nil color fields", keyColors{}),
		accepts("nil color pointer", nilRGBA),
		accepts("nil color pointer in any", any(nilRGBA)),
		accepts("point", image.Pt(1, 2)),
		accepts("rectangle", image.Rect(0, 0, 3, 4)),
		accepts("duration", time.Second),
		rejects("func", func() {}),
		rejects("nil func", (func())(nil)),
		rejects("chan", make(chan int)),
		rejects("nil chan", (chan int)(nil)),
		rejects("unsafe pointer", unsafe.Pointer(&cyc)),
		rejects("func field", keyFuncField{F: func() {}}),
		rejects("nil func field", keyFuncField{}),
		rejects("unexported func field", keyFuncHidden{f: func() {}}),
		accepts("tagged func field", keyFuncTagged{F: func() {}}),
		accepts("tagged unexported func field", keyFuncTaggedLow{f: func() {}}),
		rejects("chan field", keyChanField{}),
		rejects("unsafe pointer field", keyUnsafeField{}),
		rejects("func in interface field", keyIfaceField{V: func() {}}),
		accepts("struct in interface field", keyIfaceField{V: keyInner{1}}),
		accepts("unexported map field", keyHiddenMap{m: map[string]int{"a": 1}}),
		accepts("unexported map any field", keyHiddenAnyMap{m: map[string]any{"a": 1, "c": color.White}}),
		rejects("unexported map any func", keyHiddenAnyMap{m: map[string]any{"cb": func() {}}}),
		accepts("unexported struct holding a color", keyHiddenColor{c: keyColorHolder{color.RGBA{1, 2, 3, 4}}}),
		accepts("unexported interface holding a color", keyHiddenIfaceCol{v: color.White}),
		rejects("pointer cycle", cyc),
		accepts("any nil", any(nil)),
		rejects("any func", any(func() {})),
		rejects("slice of any func", []any{1, func() {}}),
		// Exclude reaches the top level of the argument type only: an
		// any holding a map is one level down, for the hash as for the
		// readable part.
		rejects("any map func excluded", any(map[string]any{"cb": func() {}}), Exclude("cb")),
	}
	for _, tc := range cases {
		hashErr, readErr := tc.sides(t)
		switch {
		case (hashErr == nil) != tc.ok:
			t.Errorf("%s: hash: %v, want accepted %v", tc.name, hashErr, tc.ok)
		case (readErr == nil) != (hashErr == nil):
			t.Errorf("%s: readable part: %v, hash: %v", tc.name, readErr, hashErr)
		case !tc.ok && (!errors.Is(hashErr, ErrUnkeyable) || !errors.Is(readErr, ErrUnkeyable)):
			t.Errorf("%s: hash: %v, readable part: %v, want ErrUnkeyable", tc.name, hashErr, readErr)
		}
	}
}

// TestKeyReachesUnexported keys values that differ only in unexported
// fields the encoder once could not read.
func TestKeyReachesUnexported(t *testing.T) {
	pairs := [][2]string{
		{mustKey(t, keyableFn[keyHiddenMap], keyHiddenMap{m: map[string]int{"a": 1}}),
			mustKey(t, keyableFn[keyHiddenMap], keyHiddenMap{m: map[string]int{"a": 2}})},
		{mustKey(t, keyableFn[keyHiddenAnyMap], keyHiddenAnyMap{m: map[string]any{"a": 1}}),
			mustKey(t, keyableFn[keyHiddenAnyMap], keyHiddenAnyMap{m: map[string]any{"a": "1"}})},
		{mustKey(t, keyableFn[keyHiddenColor], keyHiddenColor{c: keyColorHolder{color.RGBA{1, 2, 3, 4}}}),
			mustKey(t, keyableFn[keyHiddenColor], keyHiddenColor{c: keyColorHolder{color.RGBA{1, 2, 3, 5}}})},
		{mustKey(t, keyableFn[*color.RGBA], nil), mustKey(t, keyableFn[*color.RGBA], &color.RGBA{})},
	}
	for _, p := range pairs {
		if p[0] == p[1] {
			t.Errorf("different values share the key %q", p[0])
		}
	}
}

// TestKeyMapKeysThatPrintAlike checks that the readable part does not
// depend on map order when keys of different types print alike.
func TestKeyMapKeysThatPrintAlike(t *testing.T) {
	m := map[any]string{}
	for i := range 8 {
		m[i] = fmt.Sprint("int", i)
		m[fmt.Sprint(i)] = fmt.Sprint("string", i)
		m[float64(i)] = fmt.Sprint("float", i)
	}
	first := mustKey(t, keyableFn[map[any]string], m)
	for range 50 {
		if k := mustKey(t, keyableFn[map[any]string], m); k != first {
			t.Fatalf("one map gave the keys %q and %q", first, k)
		}
	}
	if !strings.HasPrefix(first, "keyablefn-0-") {
		t.Errorf("key %q does not start with the first entry", first)
	}
}

// TestKeyErrors checks that Key names the constructor once, as Provide
// does, with the package name at the front only.
func TestKeyErrors(t *testing.T) {
	if _, err := Key[iconArgs, *image.NRGBA](nil, iconArgs{}); err == nil || err.Error() != "arcache: key: nil constructor" {
		t.Errorf("nil constructor: %v", err)
	}
	_, err := Key(keyableFn[keyFuncField], keyFuncField{F: func() {}})
	if !errors.Is(err, ErrUnkeyable) {
		t.Fatalf("func field: %v, want ErrUnkeyable", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "arcache: key for keyablefn: field F: ") || strings.Count(msg, "arcache:") != 1 {
		t.Errorf("func field: %q", msg)
	}
}
