package arcache

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"image/color"
	"math"
	"reflect"
	"slices"
	"strings"
	"unsafe"
)

var (
	colorType     = reflect.TypeFor[color.Color]()
	stringAnyType = reflect.TypeFor[map[string]any]()
	stringMapType = reflect.TypeFor[map[string]string]()
)

// Tags that start each encoded value. Kinds use their reflect.Kind number.
const (
	tagNil   = 0x80 + iota // nil pointer, interface, map or slice
	tagColor               // a color.Color, by its RGBA value
	tagField               // a struct field name follows
	tagEnd                 // the end of a struct
)

// mapSeed starts the hash of each map entry.
const mapSeed = 0x6d6170

// isColor reports whether values of t are keyed as colours, by their RGBA
// value. An interface type is not: the value it holds may be.
func isColor(t reflect.Type) bool {
	return t.Kind() != reflect.Interface && t.NumMethod() > 0 && t.Implements(colorType)
}

// An encoder is one walk over the arguments. It appends the exact,
// type-tagged and length-prefixed bytes of each value: equal values give
// equal bytes and different values different bytes. A value that cannot
// be keyed is an error that matches ErrUnkeyable. The readable part of a
// key is written by the same walk, so that the two never disagree on what
// can be keyed.
//
// Without words it builds no strings and allocates nothing for the usual
// arguments (structs of basic values, map[string]any), because it runs on
// every Provide hit.
type encoder struct {
	exclude []string // top-level struct fields and map keys to leave out
	words   *words   // receives the readable part; nil on the hit path
	quietly *encoder // this walk without words, for values that show none
}

// newWordsEncoder returns an encoder that also writes the words of the
// readable part to w.
func newWordsEncoder(exclude []string, w *words) *encoder {
	return &encoder{exclude: exclude, words: w, quietly: &encoder{exclude: exclude}}
}

// quiet returns e without its words.
func (e *encoder) quiet() *encoder {
	if e.words == nil {
		return e
	}
	return e.quietly
}

// at returns e for a value depth levels down, or e without its words when
// that value shows none.
func (e *encoder) at(depth int) *encoder {
	if e.words == nil || e.words.shows(depth) {
		return e
	}
	return e.quietly
}

// skip reports whether the top-level field or map key name is left out.
func (e *encoder) skip(depth int, name string) bool {
	return depth == 0 && len(e.exclude) > 0 && slices.Contains(e.exclude, name)
}

// appendValue appends v, depth levels into the arguments, to buf.
func (e *encoder) appendValue(buf []byte, v reflect.Value, depth int) ([]byte, error) {
	if depth > maxDepth {
		return buf, fmt.Errorf("%w: nested more than %d deep (a cycle?)", ErrUnkeyable, maxDepth)
	}
	// A value reached through an unexported field cannot be asked for its
	// colour, and is keyed by what it holds. Most values have no methods,
	// and NumMethod tells so without a call to isColor.
	if t := v.Type(); t.NumMethod() > 0 && isColor(t) && v.CanInterface() {
		return e.appendColor(buf, v, v.Interface().(color.Color), depth), nil
	}
	return e.appendKind(buf, v, depth)
}

