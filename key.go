package arcache

import (
	"context"
	"errors"
	"fmt"
	"image"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// MaxKeyLen is the longest key, in bytes.
const MaxKeyLen = 200

const (
	hashLen = 16 // hex digits of the key hash at the end of every key
	// maxDepth bounds how deeply arguments may nest; a pointer cycle
	// reaches it.
	maxDepth = 32
	// maxValueLen is the longest argument value shown in a key's
	// readable part; longer values are left to the hash.
	maxValueLen = 32
)

// Key returns the key Provide would use for fn and args.
func Key[A any, I image.Image](fn func(A) (I, error), args A, opts ...ProvideOption) (string, error) {
	if fn == nil {
		return "", errors.New("arcache: key: nil constructor")
	}
	po := mergeOptions(opts)
	return keyFor(infoOf(fn, po.name), &args, po)
}

// KeyContext returns the key ProvideContext would use for fn and args.
func KeyContext[A any, I image.Image](fn func(context.Context, A) (I, error), args A, opts ...ProvideOption) (string, error) {
	if fn == nil {
		return "", errors.New("arcache: key: nil constructor")
	}
	po := mergeOptions(opts)
	return keyFor(infoOfContext(fn, po.name), &args, po)
}

// keyFor is Key: one walk over args gives both the hash and the words.
func keyFor[A any](info *fnInfo, args *A, po ProvideOption) (string, error) {
	w := info.newWords(po.exclude)
	h, err := encodeArgs(info, args, po.exclude, w)
	if err != nil {
		return "", fmt.Errorf("arcache: key for %s: %w", info.short, err)
	}
	return info.format(w, h), nil
}

// ValidKey reports whether key is slug-safe: 1 to MaxKeyLen bytes, each
// one of [a-z0-9_-].
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if !slugByte(key[i]) {
			return false
		}
	}
	return true
}

func slugByte(b byte) bool {
	return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}

// keyIndex returns the index under which key is stored. A key that ends in
// "-" and a 16-digit hash, as every key Provide makes does, is indexed by
// that hash, so that a Provide hit never needs the key string; any other
// key is indexed by a hash of the whole string.
func keyIndex(key string) uint64 {
	if n := len(key); n > hashLen && key[n-hashLen-1] == '-' {
		if h, ok := parseHex(key[n-hashLen:]); ok {
			return h
		}
	}
	return hashString(0x6b6579, key)
}

func parseHex(s string) (uint64, bool) {
	var h uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		default:
			return 0, false
		}
		h = h<<4 | uint64(c)
	}
	return h, true
}

// fnInfo is what the key needs to know of a constructor, worked out once
// per function.
type fnInfo struct {
	id    string // identity: the fully qualified name, or "name:" + Name
	short string // the readable prefix, already a slug
	seed  uint64 // hash of id: the starting state of every key hash
	// plan is the field plan of the argument type when it is a struct,
	// so that hits need not look it up.
	plan *structPlan
	// iface: the argument type is an interface, which key, given the
	// arguments as an any, could not tell from the type of the value held.
	iface bool
}

type nameKey struct {
	name string
	args reflect.Type // a name, unlike a function, does not fix the type
}

var (
	infoByPC cowMap[uintptr, *fnInfo] // by the constructor's code
	// infoByName holds constructors by the name given with Name. Names
	// may be made at run time, so unlike functions they are not a fixed
	// few: a sync.Map grows in linear time where a cowMap would not.
	infoByName sync.Map // nameKey -> *fnInfo
)

// infoOf returns the identity of fn, or of the name given with Name.
func infoOf[A any, I image.Image](fn func(A) (I, error), name string) *fnInfo {
	return infoFor[A](reflect.ValueOf(fn).Pointer(), name)
}

// infoOfContext is infoOf for a constructor that takes a context.
func infoOfContext[A any, I image.Image](fn func(context.Context, A) (I, error), name string) *fnInfo {
	return infoFor[A](reflect.ValueOf(fn).Pointer(), name)
}

