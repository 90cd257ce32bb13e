package arcache

import (
	"image"
	"strings"
	"testing"
)

// genericIcon returns a constructor for T. The closures it returns for
// genericA and genericB share their code, as the two types share a memory
// layout, as long as genericIcon is not inlined.
//
//go:noinline
func genericIcon[T any]() func(T) (*image.Gray, error) {
	return func(T) (*image.Gray, error) { return image.NewGray(image.Rect(0, 0, 1, 1)), nil }
}

type genericA struct{ Width int }
type genericB struct{ Height int }

// TestKeyGenericInstances checks that two instances of one generic
// constructor get their own keys, made from their own argument types.
func TestKeyGenericInstances(t *testing.T) {
	ka, err := Key(genericIcon[genericA](), genericA{7})
	if err != nil {
		t.Fatal(err)
	}
	kb, err := Key(genericIcon[genericB](), genericB{7})
	if err != nil {
		t.Fatal(err)
	}
	if ka == kb || keyIndex(ka) == keyIndex(kb) {
		t.Fatalf("two instances share a key: %s and %s", ka, kb)
	}
	if !strings.Contains(ka, "-width-7-") || !strings.Contains(kb, "-height-7-") {
		t.Errorf("keys %s and %s do not name their own fields", ka, kb)
	}

	c := newTestCache(t, nil)
	if _, err := Provide(c, genericIcon[genericA](), genericA{7}); err != nil {
		t.Fatal(err)
	}
	if _, err := Provide(c, genericIcon[genericB](), genericB{7}); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Builds != 2 || c.Len() != 2 {
		t.Errorf("builds %d, entries %d: want 2 and 2", s.Builds, c.Len())
	}
}
