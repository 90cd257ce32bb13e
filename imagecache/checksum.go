package imagecache

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Checksum is the expected digest of an image: Algo is "md5", "sha256" or
// "sha512", Hex the digest in hexadecimal. The zero Checksum checks
// nothing.
type Checksum struct{ Algo, Hex string }

// IsZero reports whether s checks nothing.
func (s Checksum) IsZero() bool { return s == Checksum{} }

// newHash returns the hash for s, nil for the zero Checksum.
func (s Checksum) newHash() (hash.Hash, error) {
	switch strings.ToLower(s.Algo) {
	case "":
		if s.Hex != "" {
			return nil, fmt.Errorf("checksum %q has no algorithm", s.Hex)
		}
		return nil, nil
	case "md5":
		return md5.New(), nil
	case "sha256":
		return sha256.New(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unknown checksum algorithm %q", s.Algo)
}

// matches reports whether h's digest is s.
func (s Checksum) matches(h hash.Hash) bool {
	return strings.EqualFold(hex.EncodeToString(h.Sum(nil)), s.Hex)
}
