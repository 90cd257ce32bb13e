package arcache

import (
	"bytes"
	"image/color"
	"reflect"
	"testing"
	"time"
)

// TestMapPathsAgree checks that the native loops appendMap runs on a hit
// encode the common map types as its reflect loop does, which the
// readable part and unexported fields take.
func TestMapPathsAgree(t *testing.T) {
	maps := []any{
		map[string]any{"a": 1, "b": "x", "c": nil, "d": []any{1.5, nil}, "e": color.White, "f": time.Second,
			"g": map[string]any{"h": map[string]string{"i": "j"}}},
		map[string]any{},
		map[string]string{"a": "b", "": "", "c d": "e"},
	}
	for _, m := range maps {
		for _, exclude := range [][]string{nil, {"a", "c"}} {
			v := reflect.ValueOf(m)
			native, err := (&encoder{exclude: exclude}).appendMap(nil, v, 0)
			if err != nil {
				t.Fatal(err)
			}
			reflected, err := newWordsEncoder(exclude, &words{}).appendMap(nil, v, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(native, reflected) {
				t.Errorf("%T %v, exclude %q: native loop % x, reflect loop % x", m, m, exclude, native, reflected)
			}
		}
	}
}
