package arcache

import (
	"fmt"
	"image"
	"image/color"
	"strings"
	"testing"
	"time"
)

type goldStyle struct {
	Fill  color.Color
	Shade color.NRGBA
	Fade  time.Duration
	Where image.Point
	Box   image.Rectangle
}

type goldInner struct {
	Name  string
	Scale float64
}

type goldOuter struct {
	Title  string
	Inner  goldInner
	Ptr    *goldInner
	Nil    *goldInner
	List   []goldInner
	Tags   map[string]string
	hidden int
	Skip   string `arcache:"-"`
}

type goldKinds struct {
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
	Bs   []byte
	Arr  [3]int
	BArr [2]byte
}

type GoldBase struct{ Base string }

type goldEmbed struct {
	GoldBase
	Extra string
}

type goldHidden struct {
	Shown string
	tint  color.RGBA
	note  string
}

func goldFn[A any](A) (*image.Gray, error) { return image.NewGray(image.Rect(0, 0, 1, 1)), nil }

// nestedMaps is a map[string]any n levels deep: the readable part of a
// key stops at a depth the hash does not, and that must not move.
func nestedMaps(n int) map[string]any {
	m := map[string]any{"leaf": "end"}
	for i := range n {
		m = map[string]any{fmt.Sprint("l", i): m, "v": i}
	}
	return m
}

