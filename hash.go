package arcache

import (
	"encoding/binary"
	"math/bits"
)

// The key hash is our own so that it can never change under us: keys are
// file names and bin-file indexes, and must be the same in every process,
// on every platform and in every release. It is a multiply-fold hash in
// the style of wyhash; it is fast and mixes well, but it is not meant to
// resist deliberately crafted collisions.
const (
	hk0 = 0xa0761d6478bd642f
	hk1 = 0xe7037ed1a0b428db
	hk2 = 0x8ebc6af09c88c6e3
	hk3 = 0x589965cc75374cc3
)

func fold(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hashBytes hashes b, starting from seed.
func hashBytes(seed uint64, b []byte) uint64 {
	h := seed ^ hk0
	n := uint64(len(b))
	for len(b) >= 8 {
		h = (h ^ fold(binary.LittleEndian.Uint64(b)^hk1, hk2)) * hk3
		b = b[8:]
	}
	if len(b) > 0 {
		var w uint64
		for i := len(b) - 1; i >= 0; i-- {
			w = w<<8 | uint64(b[i])
		}
		h = (h ^ fold(w^hk1, hk2)) * hk3
	}
	return fold(h^n^hk2, hk1^hk3)
}

// hashString is hashBytes for a string, without copying it.
func hashString(seed uint64, s string) uint64 {
	var buf [64]byte
	if len(s) <= len(buf) {
		return hashBytes(seed, append(buf[:0], s...))
	}
	return hashBytes(seed, []byte(s))
}
