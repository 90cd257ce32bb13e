package imagecache

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// HTTPOrigin returns a Fetcher that GETs baseURL/{id} with client, or
// http.DefaultClient when client is nil. A trailing slash on baseURL is
// allowed, and a query on it is kept.
//
// The checksum comes from the response's Repr-Digest, else its
// Content-Digest (RFC 9530; sha-512 rather than sha-256 when both are
// there, other algorithms ignored), else its Content-MD5. The request
// asks for the identity encoding, since the digests are of the bytes
// sent, and a response in another Content-Encoding is an error. So is a
// digest field that is there but cannot be read: the origin meant the
// image to be verified.
//
// A 404 or 410 is an error matching ErrNotFound; any other status but
// 200 and 203 is an error that names it. An invalid id is ErrInvalidID,
// and a baseURL that cannot be parsed is the error of every call; neither
// sends a request.
func HTTPOrigin(baseURL string, client *http.Client) Fetcher {
	if client == nil {
		client = http.DefaultClient
	}
	base, err := url.Parse(baseURL)
	if err == nil && (base.Scheme == "" || base.Host == "") {
		err = errors.New("not an absolute URL")
	}
	if err != nil {
		err = fmt.Errorf("bad origin URL %q: %w", baseURL, err)
		return func(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
			if !ValidID(id) {
				return nil, Checksum{}, fmt.Errorf("imagecache: fetch %q: %w", id, ErrInvalidID)
			}
			return nil, Checksum{}, fmt.Errorf("imagecache: fetch %s: %w", id, err)
		}
	}
	base.Fragment, base.RawFragment = "", ""
	o := &httpOrigin{base: base, name: base.Redacted(), client: client}
	return o.fetch
}

type httpOrigin struct {
	base   *url.URL
	name   string // base for errors, without a password
	client *http.Client
}

func (o *httpOrigin) fetch(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
	if !ValidID(id) {
		return nil, Checksum{}, fmt.Errorf("imagecache: fetch %q: %w", id, ErrInvalidID)
	}
	u := *o.base
	u.RawPath = strings.TrimSuffix(o.base.EscapedPath(), "/") + "/" + url.PathEscape(id)
	u.Path, _ = url.PathUnescape(u.RawPath) // cannot fail: EscapedPath is escaped
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, Checksum{}, o.error(id, err)
	}
	// Set by hand, it also keeps the transport from decompressing.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := o.client.Do(req)
	if err != nil {
		return nil, Checksum{}, o.error(id, err)
	}
	sum, err := o.check(resp)
	if err != nil {
		// A little of the body, so the connection can be used again.
		io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
		return nil, Checksum{}, o.error(id, err)
	}
	return resp.Body, sum, nil
}

// check returns the checksum of a response whose body is the image, or
// why it is not.
func (o *httpOrigin) check(resp *http.Response) (Checksum, error) {
	status := strings.TrimSpace(fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode)))
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNonAuthoritativeInfo:
	case http.StatusNotFound, http.StatusGone:
		return Checksum{}, fmt.Errorf("%w: origin answered %s", ErrNotFound, status)
	default:
		return Checksum{}, fmt.Errorf("origin answered %s", status)
	}
	if ce := resp.Header.Values("Content-Encoding"); len(ce) > 0 && !isIdentity(ce) {
		return Checksum{}, fmt.Errorf("origin sent Content-Encoding %q, not identity", strings.Join(ce, ", "))
	}
	return digestChecksum(resp.Header)
}

func isIdentity(values []string) bool {
	for _, v := range values {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return false
			}
		}
	}
	return true
}

func (o *httpOrigin) error(id string, err error) error {
	return fmt.Errorf("imagecache: fetch %s from %s: %w", id, o.name, err)
}

// digestChecksum returns the checksum that h's digest fields give: from
// Repr-Digest, else Content-Digest, else Content-MD5; the zero Checksum
// when none gives one. A field that is there but malformed is an error
// that names it.
func digestChecksum(h http.Header) (Checksum, error) {
	for _, name := range []string{"Repr-Digest", "Content-Digest"} {
		values := h.Values(name)
		if len(values) == 0 {
			continue
		}
		sum, err := parseDigestField(strings.Join(values, ", "))
		if err != nil {
			return Checksum{}, fmt.Errorf("malformed %s: %w", name, err)
		}
		if !sum.IsZero() {
			return sum, nil
		}
	}
	values := h.Values("Content-MD5")
	if len(values) == 0 {
		return Checksum{}, nil
	}
	if len(values) > 1 {
		return Checksum{}, errors.New("malformed Content-MD5: more than one")
	}
	b, err := decodeBase64(strings.TrimSpace(values[0]))
	if err == nil && len(b) != 16 {
		err = fmt.Errorf("%d bytes, want 16", len(b))
	}
	if err != nil {
		return Checksum{}, fmt.Errorf("malformed Content-MD5: %w", err)
	}
	return Checksum{Algo: "md5", Hex: hex.EncodeToString(b)}, nil
}