// TestKeyGoldenValues pins the keys of many kinds of argument, captured
// from the key encoder before it was rewritten: keys name files and
// bin-file entries, so every one of them must come out byte for byte the
// same.
func TestKeyGoldenValues(t *testing.T) {
	wide := map[string]any{}
	for i := range 30 {
		wide[fmt.Sprintf("key%02d", i)] = i * 7
	}
	// Raw text over the readable part's limit that slugifies to almost
	// nothing: where that limit falls shows in the key.
	punct := map[string]any{}
	for i := range 40 {
		punct[fmt.Sprintf("p%02d", i)] = "!!!!!!!!!!!!"
	}
	one := goldInner{Name: "one", Scale: 0.5}
	cases := []struct {
		name string
		key  func() (string, error)
		want string
	}{
		{"struct", func() (string, error) {
			return Key(icon, iconArgs{File: "/tmp/Mask.png", Fill: "Green", Size: 100})
		}, "icon-file-tmpmaskpng-fill-green-size-100-c20b242a8cb74060"},
		{"name", func() (string, error) {
			return Key(icon, iconArgs{File: "mask.png", Size: 16}, Name("golden-name"))
		}, "golden-name-file-maskpng-fill-size-16-f8552800d2277a44"},
		{"exclude field", func() (string, error) {
			return Key(icon, iconArgs{File: "mask.png", Fill: "red", Size: 16}, Exclude("Fill"))
		}, "icon-file-maskpng-size-16-390b5330c7a02304"},
		{"map any", func() (string, error) {
			return Key(mapIcon, map[string]any{"fill": "green", "size": 3, "ratio": 1.5, "on": true, "nil": nil, "list": []any{1, "a"}})
		}, "mapicon-fill-green-list-1-a-nil-on-true-ratio-15-size-3-2ba8e1cd421afab7"},
		{"map any exclude", func() (string, error) {
			return Key(mapIcon, map[string]any{"fill": "green", "size": 3}, Exclude("size"))
		}, "mapicon-fill-green-a0d6d2b40816db76"},
		{"any map string", func() (string, error) { return Key(anyIcon, any(map[string]string{"b": "2", "a": "1"})) }, "anyicon-a-1-b-2-8706f4664ee794c7"},
		{"any map int", func() (string, error) { return Key(anyIcon, any(map[int]string{3: "c", 1: "a"})) }, "anyicon-1-a-3-c-bb3312503a6fdd9f"},
		{"any map exclude", func() (string, error) {
			return Key(anyIcon, any(map[string]any{"a": 1, "b": 2}), Exclude("a"))
		}, "anyicon-b-2-315176538e45f576"},
		{"style", func() (string, error) {
			return Key(goldFn[goldStyle], goldStyle{
				Fill: color.RGBA{255, 0, 0, 255}, Shade: color.NRGBA{1, 2, 3, 128}, Fade: 1500 * time.Millisecond,
				Where: image.Pt(3, -4), Box: image.Rect(0, 0, 64, 32),
			})
		}, "goldfn-fill-ff0000ff-shade-00010180-fade-15s-where-x-3-y-4-box-min-x-0-y-0-max-x-64-y-32-a5e3ada29cb08bc8"},
		{"color", func() (string, error) { return Key(anyIcon, any(color.RGBA{1, 2, 3, 4})) }, "anyicon-01020304-34a42fb09ad2ca94"},
		{"duration", func() (string, error) { return Key(anyIcon, any(90*time.Second)) }, "anyicon-1m30s-1906a9f26319ab43"},
		{"nested", func() (string, error) {
			return Key(goldFn[goldOuter], goldOuter{
				Title: "Outer", Inner: goldInner{"in", 2}, Ptr: &one, List: []goldInner{one, {"two", 3}},
				Tags: map[string]string{"z": "last", "a": "first"}, hidden: 7, Skip: "skipped",
			})
		}, "goldfn-title-outer-inner-name-in-scale-2-ptr-name-one-scale-05-nil-list-name-one-scale-05-name-two-scale-3-tags-a-first-z-last-2e12f6b6781f9708"},
		{"pointer", func() (string, error) { return Key(goldFn[*goldInner], &one) }, "goldfn-name-one-scale-05-b509e837c1f6f653"},
		{"nil pointer", func() (string, error) { return Key(goldFn[*goldInner], nil) }, "goldfn-16a14fe600ed840a"},
		{"kinds", func() (string, error) {
			return Key(goldFn[goldKinds], goldKinds{
				B: true, I: -1, I8: -8, I16: 16, I32: 32, I64: -64, U: 1, U8: 8, U16: 16, U32: 32, U64: 64, UP: 99,
				F32: 1.1, F64: 2.25, C64: 1 + 2i, C128: 3 - 4i, S: "str", Bs: []byte("bytes"), Arr: [3]int{1, 2, 3}, BArr: [2]byte{9, 8},
			})
		}, "goldfn-b-true-i-1-i8-8-i16-16-i32-32-i64-64-u-1-u8-8-u16-16-u32-32-u64-64-up-99-f32-1100000023841858-f64-225-c64-c128-s-str-bs-arr-1-2-3-barr-336338e9899428ec"},
		{"unicode", func() (string, error) { return Key(icon, iconArgs{File: "héllo wörld 日本語.png", Fill: "Grün"}) }, "icon-file-hello-world-png-fill-grun-size-0-f0aaf258f6c90897"},
		{"name unicode", func() (string, error) { return Key(icon, iconArgs{Size: 1}, Name("Bädge Ünicode")) }, "badge-unicode-file-fill-size-1-83c675b2a9a617b5"},
		{"wide", func() (string, error) { return Key(mapIcon, wide) }, "mapicon-key00-0-key01-7-key02-14-key03-21-key04-28-key05-35-key06-42-key07-49-key08-56-key09-63-key10-70-key11-77-key12-84-key13-91-key14-98-key15-105-key16-112-key17-119-key18-126-368d72a04ed398bb"},
		{"long value", func() (string, error) {
			return Key(icon, iconArgs{File: strings.Repeat("long/path/", 10) + "x.png", Fill: "blue", Size: 2})
		}, "icon-file-fill-blue-size-2-dfd0bda1f9ba6fb3"},
		{"long words", func() (string, error) {
			return Key(icon, iconArgs{File: strings.Repeat("word ", 6), Fill: strings.Repeat("fill ", 6), Size: 3}, Name(strings.Repeat("very-long-name-", 8)))
		}, "very-long-name-very-long-name-very-long-name-very-long-name-very-long-name-very-long-name-very-long-name-very-long-name-file-word-word-word-word-word-word-fill-fill-fill-fill-fill-0ea8012d66e37794"},
		{"punct", func() (string, error) { return Key(mapIcon, punct) }, "mapicon-p00-p01-p02-p03-p04-p05-p06-p07-p08-p09-p10-p11-p12-p13-p14-p15-p16-p17-p18-p19-p20-p21-p22-p23-1d6fe708e99bca0d"},
		{"slice", func() (string, error) { return Key(anyIcon, any([]string{"a b", "c"})) }, "anyicon-a-b-c-aa02681d8bbacb9a"},
		{"nested maps", func() (string, error) { return Key(mapIcon, nestedMaps(3)) }, "mapicon-l2-l1-l0-leaf-end-v-0-v-1-v-2-ccb3645f8d249245"},
		{"deep maps", func() (string, error) { return Key(mapIcon, nestedMaps(20)) }, "mapicon-l19-l18-l17-l16-l15-l14-l13-l12-l11-l10-l9-l8-l7-l6-l5-l4-v-4-v-5-v-6-v-7-v-8-v-9-v-10-v-11-v-12-v-13-v-14-v-15-v-16-v-17-v-18-v-19-54a53e4065625a39"},
		{"points", func() (string, error) { return Key(anyIcon, any([2]image.Point{{1, 2}, {3, 4}})) }, "anyicon-x-1-y-2-x-3-y-4-32ebe94af4c60099"},
		{"colors", func() (string, error) { return Key(anyIcon, any([]color.Color{color.White, color.Gray{128}, nil})) }, "anyicon-ffffffff-808080ff-92ebf8b1667ccc25"},
		{"embedded", func() (string, error) {
			return Key(goldFn[goldEmbed], goldEmbed{GoldBase: GoldBase{"base"}, Extra: "extra"})
		}, "goldfn-goldbase-base-base-extra-extra-59e84a73d9d160b3"},
		{"interface field", func() (string, error) {
			return Key(goldFn[struct{ V, W any }], struct{ V, W any }{V: goldInner{"boxed", 1}})
		}, "goldfn-v-name-boxed-scale-1-w-1c99d3370f94c3e3"},
		{"map colors", func() (string, error) {
			return Key(mapIcon, map[string]any{"c": color.NRGBA{10, 20, 30, 40}, "d": time.Minute, "p": image.Pt(5, 6)})
		}, "mapicon-c-01030428-d-1m0s-p-x-5-y-6-49a43b6cdef5b037"},
		{"float keys", func() (string, error) { return Key(anyIcon, any(map[float64]string{2.5: "b", -1: "a"})) }, "anyicon-1-a-25-b-9aedbd24e90a25a2"},
		{"hidden", func() (string, error) {
			return Key(goldFn[goldHidden], goldHidden{Shown: "yes", tint: color.RGBA{1, 1, 1, 1}, note: "no"})
		}, "goldfn-shown-yes-5b8bfd863a94beb6"},
		{"bytes", func() (string, error) { return Key(anyIcon, any([]byte("raw"))) }, "anyicon-d946e387325a96cd"},
		{"byte array", func() (string, error) { return Key(anyIcon, any([4]byte{1, 2, 3, 4})) }, "anyicon-1731e790ab32cd88"},
		{"float32", func() (string, error) { return Key(anyIcon, any(float32(1.1))) }, "anyicon-1100000023841858-1e60c5830ec5cf4c"},
		{"nil any", func() (string, error) { return Key(anyIcon, nil) }, "anyicon-35a86051e0243ac5"},
	}
	for _, tc := range cases {
		got, err := tc.key()
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s: key = %q, want %q", tc.name, got, tc.want)
		}
	}
}
