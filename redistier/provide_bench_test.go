package redistier_test

import (
	"context"
	"testing"

	"github.com/arcache-go/arcache"
	"github.com/arcache-go/arcache/internal/redistest"
	"github.com/arcache-go/arcache/redistier"
)

// benchRecord publishes a 64x64 NRGBA tile through a cache on tier and
// returns the value the tier holds for it: what BenchmarkTierHit reads
// and BenchmarkBaselineRedisGet fetches bare.
func benchRecord(b *testing.B, tier *redistier.Tier, args tileArgs) []byte {
	b.Helper()
	var fn tiles
	if _, err := provideTile(newCache(b, tier), &fn, args); err != nil {
		b.Fatal(err)
	}
	key, err := arcache.Key(fn.build, args, arcache.Name("tile"))
	if err != nil {
		b.Fatal(err)
	}
	v, ok, err := tier.Get(context.Background(), key)
	if err != nil || !ok {
		b.Fatalf("no value published under %s: %v", key, err)
	}
	return v
}

// BenchmarkTierHit is a local miss answered by the tier: a 64x64 NRGBA
// tile, fetched, checked, decoded and stored. The cache holds one entry
// and the benchmark asks for two tiles in turn, so that every call
// misses locally; nothing is built. "direct" is a client made with
// ContextTimeoutEnabled, whose calls the cache makes on its own goroutine;
// "guarded" is a client of go-redis's defaults, whose calls the cache
// makes on a goroutine of their own, to stop waiting at their bound.
func BenchmarkTierHit(b *testing.B) {
	for _, direct := range []bool{true, false} {
		name := "guarded"
		if direct {
			name = "direct"
		}
		b.Run(name, func(b *testing.B) {
			srv := redistest.Start(b)
			o := srv.Options()
			o.ContextTimeoutEnabled = direct
			tier := redistier.New(srv.NewClient(o))
			if tier.HonorsContext() != direct {
				b.Fatalf("HonorsContext = %v for ContextTimeoutEnabled %v", !direct, direct)
			}
			benchTierHit(b, tier)
		})
	}
}

func benchTierHit(b *testing.B, tier *redistier.Tier) {
	keys := []tileArgs{{N: 1}, {N: 2}}
	for _, a := range keys {
		b.SetBytes(int64(len(benchRecord(b, tier, a))))
	}
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = b.TempDir()
	cfg.BinFile = arcache.NoBinFile
	cfg.Preload = false
	cfg.CacheMax = 1
	c, err := arcache.New(cfg, arcache.WithTier(tier), arcache.WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var fn tiles
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := provideTile(c, &fn, keys[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if st := c.Stats(); fn.builds.Load() != 0 || st.TierHits != uint64(i) {
		b.Fatalf("%d builds, %d tier hits in %d calls; want 0 and one a call", fn.builds.Load(), st.TierHits, i)
	}
}
