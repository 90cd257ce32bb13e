package redistier

import (
	"errors"
	"strconv"
	"strings"
)

// ErrEmptyKey reports an empty key, which the tier cannot store: an empty
// hash tag would send an image and its lease to different Cluster slots.
var ErrEmptyKey = errors.New("empty key")

// leaseSuffix follows an image's key to make its lease's key.
const leaseSuffix = ":lease"

// imageKey returns the server's key for key: the prefix, then key inside
// braces. The braces are a Cluster hash tag, so that an image and its
// lease, whose key adds leaseSuffix after them, live in one slot.
func (t *Tier) imageKey(key string) string {
	return t.prefix + "{" + escape(key) + "}"
}

func (t *Tier) leaseKey(key string) string {
	return t.prefix + "{" + escape(key) + "}" + leaseSuffix
}

// escape writes '%', '{' and '}' as %25, %7B and %7D, so that no key can
// close the hash tag early or open another, and two keys never share an
// escaped form. Keys that need no escaping, as arcache's never do, are
// returned as they are.
func escape(key string) string {
	if !strings.ContainsAny(key, "%{}") {
		return key
	}
	var b strings.Builder
	b.Grow(len(key) + 8)
	for i := 0; i < len(key); i++ {
		switch c := key[i]; c {
		case '%':
			b.WriteString("%25")
		case '{':
			b.WriteString("%7B")
		case '}':
			b.WriteString("%7D")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// subject returns key as an error message names it: as it is when it is
// plain printable text, quoted otherwise.
func subject(key string) string {
	if key == "" {
		return `""`
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' || key[i] == '"' {
			return strconv.Quote(key)
		}
	}
	return key
}