// digestAlgos are the RFC 9530 algorithms digestChecksum knows, the
// strongest first.
var digestAlgos = []struct {
	key, algo string
	size      int
}{
	{"sha-512", "sha512", 64},
	{"sha-256", "sha256", 32},
}

// parseDigestField reads a Repr-Digest or Content-Digest field value, an
// RFC 8941 dictionary of byte sequences keyed by algorithm, and returns
// the checksum of the strongest algorithm it knows; the zero Checksum
// when it has none of them.
func parseDigestField(value string) (Checksum, error) {
	members, err := parseDictionary(value)
	if err != nil {
		return Checksum{}, err
	}
	for _, a := range digestAlgos {
		m, ok := members[a.key]
		if !ok {
			continue
		}
		if m.kind != sfByteSeq {
			return Checksum{}, fmt.Errorf("%s is not a byte sequence", a.key)
		}
		b, err := decodeBase64(m.bytes)
		if err == nil && len(b) != a.size {
			err = fmt.Errorf("%d bytes, want %d", len(b), a.size)
		}
		if err != nil {
			return Checksum{}, fmt.Errorf("%s: %w", a.key, err)
		}
		return Checksum{Algo: a.algo, Hex: hex.EncodeToString(b)}, nil
	}
	return Checksum{}, nil
}

// decodeBase64 decodes standard base64, with or without its padding, as
// RFC 8941 asks of byte sequences.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		if len(s)%4 != 0 {
			return nil, errors.New("bad base64 padding")
		}
		return base64.StdEncoding.DecodeString(s)
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("bad base64")
	}
	return b, nil
}

// The kinds of RFC 8941 member values that parseDictionary tells apart.
const (
	sfOther   = iota // any other item, or an inner list
	sfByteSeq        // a byte sequence
)

// sfMember is a dictionary member's value: its kind and, for a byte
// sequence, its base64 text. Parameters are checked and dropped.
type sfMember struct {
	kind  int
	bytes string
}