// infoFor returns the identity of the function at pc taking arguments of
// type A, or of the name given with Name.
func infoFor[A any](pc uintptr, name string) *fnInfo {
	if name != "" {
		k := nameKey{name, reflect.TypeFor[A]()}
		if info, ok := infoByName.Load(k); ok {
			return info.(*fnInfo)
		}
		info, _ := infoByName.LoadOrStore(k, newInfo("name:"+name, name, k.args))
		return info.(*fnInfo)
	}
	if info, ok := infoByPC.load(pc); ok {
		return info
	}
	id := "?"
	if f := runtime.FuncForPC(pc); f != nil {
		id = f.Name()
	}
	return infoByPC.loadOrStore(pc, newInfo(id, shortName(id), reflect.TypeFor[A]()))
}

func newInfo(id, short string, args reflect.Type) *fnInfo {
	s := Slugify(short, false)
	if s == "" {
		s = "fn"
	}
	info := &fnInfo{id: id, short: s, seed: hashString(0x616263, id), iface: args.Kind() == reflect.Interface}
	if args.Kind() == reflect.Struct && !isColor(args) {
		info.plan = planOf(args)
	}
	return info
}

// shortName turns "example.com/app.icon" into "icon" and
// "example.com/app.(*T).Draw-fm" into "T.Draw".
func shortName(full string) string {
	s := full[strings.LastIndexByte(full, '/')+1:]
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSuffix(s, "-fm")
	return strings.NewReplacer("(", "", ")", "", "*", "").Replace(s)
}

// argsHash returns the hash of the constructor identity and the exact
// argument values. It is the hit path: it builds no strings.
func argsHash[A any](info *fnInfo, args *A, exclude []string) (uint64, error) {
	return encodeArgs(info, args, exclude, nil)
}

// encodeArgs encodes *args and returns their hash; w, when not nil,
// receives the words of the readable part from the same walk.
func encodeArgs[A any](info *fnInfo, args *A, exclude []string, w *words) (uint64, error) {
	if p := flatFor[A](info, exclude, w); p != nil {
		return hashFlat(info.seed, p, unsafe.Pointer(args)), nil
	}
	e := &encoder{exclude: exclude}
	if w != nil {
		e = newWordsEncoder(exclude, w)
	}
	// The reflect.Value of args would otherwise make every call move args
	// to the heap. The encoder only reads through it and keeps nothing
	// once it returns, as strings.Builder's use of the same trick does.
	v := reflect.ValueOf((*A)(noescape(unsafe.Pointer(args)))).Elem()
	if v.Kind() == reflect.Interface {
		if !info.iface {
			v = v.Elem() // arguments that key was given as an any
		} else {
			// The readable part has always started at the value the
			// interface holds, one level down.
			w.deeper(-1)
		}
	}
	bp := bufPool.Get().(*[]byte)
	var b []byte
	var err error
	if info.plan != nil {
		b, err = e.appendStruct((*bp)[:0], v, info.plan, 0)
	} else {
		b, err = e.appendValue((*bp)[:0], v, 0)
	}
	h := hashBytes(info.seed, b)
	putBuf(bp, b)
	return h, err
}

// bufPool holds encoding buffers: the encoder is recursive, which would
// move a stack buffer to the heap on every call.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// putBuf gives b, grown from *bp, back to bufPool, unless it grew so large
// that keeping it would waste memory.
func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b
		bufPool.Put(bp)
	}
}

// flatFor returns the flat plan of A when appendFlat can encode *args: no
// words are wanted, nothing is excluded, and A is the flat struct type the
// plan was made for. It may not be: readable gives args as an any, and the
// one closure that generic code makes of a generic constructor gives every
// argument type of one shape the same fnInfo.
func flatFor[A any](info *fnInfo, exclude []string, w *words) *flatPlan {
	p := info.plan
	if p == nil || p.flat == nil || w != nil || len(exclude) > 0 || reflect.TypeFor[A]() != p.typ {
		return nil
	}
	return p.flat
}

// flatStack is the size of the stack buffer of hashFlat. Unlike the
// recursive encoder, appendFlat leaves it on the stack, which costs less
// than a bufPool round trip.
const flatStack = 256

