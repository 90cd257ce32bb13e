package arcache

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

type (
	myInt    int
	myString string
	myFloat  float32
	myBool   bool
	myUint8  uint8
)

// gray8 is a colour of a basic kind: appendStruct keys it by its RGBA
// value when the field is exported.
type gray8 uint8

func (g gray8) RGBA() (r, gg, b, a uint32) {
	y := uint32(g) * 0x101
	return y, y, y, 0xffff
}

type flatKinds struct {
	B    bool
	I    int
	I8   int8
	I16  int16
	I32  int32
	I64  int64
	U    uint
	U8   uint8
	U16  uint16
	U32  uint32
	U64  uint64
	UP   uintptr
	F32  float32
	F64  float64
	C64  complex64
	C128 complex128
	S    string
}

type flatMixed struct {
	a int8
	S string
	b bool
	c float32
	D complex64
	e uintptr
	f string
}

type flatTagged struct {
	A int
	X []int `arcache:"-"`
	_ int
	F func() `arcache:"-"`
	B string
	_ string
	M map[string]int `arcache:"-"`
}

type flatNamed struct {
	N myInt
	S myString
	F myFloat
	B myBool
	U myUint8
	D time.Duration
	M time.Month
	W time.Weekday
}

// flatPadded has padding between its fields, which offsets must skip.
type flatPadded struct {
	A int8
	B int64
	C int8
	D int16
	E string
	F bool
	G complex128
	H int8
}

type flatEmpty struct{}

type flatOne struct{ S string }

type (
	notFlatPtr         struct{ A, P *int }
	notFlatSlice       struct{ S []string }
	notFlatBytes       struct{ B []byte }
	notFlatMap         struct{ M map[string]int }
	notFlatAny         struct{ I any }
	notFlatColor       struct{ C color.RGBA }
	notFlatColorBasic  struct{ G gray8 }
	notFlatHiddenColor struct{ g gray8 }
	notFlatNested      struct{ P image.Point }
	notFlatArray       struct{ A [2]int }
	notFlatEmbedded    struct{ GoldBase }
	notFlatLast        struct {
		A int
		S string
		T time.Time
	}
)

// Values that encodings get wrong: sign and width edges, NaNs with
// payloads, signed zeros, infinities, denormals.
var (
	specialInts   = []int64{0, 1, -1, math.MinInt64, math.MaxInt64, -128, 127, -32768, math.MinInt32, math.MaxInt32}
	specialUints  = []uint64{0, 1, math.MaxUint64, 1 << 63, 0x80, 0xff, 0xffff, math.MaxUint32}
	specialFloat  = []uint64{0, 1 << 63, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000001, 0x7ff0000000000001, 0xfff8000000000000, 1, 0x7fefffffffffffff}
	specialFloat3 = []uint32{0, 1 << 31, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffc00001, 1, 0x7f7fffff}
	specialString = []string{"", "a", "日本語", "héllo wörld", "\x00", "\xff\xfe", strings.Repeat("x", 127), strings.Repeat("y", 128),
		strings.Repeat("long/", 60)} // longer than flatStack
)

// randomize sets every field of the struct v, exported or not, to a
// random or special value of its kind.
func randomize(r *rand.Rand, v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		randomScalar(r, f.Kind(), unsafe.Pointer(f.UnsafeAddr()))
	}
}

func randomScalar(r *rand.Rand, k reflect.Kind, x unsafe.Pointer) {
	special := r.IntN(2) == 0
	pick := func(n int) int { return r.IntN(n) }
	i64 := func() int64 {
		if special {
			return specialInts[pick(len(specialInts))]
		}
		return int64(r.Uint64())
	}
	u64 := func() uint64 {
		if special {
			return specialUints[pick(len(specialUints))]
		}
		return r.Uint64()
	}
	f64 := func() float64 {
		if special {
			return math.Float64frombits(specialFloat[pick(len(specialFloat))])
		}
		return r.NormFloat64() * 1e6
	}
	f32 := func() float32 {
		if special {
			return math.Float32frombits(specialFloat3[pick(len(specialFloat3))])
		}
		return float32(r.NormFloat64())
	}
	switch k {
	case reflect.Bool:
		*(*bool)(x) = r.IntN(2) == 1
	case reflect.Int:
		*(*int)(x) = int(i64())
	case reflect.Int8:
		*(*int8)(x) = int8(i64())
	case reflect.Int16:
		*(*int16)(x) = int16(i64())
	case reflect.Int32:
		*(*int32)(x) = int32(i64())
	case reflect.Int64:
		*(*int64)(x) = i64()
	case reflect.Uint:
		*(*uint)(x) = uint(u64())
	case reflect.Uint8:
		*(*uint8)(x) = uint8(u64())
	case reflect.Uint16:
		*(*uint16)(x) = uint16(u64())
	case reflect.Uint32:
		*(*uint32)(x) = uint32(u64())
	case reflect.Uint64:
		*(*uint64)(x) = u64()
	case reflect.Uintptr:
		*(*uintptr)(x) = uintptr(u64())
	case reflect.Float32:
		*(*float32)(x) = f32()
	case reflect.Float64:
		*(*float64)(x) = f64()
	case reflect.Complex64:
		*(*[2]float32)(x) = [2]float32{f32(), f32()}
	case reflect.Complex128:
		*(*[2]float64)(x) = [2]float64{f64(), f64()}
	case reflect.String:
		if special {
			*(*string)(x) = specialString[pick(len(specialString))]
		} else {
			b := make([]byte, r.IntN(40))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			*(*string)(x) = string(b)
		}
	}
}