// parseDictionary parses an RFC 8941 (and RFC 9651) dictionary; a key
// given twice keeps its last value.
func parseDictionary(s string) (map[string]sfMember, error) {
	p := &sfParser{s: strings.TrimLeft(s, " ")}
	dict := map[string]sfMember{}
	for p.s != "" {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		var m sfMember
		if p.eat('=') {
			if m, err = p.itemOrInnerList(); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		} else if err := p.params(); err != nil { // a bare key is true
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		dict[key] = m
		p.ows()
		if p.s == "" {
			break
		}
		if !p.eat(',') {
			return nil, fmt.Errorf("after %s: want a comma, got %q", key, p.s[0])
		}
		p.ows()
		if p.s == "" {
			return nil, errors.New("a trailing comma")
		}
	}
	return dict, nil
}

// sfParser consumes s from the left.
type sfParser struct{ s string }

func (p *sfParser) eat(b byte) bool {
	if p.s != "" && p.s[0] == b {
		p.s = p.s[1:]
		return true
	}
	return false
}

func (p *sfParser) ows() { p.s = strings.TrimLeft(p.s, " \t") }

func (p *sfParser) key() (string, error) {
	if p.s == "" || !isLCAlpha(p.s[0]) && p.s[0] != '*' {
		return "", errors.New("want a key")
	}
	i := 1
	for i < len(p.s) && (isLCAlpha(p.s[i]) || isDigit(p.s[i]) || strings.IndexByte("_-.*", p.s[i]) >= 0) {
		i++
	}
	k := p.s[:i]
	p.s = p.s[i:]
	return k, nil
}

func (p *sfParser) params() error {
	for p.eat(';') {
		p.s = strings.TrimLeft(p.s, " ")
		if _, err := p.key(); err != nil {
			return fmt.Errorf("parameter: %w", err)
		}
		if p.eat('=') {
			if _, err := p.bareItem(); err != nil {
				return fmt.Errorf("parameter: %w", err)
			}
		}
	}
	return nil
}

func (p *sfParser) itemOrInnerList() (sfMember, error) {
	if !p.eat('(') {
		m, err := p.bareItem()
		if err == nil {
			err = p.params()
		}
		return m, err
	}
	for {
		p.s = strings.TrimLeft(p.s, " ")
		if p.eat(')') {
			return sfMember{}, p.params()
		}
		if _, err := p.bareItem(); err != nil {
			return sfMember{}, fmt.Errorf("inner list: %w", err)
		}
		if err := p.params(); err != nil {
			return sfMember{}, fmt.Errorf("inner list: %w", err)
		}
		if p.s == "" || p.s[0] != ' ' && p.s[0] != ')' {
			return sfMember{}, errors.New("inner list: unterminated")
		}
	}
}

func (p *sfParser) bareItem() (sfMember, error) {
	if p.s == "" {
		return sfMember{}, errors.New("want a value")
	}
	switch c := p.s[0]; {
	case c == '-' || isDigit(c):
		_, err := p.number()
		return sfMember{}, err
	case c == '"':
		return sfMember{}, p.str()
	case c == ':':
		return p.byteSeq()
	case c == '?':
		if len(p.s) < 2 || p.s[1] != '0' && p.s[1] != '1' {
			return sfMember{}, errors.New("bad boolean")
		}
		p.s = p.s[2:]
		return sfMember{}, nil
	case c == '@': // a date, RFC 9651
		p.s = p.s[1:]
		if decimal, err := p.number(); err != nil || decimal {
			return sfMember{}, errors.New("bad date")
		}
		return sfMember{}, nil
	case c == '%': // a display string, RFC 9651
		return sfMember{}, p.displayString()
	case isAlpha(c) || c == '*':
		i := 1
		for i < len(p.s) && (isTChar(p.s[i]) || p.s[i] == ':' || p.s[i] == '/') {
			i++
		}
		p.s = p.s[i:]
		return sfMember{}, nil
	default:
		return sfMember{}, fmt.Errorf("unexpected %q", c)
	}
}

// number consumes an integer or a decimal, and reports which.
func (p *sfParser) number() (decimal bool, err error) {
	p.eat('-')
	if p.s == "" || !isDigit(p.s[0]) {
		return false, errors.New("bad number")
	}
	i, dot := 0, -1
	for ; i < len(p.s); i++ {
		c := p.s[i]
		if c == '.' && dot < 0 {
			if i > 12 {
				return false, errors.New("decimal too long")
			}
			dot = i
			continue
		}
		if !isDigit(c) {
			break
		}
		if dot < 0 && i >= 15 || dot >= 0 && i >= 16 {
			return false, errors.New("number too long")
		}
	}
	if dot >= 0 && (i-dot-1 < 1 || i-dot-1 > 3) {
		return false, errors.New("bad decimal")
	}
	p.s = p.s[i:]
	return dot >= 0, nil
}

func (p *sfParser) str() error {
	for i := 1; i < len(p.s); i++ {
		switch c := p.s[i]; {
		case c == '\\':
			i++
			if i == len(p.s) || p.s[i] != '"' && p.s[i] != '\\' {
				return errors.New("bad escape in string")
			}
		case c == '"':
			p.s = p.s[i+1:]
			return nil
		case c < 0x20 || c > 0x7e:
			return errors.New("bad character in string")
		}
	}
	return errors.New("unterminated string")
}

func (p *sfParser) displayString() error {
	if len(p.s) < 2 || p.s[1] != '"' {
		return errors.New("bad display string")
	}
	var text []byte
	for i := 2; i < len(p.s); i++ {
		switch c := p.s[i]; {
		case c == '%':
			if i+2 >= len(p.s) || !isLCHex(p.s[i+1]) || !isLCHex(p.s[i+2]) {
				return errors.New("bad escape in display string")
			}
			b, _ := hex.DecodeString(p.s[i+1 : i+3])
			text = append(text, b...)
			i += 2
		case c == '"':
			if !utf8.Valid(text) {
				return errors.New("display string is not UTF-8")
			}
			p.s = p.s[i+1:]
			return nil
		case c < 0x20 || c > 0x7e:
			return errors.New("bad character in display string")
		default:
			text = append(text, c)
		}
	}
	return errors.New("unterminated display string")
}

func (p *sfParser) byteSeq() (sfMember, error) {
	end := strings.IndexByte(p.s[1:], ':')
	if end < 0 {
		return sfMember{}, errors.New("unterminated byte sequence")
	}
	b64 := p.s[1 : 1+end]
	for i := 0; i < len(b64); i++ {
		if c := b64[i]; !isAlpha(c) && !isDigit(c) && c != '+' && c != '/' && c != '=' {
			return sfMember{}, fmt.Errorf("bad character %q in byte sequence", c)
		}
	}
	p.s = p.s[2+end:]
	return sfMember{kind: sfByteSeq, bytes: b64}, nil
}

func isLCAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlpha(c byte) bool   { return isLCAlpha(c) || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool   { return '0' <= c && c <= '9' }
func isLCHex(c byte) bool   { return isDigit(c) || 'a' <= c && c <= 'f' }

func isTChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
