package arcache

import (
	"fmt"
	"image"
	"image/color"
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
		return "", fmt.Errorf("arcache: Key: nil constructor")
	}
	po := mergeOptions(opts)
	info := infoOf(fn, po.name)
	h, err := argsHash(info, &args, po.exclude)
	if err != nil {
		return "", err
	}
	return info.key(args, po.exclude, h), nil
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
	if name != "" {
		k := nameKey{name, reflect.TypeFor[A]()}
		if info, ok := infoByName.Load(k); ok {
			return info.(*fnInfo)
		}
		info, _ := infoByName.LoadOrStore(k, newInfo("name:"+name, name, k.args))
		return info.(*fnInfo)
	}
	pc := reflect.ValueOf(fn).Pointer()
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
	info := &fnInfo{id: id, short: s, seed: hashString(0x616263, id)}
	if args.Kind() == reflect.Struct && !args.Implements(colorType) {
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
	// The reflect.Value of args would otherwise make every call move args
	// to the heap. appendValue only reads through it and keeps nothing
	// once it returns, as strings.Builder's use of the same trick does.
	v := reflect.ValueOf((*A)(noescape(unsafe.Pointer(args)))).Elem()
	bp := bufPool.Get().(*[]byte)
	var b []byte
	var err error
	if info.plan != nil {
		b, err = appendStruct((*bp)[:0], v, info.plan, exclude, 0)
	} else {
		b, err = appendValue((*bp)[:0], v, exclude, 0)
	}
	h := hashBytes(info.seed, b)
	if cap(b) <= 64<<10 {
		*bp = b
		bufPool.Put(bp)
	}
	return h, err
}

// bufPool holds encoding buffers: the encoder is recursive, which would
// move a stack buffer to the heap on every call.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// noescape hides p from escape analysis; see argsHash.
//
//go:nosplit
func noescape(p unsafe.Pointer) unsafe.Pointer {
	x := uintptr(p)
	return *(*unsafe.Pointer)(unsafe.Pointer(&x))
}

// key builds the whole key: readable part, "-", hash.
func (info *fnInfo) key(args any, exclude []string, h uint64) string {
	var r strings.Builder
	r.WriteString(info.short)
	readable(&r, reflect.ValueOf(args), exclude, 0)
	slug := Slugify(r.String(), false)
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

// readable writes the words of v that a person would want to see in a key:
// field names and short values. Only misses build it.
func readable(w *strings.Builder, v reflect.Value, exclude []string, depth int) {
	if depth > maxDepth || w.Len() > 2*MaxKeyLen {
		return
	}
	word := func(s string) {
		if len(s) <= maxValueLen {
			w.WriteByte(' ')
			w.WriteString(s)
		}
	}
	if !v.IsValid() {
		return
	}
	t := v.Type()
	if t == durationType {
		word(time.Duration(v.Int()).String())
		return
	}
	if t.Kind() != reflect.Interface && t.Implements(colorType) && v.CanInterface() {
		r, g, b, a := v.Interface().(color.Color).RGBA()
		word(fmt.Sprintf("%02x%02x%02x%02x", r>>8, g>>8, b>>8, a>>8))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		word(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		word(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		word(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		word(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.String:
		word(v.String())
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := range v.Len() {
			readable(w, v.Index(i), nil, depth+1)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			readable(w, v.Elem(), nil, depth+1)
		}
	case reflect.Struct:
		for _, f := range planOf(t).fields {
			if !f.exported || depth == 0 && slices.Contains(exclude, f.name) {
				continue
			}
			w.WriteByte(' ')
			w.WriteString(f.name)
			readable(w, v.Field(f.index), nil, depth+1)
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
		})
		for _, k := range keys {
			if depth == 0 && k.Kind() == reflect.String && slices.Contains(exclude, k.String()) {
				continue
			}
			readable(w, k, nil, depth+1)
			readable(w, v.MapIndex(k), nil, depth+1)
		}
	}
}
