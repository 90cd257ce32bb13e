package arcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A record's bytes: its fields in order, numbers as varints, byte slices
// after their lengths, the CRC last. A bin file carries them in its gob
// stream, and the shared tier holds them one image a value: a record of
// its own gob stream would cost a decoder that compiles its types afresh
// for every value. binRecord.image checks what they hold.

// appendBinary appends r's bytes to b.
func (r *binRecord) appendBinary(b []byte) []byte {
	b = appendBytes(b, []byte(r.Key))
	b = append(b, r.Kind)
	for _, v := range [...]int{r.Rect.Min.X, r.Rect.Min.Y, r.Rect.Max.X, r.Rect.Max.Y, r.Stride, r.CStride, r.Ratio, r.AStride} {
		b = binary.AppendVarint(b, int64(v))
	}
	for _, p := range [...][]byte{r.Pix, r.Cb, r.Cr, r.A, r.Palette} {
		b = appendBytes(b, p)
	}
	return binary.BigEndian.AppendUint32(b, r.CRC)
}

func appendBytes(b, p []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(p))), p...)
}

var errRecordBytes = errors.New("malformed record")

// parseRecord reads the record appendBinary wrote. Its byte slices share
// b's memory: nothing is allocated for the pixels.
func parseRecord(b []byte) (*binRecord, error) {
	p := recordParser{b: b}
	r := &binRecord{Key: string(p.bytes())}
	r.Kind = p.byte()
	for _, v := range [...]*int{&r.Rect.Min.X, &r.Rect.Min.Y, &r.Rect.Max.X, &r.Rect.Max.Y, &r.Stride, &r.CStride, &r.Ratio, &r.AStride} {
		*v = p.int()
	}
	for _, s := range [...]*[]byte{&r.Pix, &r.Cb, &r.Cr, &r.A, &r.Palette} {
		*s = p.bytes()
	}
	if len(p.b) >= 4 && p.err == nil {
		r.CRC = binary.BigEndian.Uint32(p.b)
		p.b = p.b[4:]
	} else if p.err == nil {
		p.err = fmt.Errorf("%w: no CRC", errRecordBytes)
	}
	if p.err == nil && len(p.b) != 0 {
		p.err = fmt.Errorf("%w: %d bytes after the CRC", errRecordBytes, len(p.b))
	}
	return r, p.err
}

// recordParser reads b; its first error stops it.
type recordParser struct {
	b   []byte
	err error
}

func (p *recordParser) byte() byte {
	if p.err != nil {
		return 0
	}
	if len(p.b) == 0 {
		p.err = fmt.Errorf("%w: cut short", errRecordBytes)
		return 0
	}
	v := p.b[0]
	p.b = p.b[1:]
	return v
}

func (p *recordParser) int() int {
	if p.err != nil {
		return 0
	}
	v, n := binary.Varint(p.b)
	if n <= 0 || v < math.MinInt32 || v > math.MaxInt32 {
		p.err = fmt.Errorf("%w: bad number", errRecordBytes)
		return 0
	}
	p.b = p.b[n:]
	return int(v)
}

func (p *recordParser) bytes() []byte {
	if p.err != nil {
		return nil
	}
	n, k := binary.Uvarint(p.b)
	if k <= 0 || n > uint64(len(p.b)-k) {
		p.err = fmt.Errorf("%w: bad length", errRecordBytes)
		return nil
	}
	s := p.b[k : k+int(n) : k+int(n)]
	p.b = p.b[k+int(n):]
	if len(s) == 0 {
		return nil // as gob gives an empty slice back
	}
	return s
}
