package redistest

import (
	"bytes"
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// BenchValueSize is the length of BenchValue: about the size of a 64x64
// NRGBA image in arcache's record encoding (16,384 bytes of pixels and a
// header).
const BenchValueSize = 16600

// BenchValue returns BenchValueSize bytes that are the same on every call,
// and do not compress to nothing.
func BenchValue() []byte {
	v := make([]byte, BenchValueSize)
	x := uint32(2463534242)
	for i := range v {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		v[i] = byte(x)
	}
	return v
}

// BenchGet stores value under key and then measures a bare GET of it
// through client: the baseline against which a shared tier's hit is
// measured (BenchmarkBaselineRedisGet).
func BenchGet(b *testing.B, client redis.UniversalClient, key string, value []byte) {
	b.Helper()
	ctx := context.Background()
	if err := client.Set(ctx, key, value, 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	var got []byte
	for b.Loop() {
		var err error
		got, err = client.Get(ctx, key).Bytes()
		if err != nil {
			b.Fatal(err)
		}
	}
	if !bytes.Equal(got, value) {
		b.Fatalf("GET returned %d bytes, not the %d stored", len(got), len(value))
	}
}