// checkFlat asserts that T takes the flat path and agrees with the
// reflect path for n random values. fn is goldFn[T] made by the caller:
// made here, it would be one closure for all the types of one shape, and
// so one identity.
func checkFlat[T any](t *testing.T, r *rand.Rand, n int, fn func(T) (*image.Gray, error)) {
	t.Helper()
	var pooled int
	for range n {
		var v T
		randomize(r, reflect.ValueOf(&v).Elem())
		if flatAgrees(t, fn, &v) {
			pooled++
		}
	}
	if hasString(reflect.TypeFor[T]()) && pooled == 0 {
		t.Errorf("%v: no value was longer than the stack buffer", reflect.TypeFor[T]())
	}
}

// flatAgrees asserts that *v, an argument of fn, takes the flat path and
// that it writes the bytes the reflect path writes, and the whole hit path
// the hash that Key, which never takes it, puts in the key. It reports
// whether *v was too long for the stack buffer.
func flatAgrees[T any](t *testing.T, fn func(T) (*image.Gray, error), v *T) (pooled bool) {
	t.Helper()
	info := infoOf(fn, "")
	p := flatFor[T](info, nil, nil)
	if p == nil {
		t.Fatalf("%v does not take the flat path", reflect.TypeFor[T]())
	}
	fast := p.appendFlat(nil, unsafe.Pointer(v))
	slow, err := (&encoder{}).appendStruct(nil, reflect.ValueOf(v).Elem(), info.plan, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fast, slow) {
		t.Fatalf("%#v:\nflat    % x\nreflect % x", *v, fast, slow)
	}
	b := p.bound(unsafe.Pointer(v))
	if b < len(fast) {
		t.Fatalf("%#v: bound %d < %d bytes", *v, b, len(fast))
	}
	h, err := argsHash(info, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := hashBytes(info.seed, slow); h != want {
		t.Fatalf("%#v: hash %016x, want %016x", *v, h, want)
	}
	key, err := Key(fn, *v)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("-%016x", h); !strings.HasSuffix(key, want) {
		t.Fatalf("%#v: key %q does not end in %s", *v, key, want)
	}
	return b > flatStack
}

func hasString(t reflect.Type) bool {
	for i := range t.NumField() {
		if f := t.Field(i); f.Type.Kind() == reflect.String && f.Name != "_" {
			return true
		}
	}
	return false
}

// TestFlatMatchesReflect checks the flat path byte for byte against the
// reflect path, which the keys in TestKeyGoldenValues pin.
func TestFlatMatchesReflect(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 2000
	checkFlat(t, r, n, goldFn[flatKinds])
	checkFlat(t, r, n, goldFn[flatMixed])
	checkFlat(t, r, n, goldFn[flatTagged])
	checkFlat(t, r, n, goldFn[flatNamed])
	checkFlat(t, r, n, goldFn[flatPadded])
	checkFlat(t, r, n, goldFn[flatOne])
	checkFlat(t, r, 1, goldFn[flatEmpty])
	checkFlat(t, r, n, goldFn[benchArgs])
	checkFlat(t, r, n, goldFn[iconArgs])
	flatAgrees(t, goldFn[flatMixed], &flatMixed{a: -1, S: "s", b: true, c: float32(math.Copysign(0, -1)), D: 1i, e: 2, f: "日本"})
}

type fuzzFlat struct {
	S   string
	I   int64
	I8  int8
	U   uint64
	F   float64
	F32 float32
	C   complex64
	B   bool
	T   string
}

// FuzzFlat checks the flat path against the reflect path for arbitrary
// values, float bit patterns included.
func FuzzFlat(f *testing.F) {
	f.Add("mask.png", int64(-1), uint64(math.MaxUint64), math.Float64bits(math.NaN()), uint32(0x7f800001), true, "")
	f.Add(strings.Repeat("é", 200), int64(math.MinInt64), uint64(0), uint64(1<<63), uint32(1<<31), false, "\x00")
	f.Fuzz(func(t *testing.T, s string, i int64, u, fb uint64, f32 uint32, b bool, s2 string) {
		v := fuzzFlat{S: s, I: i, I8: int8(i >> 3), U: u, F: math.Float64frombits(fb), F32: math.Float32frombits(f32),
			C: complex(math.Float32frombits(f32^uint32(u)), float32(math.Float64frombits(fb))), B: b, T: s2}
		flatAgrees(t, goldFn[fuzzFlat], &v)
	})
}

// TestFlatDuration checks that a time.Duration is hashed as the int64 it
// is, on both paths; only the words show it as a duration.
func TestFlatDuration(t *testing.T) {
	type d struct{ D time.Duration }
	type i struct{ D int64 }
	info := infoOf(goldFn[d], "")
	v := d{90 * time.Second}
	fast := flatFor[d](info, nil, nil).appendFlat(nil, unsafe.Pointer(&v))
	slow, _ := (&encoder{}).appendStruct(nil, reflect.ValueOf(i{int64(v.D)}), planOf(reflect.TypeFor[i]()), 0)
	if !bytes.Equal(fast, slow) {
		t.Errorf("Duration % x, int64 % x", fast, slow)
	}
	if key, _ := Key(goldFn[d], v); !strings.Contains(key, "-d-1m30s-") {
		t.Errorf("key %q does not show the duration", key)
	}
}

// checkNotFlat asserts that T takes the reflect path, and that it gives
// the hash Key puts in the key; fn is as for checkFlat.
func checkNotFlat[T any](t *testing.T, v T, fn func(T) (*image.Gray, error)) {
	t.Helper()
	info := infoOf(fn, "")
	if info.plan.flat != nil || flatFor[T](info, nil, nil) != nil {
		t.Errorf("%T takes the flat path", v)
	}
	h, err := argsHash(info, &v, nil)
	if err != nil {
		t.Fatalf("%T: %v", v, err)
	}
	key, _ := Key(fn, v)
	if want := fmt.Sprintf("-%016x", h); !strings.HasSuffix(key, want) {
		t.Errorf("%T: key %q does not end in %s", v, key, want)
	}
}

func TestNotFlat(t *testing.T) {
	one := 1
	checkNotFlat(t, notFlatPtr{&one, nil}, goldFn[notFlatPtr])
	checkNotFlat(t, notFlatSlice{[]string{"a"}}, goldFn[notFlatSlice])
	checkNotFlat(t, notFlatBytes{[]byte("b")}, goldFn[notFlatBytes])
	checkNotFlat(t, notFlatMap{map[string]int{"a": 1}}, goldFn[notFlatMap])
	checkNotFlat(t, notFlatAny{3}, goldFn[notFlatAny])
	checkNotFlat(t, notFlatColor{color.RGBA{1, 2, 3, 4}}, goldFn[notFlatColor])
	checkNotFlat(t, notFlatColorBasic{7}, goldFn[notFlatColorBasic])
	checkNotFlat(t, notFlatHiddenColor{7}, goldFn[notFlatHiddenColor])
	checkNotFlat(t, notFlatNested{image.Pt(1, 2)}, goldFn[notFlatNested])
	checkNotFlat(t, notFlatArray{[2]int{1, 2}}, goldFn[notFlatArray])
	checkNotFlat(t, notFlatEmbedded{GoldBase{"base"}}, goldFn[notFlatEmbedded])
	checkNotFlat(t, notFlatLast{1, "s", time.Unix(1, 0).UTC()}, goldFn[notFlatLast])
}

// TestFlatPathTaken checks that a Provide hit on a flat struct takes the
// flat path, which would otherwise regress to reflect unnoticed, and
// allocates nothing on it; and that what the flat path cannot honour
// takes the reflect path.
func TestFlatPathTaken(t *testing.T) {
	info := infoOf(benchIcon, "")
	if p := flatFor[benchArgs](info, nil, nil); p == nil || p != info.plan.flat {
		t.Fatal("benchArgs does not take the flat path")
	}
	if flatFor[benchArgs](infoOf(benchIcon, "named"), nil, nil) == nil {
		t.Error("benchArgs with Name does not take the flat path")
	}
	if flatFor[benchArgs](info, []string{"Fill"}, nil) != nil {
		t.Error("an Exclude takes the flat path")
	}
	if flatFor[benchArgs](info, nil, info.newWords(nil)) != nil {
		t.Error("the readable part takes the flat path")
	}
	// readable gives the arguments as an any: no fixed layout.
	if flatFor[any](info, nil, nil) != nil {
		t.Error("an any holding benchArgs takes the flat path")
	}
	args := benchArgs{File: "mask.png", Fill: "green", Size: 16}
	if n := testing.AllocsPerRun(100, func() { _, _ = argsHash(info, &args, nil) }); n != 0 {
		t.Errorf("argsHash allocates %v times", n)
	}
}

// BenchmarkArgsHash compares the flat path with the reflect path, which
// an Exclude that names no field takes with the same bytes.
func BenchmarkArgsHash(b *testing.B) {
	info := infoOf(benchIcon, "")
	args := benchArgs{File: "mask.png", Fill: "green", Size: 16}
	for _, bc := range []struct {
		name    string
		exclude []string
	}{{"flat", nil}, {"reflect", []string{"none"}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := argsHash(info, &args, bc.exclude); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