// hashFlat hashes the struct at base, whose flat plan is p.
func hashFlat(seed uint64, p *flatPlan, base unsafe.Pointer) uint64 {
	if p.bound(base) > flatStack {
		bp := bufPool.Get().(*[]byte)
		b := p.appendFlat((*bp)[:0], base)
		h := hashBytes(seed, b)
		putBuf(bp, b)
		return h
	}
	var stack [flatStack]byte
	return hashBytes(seed, p.appendFlat(stack[:0], base))
}

// noescape hides p from escape analysis; see encodeArgs.
//
//go:nosplit
func noescape(p unsafe.Pointer) unsafe.Pointer {
	x := uintptr(p)
	return *(*unsafe.Pointer)(unsafe.Pointer(&x))
}

// key builds the whole key of args, whose hash is h: readable part, "-",
// hash. Only misses build it.
func (info *fnInfo) key(args any, exclude []string, h uint64) string {
	w, _ := info.readable(args, exclude) // args gave h: they can be keyed
	return info.format(w, h)
}

// readable walks args, a value of the constructor's argument type, for
// the words of its key. It fails where argsHash fails: it is the same walk.
func (info *fnInfo) readable(args any, exclude []string) (*words, error) {
	w := info.newWords(exclude)
	_, err := encodeArgs(info, &args, exclude, w)
	return w, err
}

// format slugs the words and appends the hash.
func (info *fnInfo) format(w *words, h uint64) string {
	slug := Slugify(w.b.String(), false)
	if len(slug) > MaxKeyLen-hashLen-1 {
		slug = slug[:MaxKeyLen-hashLen-1]
		if i := strings.LastIndexByte(slug, '-'); i > len(info.short) {
			slug = slug[:i]
		}
		slug = strings.TrimRight(slug, "-_")
	}
	if slug == "" {
		slug = "fn"
	}
	var hex [hashLen]byte
	const digits = "0123456789abcdef"
	for i := hashLen - 1; i >= 0; i-- {
		hex[i] = digits[h&0xf]
		h >>= 4
	}
	return slug + "-" + string(hex[:])
}

// durationType is shown as a duration, which a count of nanoseconds would
// hide.
var durationType = reflect.TypeFor[time.Duration]()

// words is the readable part of a key as the encoder writes it: the
// constructor's short name, then field names and short values, which a
// person would want to see in a key.
type words struct {
	b       strings.Builder
	exclude []string // top-level names the words leave out
	shift   int      // the words' depth of nesting less the encoder's
}

func (info *fnInfo) newWords(exclude []string) *words {
	w := &words{exclude: exclude}
	w.b.WriteString(info.short)
	return w
}

// shows reports whether a value depth levels down shows in the words: it
// does not when nested too deeply, or when the words are long enough
// already (the slug is cut to fit MaxKeyLen anyway).
func (w *words) shows(depth int) bool {
	return depth+w.shift <= maxDepth && w.b.Len() <= 2*MaxKeyLen
}

// excluded reports whether the field or map key name, depth levels down,
// is left out of the words.
func (w *words) excluded(depth int, name string) bool {
	return depth+w.shift == 0 && slices.Contains(w.exclude, name)
}

// deeper counts n more levels of nesting for the words than for the
// encoder.
func (w *words) deeper(n int) {
	if w != nil {
		w.shift += n
	}
}

// scalar writes the word of v when it is a boolean, a number or a string;
// values of other kinds write their own words, or none.
func (w *words) scalar(v reflect.Value) {
	switch v.Kind() {
	case reflect.Bool:
		w.word(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type() == durationType {
			w.word(time.Duration(v.Int()).String())
		} else {
			w.word(strconv.FormatInt(v.Int(), 10))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		w.word(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		w.word(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.String:
		w.word(v.String())
	}
}

// word writes a value; one too long to read is left to the hash.
func (w *words) word(s string) {
	if len(s) <= maxValueLen {
		w.b.WriteByte(' ')
		w.b.WriteString(s)
	}
}

func (w *words) name(s string) {
	w.b.WriteByte(' ')
	w.b.WriteString(s)
}
