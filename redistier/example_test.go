package redistier_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/arcache-go/arcache/redistier"
	"github.com/redis/go-redis/v9"
)

// A tier on one Redis or Valkey server, as arcache.WithTier takes it. The
// client's timeouts and retries bound what a miss waits for a server that
// has gone away.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		DialTimeout:           200 * time.Millisecond,
		ReadTimeout:           200 * time.Millisecond,
		WriteTimeout:          200 * time.Millisecond,
		DialerRetries:         1,
		MaxRetries:            1,
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	tier := redistier.New(client, redistier.Prefix("tiles:"), redistier.TTL(24*time.Hour))
	_ = tier // arcache.New(cfg, arcache.WithTier(tier))
}

// The same for a Sentinel setup or a Cluster: NewUniversalClient makes a
// failover client when MasterName is set and a cluster client when there
// are several addresses.
func ExampleNew_universal() {
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{"redis-1:6379", "redis-2:6379", "redis-3:6379"},
		DialTimeout:           200 * time.Millisecond,
		ReadTimeout:           200 * time.Millisecond,
		WriteTimeout:          200 * time.Millisecond,
		DialerRetries:         1,
		MaxRetries:            1,
		ContextTimeoutEnabled: true,
	})
	defer client.Close()
	tier := redistier.New(client)
	_ = tier
}

// What arcache does with a tier on a miss: ask the tier, and when it has
// nothing, build under the lease and publish, so that other processes
// wait for this one's image rather than build it too.
func Example() {
	ctx := context.Background()
	tier := redistier.New(redis.NewClient(&redis.Options{Addr: "localhost:6379"}))
	const key = "tile-z-3-x-4-y-2-0123456789abcdef"

	value, ok, err := tier.Get(ctx, key)
	if err != nil {
		log.Print(err) // the server is away: build locally
	}
	if ok {
		fmt.Printf("%d bytes from the tier\n", len(value))
		return
	}
	release, ok, err := tier.Lease(ctx, key, 30*time.Second)
	defer release()
	if ok && err == nil {
		built := []byte("the encoded image")
		if err := tier.Set(ctx, key, built); err != nil {
			log.Print(err)
		}
	}
}
