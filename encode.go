package arcache

import (
	"encoding/binary"
	"fmt"
	"image/color"
	"math"
	"reflect"
	"slices"
	"time"
)

var (
	colorType    = reflect.TypeFor[color.Color]()
	durationType = reflect.TypeFor[time.Duration]()
)

// Tags that start each encoded value. Kinds use their reflect.Kind number.
const (
	tagNil   = 0x80 + iota // nil pointer, interface, map or slice
	tagColor               // a color.Color, by its RGBA value
	tagField               // a struct field name follows
	tagEnd                 // the end of a struct
)

// appendValue appends the exact, type-tagged and length-prefixed bytes of
// v to buf: equal values give equal bytes and different values different
// bytes. exclude names top-level struct fields or map keys to leave out.
//
// It builds no strings and allocates nothing for the usual arguments
// (structs of basic values, map[string]any), because it runs on every
// Provide hit.
func appendValue(buf []byte, v reflect.Value, exclude []string, depth int) ([]byte, error) {
	if depth > maxDepth {
		return buf, fmt.Errorf("%w: nested more than %d deep (a cycle?)", ErrUnkeyable, maxDepth)
	}
	t := v.Type()
	if t.Kind() != reflect.Interface && t.NumMethod() > 0 && t.Implements(colorType) && v.CanInterface() {
		return appendColor(buf, v.Interface().(color.Color)), nil
	}
	return appendKind(buf, v, exclude, depth)
}

// appendKind is appendValue for a value already known not to be a color.
func appendKind(buf []byte, v reflect.Value, exclude []string, depth int) ([]byte, error) {
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
		c := v.Complex()
		buf = binary.LittleEndian.AppendUint64(append(buf, byte(k)), math.Float64bits(real(c)))
		return binary.LittleEndian.AppendUint64(buf, math.Float64bits(imag(c))), nil
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
		buf = binary.AppendUvarint(append(buf, byte(k)), uint64(v.Len()))
		var err error
		for i := range v.Len() {
			if buf, err = appendValue(buf, v.Index(i), nil, depth+1); err != nil {
				return buf, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return buf, nil
	case reflect.Pointer:
		if v.IsNil() {
			return append(buf, tagNil), nil
		}
		return appendValue(append(buf, byte(k)), v.Elem(), nil, depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return append(buf, tagNil), nil
		}
		if v.CanInterface() {
			if c, ok := v.Interface().(color.Color); ok {
				return appendColor(buf, c), nil
			}
		}
		return appendValue(append(buf, byte(k)), v.Elem(), nil, depth+1)
	case reflect.Struct:
		return appendStruct(buf, v, planOf(t), exclude, depth)
	case reflect.Map:
		if v.IsNil() {
			return append(buf, tagNil), nil
		}
		return appendMap(buf, v, exclude, depth)
	}
	// Func, Chan, UnsafePointer
	return buf, fmt.Errorf("%w: %s value", ErrUnkeyable, t)
}

func appendStruct(buf []byte, v reflect.Value, p *structPlan, exclude []string, depth int) ([]byte, error) {
	buf = append(buf, byte(reflect.Struct))
	var err error
	for i := range p.fields {
		f := &p.fields[i]
		if depth == 0 && len(exclude) > 0 && slices.Contains(exclude, f.name) {
			continue
		}
		buf = appendString(append(buf, tagField), f.name)
		fv := v.Field(f.index)
		switch {
		case f.color:
			buf = appendColor(buf, fv.Interface().(color.Color))
		case f.sub != nil:
			buf, err = appendStruct(buf, fv, f.sub, nil, depth+1)
		default:
			buf, err = appendKind(buf, fv, nil, depth+1)
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

func appendColor(buf []byte, c color.Color) []byte {
	r, g, b, a := c.RGBA()
	buf = binary.LittleEndian.AppendUint64(append(buf, tagColor), uint64(r)<<32|uint64(g))
	return binary.LittleEndian.AppendUint64(buf, uint64(b)<<32|uint64(a))
}

// appendMap appends a map without sorting it: each entry is encoded and
// hashed on its own (in buf's spare room, which is then given back) and
// the hashes are summed, which does not depend on order.
func appendMap(buf []byte, v reflect.Value, exclude []string, depth int) ([]byte, error) {
	var sum, n uint64
	mark := len(buf)
	skip := func(k string) bool { return depth == 0 && slices.Contains(exclude, k) }
	var err error
	// The common map types are ranged over natively: reflect's MapRange
	// allocates for every string key.
	switch m := v.Interface().(type) {
	case map[string]any:
		for k, x := range m {
			if skip(k) {
				continue
			}
			buf = appendString(append(buf, byte(reflect.String)), k)
			if x == nil {
				buf = append(buf, tagNil)
			} else if buf, err = appendValue(buf, reflect.ValueOf(x), nil, depth+1); err != nil {
				return buf[:mark], fmt.Errorf("map key %q: %w", k, err)
			}
			sum += hashBytes(0x6d6170, buf[mark:])
			n, buf = n+1, buf[:mark]
		}
	case map[string]string:
		for k, x := range m {
			if !skip(k) {
				buf = appendString(append(buf, byte(reflect.String)), k)
				buf = appendString(append(buf, byte(reflect.String)), x)
				sum += hashBytes(0x6d6170, buf[mark:])
				n, buf = n+1, buf[:mark]
			}
		}
	default:
		it := v.MapRange()
		for it.Next() {
			kv := it.Key()
			if kv.Kind() == reflect.String && skip(kv.String()) {
				continue
			}
			buf, err = appendValue(buf, kv, nil, depth+1)
			if err == nil {
				buf, err = appendValue(buf, it.Value(), nil, depth+1)
			}
			if err != nil {
				return buf[:mark], fmt.Errorf("map entry: %w", err)
			}
			sum += hashBytes(0x6d6170, buf[mark:])
			n, buf = n+1, buf[:mark]
		}
	}
	buf = binary.LittleEndian.AppendUint64(append(buf, byte(reflect.Map)), n)
	return binary.LittleEndian.AppendUint64(buf, sum), nil
}

// structPlan lists the fields of a struct type that take part in keys.
type structPlan struct {
	fields []fieldPlan
}

type fieldPlan struct {
	index    int
	name     string
	exported bool
	color    bool        // an exported color.Color, keyed by its RGBA value
	sub      *structPlan // the plan of a struct-typed field that is not a color
}

var plans cowMap[reflect.Type, *structPlan]

func planOf(t reflect.Type) *structPlan {
	if p, ok := plans.load(t); ok {
		return p
	}
	p := &structPlan{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("arcache") == "-" || f.Name == "_" {
			continue
		}
		// Unexported fields are hashed too, so that values differing
		// only there never share a key; they are not shown.
		fp := fieldPlan{index: i, name: f.Name, exported: f.IsExported()}
		isColor := f.Type.Kind() != reflect.Interface && f.Type.Implements(colorType)
		switch {
		case isColor && fp.exported:
			fp.color = true
		case f.Type.Kind() == reflect.Struct && !isColor:
			// A struct type cannot contain itself, so this ends.
			fp.sub = planOf(f.Type)
		}
		p.fields = append(p.fields, fp)
	}
	return plans.loadOrStore(t, p)
}