// appendKind is appendValue for a value already known not to be a color.
func (e *encoder) appendKind(buf []byte, v reflect.Value, depth int) ([]byte, error) {
	if e.words != nil {
		if e = e.at(depth); e.words != nil {
			e.words.scalar(v)
		}
	}
	t := v.Type()
	switch k := t.Kind(); k {
	case reflect.Bool:
		b := byte(0)
		if v.Bool() {
			b = 1
		}
		return append(buf, byte(k), b), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return binary.LittleEndian.AppendUint64(append(buf, byte(k)), uint64(v.Int())), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return binary.LittleEndian.AppendUint64(append(buf, byte(k)), v.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return binary.LittleEndian.AppendUint64(append(buf, byte(k)), math.Float64bits(v.Float())), nil
	case reflect.Complex64, reflect.Complex128:
		return appendComplex(append(buf, byte(k)), v.Complex()), nil
	case reflect.String:
		return appendString(append(buf, byte(k)), v.String()), nil
	case reflect.Slice:
		if v.IsNil() {
			return append(buf, tagNil), nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			b := v.Bytes()
			buf = binary.AppendUvarint(append(buf, byte(k)), uint64(len(b)))
			return append(buf, b...), nil
		}
		fallthrough
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			e = e.quiet() // raw bytes mean nothing to a reader
		}
		buf = binary.AppendUvarint(append(buf, byte(k)), uint64(v.Len()))
		var err error
		for i := range v.Len() {
			if buf, err = e.appendValue(buf, v.Index(i), depth+1); err != nil {
				return buf, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return buf, nil
	case reflect.Pointer:
		if v.IsNil() {
			return append(buf, tagNil), nil
		}
		return e.appendValue(append(buf, byte(k)), v.Elem(), depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return append(buf, tagNil), nil
		}
		if v.CanInterface() {
			if c, ok := v.Interface().(color.Color); ok {
				return e.appendColor(buf, v.Elem(), c, depth+1), nil
			}
		}
		return e.appendValue(append(buf, byte(k)), v.Elem(), depth+1)
	case reflect.Struct:
		return e.appendStruct(buf, v, planOf(t), depth)
	case reflect.Map:
		if v.IsNil() {
			return append(buf, tagNil), nil
		}
		return e.appendMap(buf, v, depth)
	}
	// Func, Chan, UnsafePointer: nothing in them can be compared across
	// runs.
	return buf, fmt.Errorf("%w: %s value", ErrUnkeyable, t)
}

func (e *encoder) appendStruct(buf []byte, v reflect.Value, p *structPlan, depth int) ([]byte, error) {
	if e.words != nil {
		e = e.at(depth)
	}
	buf = append(buf, byte(reflect.Struct))
	var err error
	skip, w := depth == 0 && len(e.exclude) > 0, e.words
	for i := range p.fields {
		f := &p.fields[i]
		if skip && slices.Contains(e.exclude, f.name) {
			continue
		}
		fe := e
		if w != nil {
			if f.exported && !w.excluded(depth, f.name) {
				w.name(f.name)
			} else {
				fe = e.quiet()
			}
		}
		buf = append(buf, f.head...)
		fv := v.Field(f.index)
		switch {
		case f.color && fv.CanInterface():
			buf = fe.appendColor(buf, fv, fv.Interface().(color.Color), depth+1)
		case f.sub != nil:
			buf, err = fe.appendStruct(buf, fv, f.sub, depth+1)
		default:
			buf, err = fe.appendKind(buf, fv, depth+1)
		}
		if err != nil {
			return buf, fmt.Errorf("field %s: %w", f.name, err)
		}
	}
	return append(buf, tagEnd), nil
}

func appendString(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

// appendColor appends c, the colour v holds, by its RGBA value.
func (e *encoder) appendColor(buf []byte, v reflect.Value, c color.Color, depth int) []byte {
	if v.Kind() == reflect.Pointer && v.IsNil() && v.Type().Elem().Implements(colorType) {
		// RGBA has a value receiver, and calling it would panic.
		return append(buf, tagNil)
	}
	r, g, b, a := c.RGBA()
	if w := e.at(depth).words; w != nil {
		w.word(fmt.Sprintf("%02x%02x%02x%02x", r>>8, g>>8, b>>8, a>>8))
	}
	buf = binary.LittleEndian.AppendUint64(append(buf, tagColor), uint64(r)<<32|uint64(g))
	return binary.LittleEndian.AppendUint64(buf, uint64(b)<<32|uint64(a))
}

// appendMap appends a map without sorting it: each entry is encoded and
// hashed on its own (in buf's spare room, which is then given back) and
// the hashes are summed, which does not depend on order.
func (e *encoder) appendMap(buf []byte, v reflect.Value, depth int) ([]byte, error) {
	var sum, n uint64
	mark := len(buf)
	var err error
	if e.words == nil && v.CanInterface() {
		// The common map types are ranged over natively: reflect's
		// MapRange allocates for every string key.
		switch m := v.Interface().(type) {
		case map[string]any:
			for k, x := range m {
				if e.skip(depth, k) {
					continue
				}
				// As appendAnyEntry, which would cost a call an entry.
				buf = appendString(append(buf, byte(reflect.String)), k)
				if x == nil {
					buf = append(buf, tagNil)
				} else if buf, err = e.appendValue(buf, reflect.ValueOf(x), depth+1); err != nil {
					return buf[:mark], fmt.Errorf("map key %q: %w", k, err)
				}
				sum += hashBytes(mapSeed, buf[mark:])
				n, buf = n+1, buf[:mark]
			}
			return appendMapEnd(buf, n, sum), nil
		case map[string]string:
			for k, x := range m {
				if !e.skip(depth, k) { // as appendStringEntry
					buf = appendString(append(buf, byte(reflect.String)), k)
					buf = appendString(append(buf, byte(reflect.String)), x)
					sum += hashBytes(mapSeed, buf[mark:])
					n, buf = n+1, buf[:mark]
				}
			}
			return appendMapEnd(buf, n, sum), nil
		}
	}
	// The readable part shows the entries in order, which the hash sum
	// does not need: they are remembered, sorted, and walked again.
	type entry struct {
		k     reflect.Value
		order string
		h     uint64
	}
	var sorted []entry
	t := v.Type()
	q := e.quiet()
	it := v.MapRange()
	for it.Next() {
		k := it.Key()
		if k.Kind() == reflect.String && e.skip(depth, k.String()) {
			continue
		}
		if buf, err = q.appendEntry(buf, t, k, it.Value(), depth); err != nil {
			return buf[:mark], err
		}
		h := hashBytes(mapSeed, buf[mark:])
		sum, n, buf = sum+h, n+1, buf[:mark]
		if e.words != nil {
			sorted = append(sorted, entry{k, fmt.Sprint(k), h})
		}
	}
	// Keys that print alike are ordered by their hash, so that the words
	// do not depend on the map's order.
	slices.SortFunc(sorted, func(a, b entry) int {
		return cmp.Or(strings.Compare(a.order, b.order), cmp.Compare(a.h, b.h))
	})
	for _, en := range sorted {
		if en.k.Kind() == reflect.String && e.words.excluded(depth, en.k.String()) {
			continue
		}
		// MapIndex, not the value ranged over: a key that is not equal
		// to itself (NaN) finds nothing, and the readable part has never
		// shown its value.
		buf, _ = e.appendEntry(buf, t, en.k, v.MapIndex(en.k), depth)
		buf = buf[:mark]
	}
	return appendMapEnd(buf, n, sum), nil
}

func appendMapEnd(buf []byte, n, sum uint64) []byte {
	buf = binary.LittleEndian.AppendUint64(append(buf, byte(reflect.Map)), n)
	return binary.LittleEndian.AppendUint64(buf, sum)
}

// appendEntry appends the entry k: x of a map of type t, as appendMap's
// native loops do for the types they range over. x may be invalid.
func (e *encoder) appendEntry(buf []byte, t reflect.Type, k, x reflect.Value, depth int) ([]byte, error) {
	var err error
	switch {
	case t == stringAnyType:
		if buf, err = e.appendAnyEntry(buf, k.String(), x.Elem(), depth); err != nil {
			return buf, fmt.Errorf("map key %q: %w", k.String(), err)
		}
	case t == stringMapType:
		buf = e.appendStringEntry(buf, k.String(), x.String(), depth)
	default:
		buf, err = e.appendValue(buf, k, depth+1)
		if err == nil && x.IsValid() {
			buf, err = e.appendValue(buf, x, depth+1)
		}
		if err != nil {
			return buf, fmt.Errorf("map entry: %w", err)
		}
	}
	return buf, nil
}

// appendAnyEntry appends an entry of a map[string]any; x is the value
// held, invalid for nil.
func (e *encoder) appendAnyEntry(buf []byte, k string, x reflect.Value, depth int) ([]byte, error) {
	if w := e.at(depth + 1).words; w != nil {
		w.word(k)
	}
	buf = appendString(append(buf, byte(reflect.String)), k)
	if !x.IsValid() {
		return append(buf, tagNil), nil
	}
	// The readable part has always counted the interface around x as a
	// level of nesting, and the encoding, which does not see it, has not.
	e.words.deeper(1)
	buf, err := e.appendValue(buf, x, depth+1)
	e.words.deeper(-1)
	return buf, err
}

func (e *encoder) appendStringEntry(buf []byte, k, x string, depth int) []byte {
	if w := e.at(depth + 1).words; w != nil {
		w.word(k)
	}
	if w := e.at(depth + 1).words; w != nil {
		w.word(x)
	}
	buf = appendString(append(buf, byte(reflect.String)), k)
	return appendString(append(buf, byte(reflect.String)), x)
}

// structPlan lists the fields of a struct type that take part in keys.
type structPlan struct {
	typ    reflect.Type
	fields []fieldPlan
	flat   *flatPlan // nil unless every field is a bool, a number or a string
}

type fieldPlan struct {
	index    int
	name     string
	head     string      // what precedes the value: tagField and the length-prefixed name
	exported bool        // shown in the readable part; every field is hashed
	color    bool        // an exported color.Color, keyed by its RGBA value
	sub      *structPlan // the plan of a struct-typed field that is not a color
}

var plans cowMap[reflect.Type, *structPlan]

func planOf(t reflect.Type) *structPlan {
	if p, ok := plans.load(t); ok {
		return p
	}
	p := &structPlan{typ: t}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("arcache") == "-" || f.Name == "_" {
			continue
		}
		// Unexported fields are hashed too, so that values differing
		// only there never share a key; they are not shown.
		fp := fieldPlan{index: i, name: f.Name, head: fieldHead(f.Name), exported: f.IsExported()}
		c := isColor(f.Type)
		switch {
		case c && fp.exported:
			fp.color = true
		case f.Type.Kind() == reflect.Struct && !c:
			// A struct type cannot contain itself, so this ends.
			fp.sub = planOf(f.Type)
		}
		p.fields = append(p.fields, fp)
	}
	p.flat = newFlatPlan(t, p.fields)
	return plans.loadOrStore(t, p)
}

func fieldHead(name string) string {
	return string(appendString([]byte{tagField}, name))
}

// flatPlan is the encoding of a struct of bools, numbers and strings, as
// appendStruct writes it without words or exclusions: constant bytes
// between values read straight from memory, which on a Provide hit costs
// far less than reflect.
type flatPlan struct {
	fields []flatField
	// fixed bounds the encoding but for its strings' bytes, which are at
	// the offsets in strs.
	fixed int
	strs  []uintptr
}

type flatField struct {
	lead string // the bytes before the value: the field's head and kind byte
	off  uintptr
	kind reflect.Kind
}

// newFlatPlan returns the flat plan of the struct type t whose keyed
// fields are fields, or nil if one of them is of a kind appendScalar does
// not write or of a colour type, which appendStruct keys by its RGBA value
// when exported.
func newFlatPlan(t reflect.Type, fields []fieldPlan) *flatPlan {
	fp := &flatPlan{fixed: 2} // the struct's kind byte and tagEnd
	for _, f := range fields {
		sf := t.Field(f.index)
		k := sf.Type.Kind()
		n := scalarLen(k)
		if n < 0 || isColor(sf.Type) {
			return nil
		}
		if k == reflect.String {
			fp.strs = append(fp.strs, sf.Offset)
		}
		lead := f.head + string([]byte{byte(k)})
		fp.fields = append(fp.fields, flatField{lead: lead, off: sf.Offset, kind: k})
		fp.fixed += len(lead) + n
	}
	return fp
}

// scalarLen is the most bytes appendScalar writes for a value of kind k
// but for a string's bytes, or -1 for a kind it does not write.
func scalarLen(k reflect.Kind) int {
	switch k {
	case reflect.Bool:
		return 1
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return 8
	case reflect.Complex64, reflect.Complex128:
		return 16
	case reflect.String:
		return binary.MaxVarintLen64
	}
	return -1
}

// bound bounds the length of the encoding of the struct at base.
func (p *flatPlan) bound(base unsafe.Pointer) int {
	n := p.fixed
	for _, off := range p.strs {
		n += len(*(*string)(unsafe.Add(base, off)))
	}
	return n
}

// appendFlat appends the struct at base, byte for byte as appendStruct
// does.
func (p *flatPlan) appendFlat(buf []byte, base unsafe.Pointer) []byte {
	buf = append(buf, byte(reflect.Struct))
	for i := range p.fields {
		f := &p.fields[i]
		buf = appendScalar(append(buf, f.lead...), f.kind, unsafe.Add(base, f.off))
	}
	return append(buf, tagEnd)
}

// appendScalar appends the value of kind k at x, after its kind byte, as
// appendKind does: integers widened to 64 bits, sign-extended if signed,
// and floats widened to float64 as reflect.Value.Float does.
func appendScalar(buf []byte, k reflect.Kind, x unsafe.Pointer) []byte {
	var u uint64
	switch k {
	case reflect.Bool:
		if *(*bool)(x) {
			return append(buf, 1)
		}
		return append(buf, 0)
	case reflect.Int:
		u = uint64(*(*int)(x))
	case reflect.Int8:
		u = uint64(*(*int8)(x))
	case reflect.Int16:
		u = uint64(*(*int16)(x))
	case reflect.Int32:
		u = uint64(*(*int32)(x))
	case reflect.Int64:
		u = uint64(*(*int64)(x))
	case reflect.Uint:
		u = uint64(*(*uint)(x))
	case reflect.Uint8:
		u = uint64(*(*uint8)(x))
	case reflect.Uint16:
		u = uint64(*(*uint16)(x))
	case reflect.Uint32:
		u = uint64(*(*uint32)(x))
	case reflect.Uint64:
		u = *(*uint64)(x)
	case reflect.Uintptr:
		u = uint64(*(*uintptr)(x))
	case reflect.Float32:
		u = math.Float64bits(float64(*(*float32)(x)))
	case reflect.Float64:
		u = math.Float64bits(*(*float64)(x))
	case reflect.Complex64:
		return appendComplex(buf, complex128(*(*complex64)(x)))
	case reflect.Complex128:
		return appendComplex(buf, *(*complex128)(x))
	case reflect.String:
		return appendString(buf, *(*string)(x))
	default:
		panic("arcache: appendScalar of " + k.String()) // newFlatPlan lets in no other kind
	}
	return binary.LittleEndian.AppendUint64(buf, u)
}

func appendComplex(buf []byte, c complex128) []byte {
	buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(real(c)))
	return binary.LittleEndian.AppendUint64(buf, math.Float64bits(imag(c)))
}
