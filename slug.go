package arcache

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// Slugify turns s into a slug exactly as Django's slugify does: the text is normalised (NFKD and folded to ASCII, or
// NFKC when allowUnicode is set), lowercased, stripped of everything but
// letters, digits, underscores, hyphens and spaces, runs of spaces and
// hyphens become one hyphen, and hyphens and underscores are trimmed from
// both ends.
//
// Without allowUnicode the result holds only [a-z0-9_-].
func Slugify(s string, allowUnicode bool) string {
	if allowUnicode {
		s = norm.NFKC.String(s)
	} else {
		s = asciiFold(s)
	}
	if !isASCII(s) {
		// Full Unicode lowercasing, with Python's final-sigma rule.
		s = cases.Lower(language.Und).String(s)
	}

	var b strings.Builder
	b.Grow(len(s))
	dash := false // a run of spaces or hyphens is pending
	for _, r := range s {
		switch {
		case r == '-' || isPySpace(r):
			dash = true
			continue
		case r == '_' || isPyWord(r):
		default:
			continue // dropped, and does not break a run
		}
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		if r < utf8.RuneSelf {
			b.WriteByte(byte(unicode.ToLower(r)))
		} else {
			b.WriteRune(r)
		}
	}
	return strings.Trim(b.String(), "-_")
}

// asciiFold is NFKD followed by dropping every non-ASCII byte, as Python's
// encode("ascii", "ignore") does.
func asciiFold(s string) string {
	if isASCII(s) {
		return s
	}
	d := norm.NFKD.String(s)
	out := make([]byte, 0, len(d))
	for i := 0; i < len(d); i++ {
		if d[i] < utf8.RuneSelf {
			out = append(out, d[i])
		}
	}
	return string(out)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isPyWord reports whether Python's \w matches r (underscore aside):
// letters and numbers, but not combining marks.
func isPyWord(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// isPySpace reports whether Python's \s matches r; Python also counts the
// ASCII separators U+001C to U+001F as space.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || 0x1c <= r && r <= 0x1f
}
