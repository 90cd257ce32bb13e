package redistier_test

import (
	"bytes"
	"testing"

	"github.com/arcache-go/arcache/internal/redistest"
	"github.com/arcache-go/arcache/redistier"
)

// BenchmarkBaselineRedisGet is the floor a tier's hit is measured
// against: a bare go-redis GET, on a private server over a Unix socket, of
// the very value BenchmarkTierHit reads, a 64x64 NRGBA record.
func BenchmarkBaselineRedisGet(b *testing.B) {
	srv := redistest.Start(b)
	value := benchRecord(b, redistier.New(srv.Client()), tileArgs{N: 1})
	redistest.BenchGet(b, srv.Client(), "baseline", value)
}

// BenchmarkTierGet is the same GET through Tier.Get.
func BenchmarkTierGet(b *testing.B) {
	srv := redistest.Start(b)
	tier := redistier.New(srv.Client())
	value := redistest.BenchValue()
	if err := tier.Set(ctx, "bench", value); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	var got []byte
	for b.Loop() {
		var ok bool
		var err error
		got, ok, err = tier.Get(ctx, "bench")
		if !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	if !bytes.Equal(got, value) {
		b.Fatalf("Get returned %d bytes, not the %d stored", len(got), len(value))
	}
}
