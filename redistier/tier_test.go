package redistier_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arcache-go/arcache/redistier"
)

var ctx = context.Background()

// Tier has the methods of arcache's Tier seam, which this package does not
// import.
var _ interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte) error
	Lease(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error)
} = (*redistier.Tier)(nil)

// A stored value comes back byte for byte, and is the caller's own.
func TestGetSet(t *testing.T) {
	tier, _, _ := newTier(t)
	want := []byte("\x00\x01binary\xff value\r\n")
	if err := tier.Set(ctx, "icon-16-0123456789abcdef", want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := tier.Get(ctx, "icon-16-0123456789abcdef")
	if err != nil || !ok || !bytes.Equal(got, want) {
		t.Fatalf("Get = %q, %v, %v; want %q, true, nil", got, ok, err, want)
	}
	got[0] = 'X'
	again, _, _ := tier.Get(ctx, "icon-16-0123456789abcdef")
	if !bytes.Equal(again, want) {
		t.Errorf("changing one Get's value changed the next: %q", again)
	}
	if err := tier.Set(ctx, "icon-16-0123456789abcdef", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := tier.Get(ctx, "icon-16-0123456789abcdef"); string(got) != "new" {
		t.Errorf("Get after a second Set = %q; want new", got)
	}
	if err := tier.Set(ctx, "empty-value", nil); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := tier.Get(ctx, "empty-value"); len(got) != 0 || !ok || err != nil {
		t.Errorf("Get of an empty value = %q, %v, %v; want empty, true, nil", got, ok, err)
	}
}

// A key that holds nothing is a miss, not an error.
func TestMiss(t *testing.T) {
	tier, _, _ := newTier(t)
	got, ok, err := tier.Get(ctx, "never-stored")
	if got != nil || ok || err != nil {
		t.Fatalf("Get = %q, %v, %v; want nil, false, nil", got, ok, err)
	}
}

// With a TTL an image expires on the server; without one it stays.
func TestTTL(t *testing.T) {
	const ttl = 200 * time.Millisecond
	tier, c, _ := newTier(t, redistier.TTL(ttl))
	if err := tier.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := tier.Get(ctx, "k"); !ok || err != nil {
		t.Fatalf("Get right after Set = %v, %v", ok, err)
	}
	if d := c.PTTL(ctx, "arcache:{k}").Val(); d <= 0 || d > ttl {
		t.Errorf("PTTL = %v; want in (0, %v]", d, ttl)
	}
	within(t, 5*time.Second, "image expiry", func() bool {
		_, ok, err := tier.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		return !ok
	})

	forever := redistier.New(c, redistier.Prefix("forever:"), redistier.TTL(-time.Second))
	if err := forever.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if d := c.PTTL(ctx, "forever:{k}").Val(); d != -1 {
		t.Errorf("PTTL without a TTL = %v; want -1 (no expiry)", d)
	}
}

// Tiers of different prefixes on one server do not see each other's
// images.
func TestPrefix(t *testing.T) {
	_, c := start(t)
	a := redistier.New(c, redistier.Prefix("app-a:"))
	b := redistier.New(c, redistier.Prefix("app-b:"))
	def := redistier.New(c)
	if err := a.Set(ctx, "k", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Get(ctx, "k"); ok {
		t.Error("b sees a's image")
	}
	if _, ok, _ := def.Get(ctx, "k"); ok {
		t.Error("the default prefix sees a's image")
	}
	if err := b.Set(ctx, "k", []byte("b")); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := a.Get(ctx, "k"); string(got) != "a" {
		t.Errorf("a's image = %q after b's Set; want a", got)
	}
	if _, ok, _ := a.Lease(ctx, "k", time.Minute); !ok {
		t.Fatal("a's lease refused")
	}
	if _, ok, _ := b.Lease(ctx, "k", time.Minute); !ok {
		t.Error("b's lease refused while a holds a's")
	}
	if err := def.Set(ctx, "k", []byte("d")); err != nil {
		t.Fatal(err)
	}
	keys := c.Keys(ctx, "*").Val()
	want := map[string]bool{"app-a:{k}": true, "app-b:{k}": true, "arcache:{k}": true, "app-a:{k}:lease": true, "app-b:{k}:lease": true}
	if len(keys) != len(want) {
		t.Errorf("keys on the server: %q; want %d", keys, len(want))
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %q on the server", k)
		}
	}
}

// Every key the tier writes carries one hash tag, the same for an image
// and its lease, so that a Cluster keeps them in one slot; keys with
// braces and escapes in them cannot break the tag or collide.
func TestKeyLayout(t *testing.T) {
	tier, c, _ := newTier(t)
	keys := []string{
		"icon-fill-green-size-16-0123456789abcdef",
		"a", "{", "}", "{}", "}{", "a}b", "{tag}rest", "%", "%7B", "%7b", "%25", "%%7D",
		"a b\nc", "日本", strings.Repeat("x", 300),
	}
	for i, k := range keys {
		if err := tier.Set(ctx, k, []byte{byte(i)}); err != nil {
			t.Fatalf("Set %q: %v", k, err)
		}
		if _, ok, err := tier.Lease(ctx, k, time.Minute); !ok || err != nil {
			t.Fatalf("Lease %q = %v, %v", k, ok, err)
		}
	}
	for i, k := range keys {
		got, ok, err := tier.Get(ctx, k)
		if err != nil || !ok || !bytes.Equal(got, []byte{byte(i)}) {
			t.Errorf("Get %q = %v, %v, %v; want [%d]: keys collide", k, got, ok, err, i)
		}
	}

	stored := c.Keys(ctx, "*").Val()
	if len(stored) != 2*len(keys) {
		t.Fatalf("%d keys on the server; want %d", len(stored), 2*len(keys))
	}
	tags := map[string]int{} // hash tag -> keys with it
	for _, k := range stored {
		rest, ok := strings.CutPrefix(k, redistier.DefaultPrefix+"{")
		if !ok {
			t.Errorf("key %q does not start with %q", k, redistier.DefaultPrefix+"{")
			continue
		}
		tag, after, ok := strings.Cut(rest, "}")
		if !ok || tag == "" || strings.Contains(tag, "{") || (after != "" && after != ":lease") {
			t.Errorf("key %q: tag %q, then %q; want a non-empty tag without braces, then nothing or :lease", k, tag, after)
			continue
		}
		tags[tag]++
	}
	for tag, n := range tags {
		if n != 2 {
			t.Errorf("hash tag %q is on %d keys; want 2 (an image and its lease)", tag, n)
		}
	}
	// Redis hashes the tag; check the slot as a Cluster computes it.
	for _, k := range keys {
		var img, lease string
		for _, s := range stored {
			if strings.HasSuffix(s, ":lease") {
				continue
			}
			if v, _ := c.Get(ctx, s).Bytes(); len(v) == 1 && keys[v[0]] == k {
				img, lease = s, s+":lease"
			}
		}
		if img == "" {
			t.Errorf("no image key for %q", k)
			continue
		}
		if keySlot(img) != keySlot(lease) {
			t.Errorf("%q: image in slot %d, lease in slot %d", k, keySlot(img), keySlot(lease))
		}
	}
}

// keySlot agrees with CLUSTER KEYSLOT of Redis 7.0 (a cluster node needs a
// TCP port for its bus, so the tests cannot ask one).
func TestKeySlot(t *testing.T) {
	for k, want := range map[string]int{
		"123456789":           12739,
		"abc":                 7638,
		"{}abc":               5980, // an empty tag hashes the whole key
		"x{abc}{def}":         7638,
		"arcache:{}":          4411,
		"arcache:{a}b}:lease": 15495,
		"no-tag-{unclosed":    8299,
		"a":                   15495,
		"arcache:{%7B}":       6578,
		"arcache:{%7B}:lease": 6578,
	} {
		if got := keySlot(k); got != want {
			t.Errorf("keySlot(%q) = %d; want %d", k, got, want)
		}
	}
}

// keySlot is Redis Cluster's HASH_SLOT: CRC16 of the hash tag (the text
// between the first '{' and the first '}' after it, if not empty) or of
// the whole key, modulo 16384.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16([]byte(key)) % 16384)
}

// crc16 is CRC-16/XMODEM, the checksum Redis Cluster hashes keys with.
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// The empty key is refused, not stored where its lease would part from it.
func TestEmptyKey(t *testing.T) {
	tier, c, _ := newTier(t)
	if _, _, err := tier.Get(ctx, ""); !errors.Is(err, redistier.ErrEmptyKey) {
		t.Errorf("Get: %v; want ErrEmptyKey", err)
	}
	if err := tier.Set(ctx, "", []byte("v")); !errors.Is(err, redistier.ErrEmptyKey) {
		t.Errorf("Set: %v; want ErrEmptyKey", err)
	}
	release, ok, err := tier.Lease(ctx, "", time.Second)
	if !errors.Is(err, redistier.ErrEmptyKey) || ok || release == nil {
		t.Errorf("Lease = %v, %v; want a no-op release, false, ErrEmptyKey", ok, err)
	}
	release()
	if n := c.DBSize(ctx).Val(); n != 0 {
		t.Errorf("%d keys on the server; want 0", n)
	}
	if _, _, err := tier.Get(ctx, ""); err == nil || err.Error() != `redistier: get "": empty key` {
		t.Errorf("error %q", err)
	}
}
