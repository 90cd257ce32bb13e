package arcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
)

// A bin file is one gob stream: a binHeader, then one binEntry holding a
// record per cache entry from least to most recently used, then a binEntry
// holding the trailer. Version 2 carries each record as its bytes (see
// recordbytes.go), the form the shared tier stores too; version 1, still
// read, carried the binRecord itself.
const (
	binMagic   = "arcache bin"
	binVersion = 2
)

type binHeader struct {
	Magic   string
	Version int
}

type binEntry struct {
	Bytes   []byte     // version 2: a record's bytes
	Record  *binRecord // version 1
	Trailer *binTrailer
}

type binTrailer struct {
	Count int // records written
}

// binRecord is one image, in a form that brings back its concrete type.
type binRecord struct {
	Key     string
	Kind    uint8
	Rect    image.Rectangle
	Stride  int
	Pix     []byte // also the Y plane of YCbCr and NYCbCrA
	CStride int    // YCbCr, NYCbCrA
	Ratio   int    // image.YCbCrSubsampleRatio
	Cb, Cr  []byte
	AStride int // NYCbCrA
	A       []byte
	Palette []byte // Paletted: 9 bytes a colour, see appendPalette
	CRC     uint32 // CRC-32C of Pix, Cb, Cr, A and Palette, in that order
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (r *binRecord) checksum() uint32 {
	crc := crc32.Update(0, castagnoli, r.Pix)
	for _, b := range [][]byte{r.Cb, r.Cr, r.A, r.Palette} {
		crc = crc32.Update(crc, castagnoli, b)
	}
	return crc
}

// newRecord describes img. Types outside package image are converted to
// NRGBA, or to NRGBA64 when their colour model has 16 bits.
func newRecord(key string, img image.Image) *binRecord {
	k, p := kindOf(img)
	if k == kindNone {
		k, p = kindOf(nrgbaCopy(img)) // a copy holds only its own pixels
	} else if !imageKinds[k].chroma {
		p.stride, p.pix = compact(p.rect, p.stride, imageKinds[k].bpp, p.pix)
	}
	r := &binRecord{
		Key: key, Kind: k, Rect: p.rect, Stride: p.stride, Pix: p.pix,
		CStride: p.cstride, Ratio: int(p.ratio), Cb: p.cb, Cr: p.cr,
		AStride: p.astride, A: p.a, Palette: appendPalette(nil, p.palette),
	}
	r.CRC = r.checksum()
	return r
}

// Palette colours keep their type when it is one of package color's, so
// that Paletted.At returns what it returned before; any other colour comes
// back as color.RGBA64 with the same RGBA value. Each takes 9 bytes: the
// type, then up to four 8- or 16-bit values.
const (
	palRGBA byte = iota
	palNRGBA
	palGray
	palAlpha
	palRGBA64
	palNRGBA64
	palGray16
	palAlpha16
	palCMYK
)

func appendPalette(b []byte, p color.Palette) []byte {
	for _, c := range p {
		switch c := c.(type) {
		case color.RGBA:
			b = append(b, palRGBA, c.R, c.G, c.B, c.A, 0, 0, 0, 0)
		case color.NRGBA:
			b = append(b, palNRGBA, c.R, c.G, c.B, c.A, 0, 0, 0, 0)
		case color.Gray:
			b = append(b, palGray, c.Y, 0, 0, 0, 0, 0, 0, 0)
		case color.Alpha:
			b = append(b, palAlpha, c.A, 0, 0, 0, 0, 0, 0, 0)
		case color.CMYK:
			b = append(b, palCMYK, c.C, c.M, c.Y, c.K, 0, 0, 0, 0)
		case color.NRGBA64:
			b = append16(append(b, palNRGBA64), c.R, c.G, c.B, c.A)
		case color.Gray16:
			b = append16(append(b, palGray16), c.Y, 0, 0, 0)
		case color.Alpha16:
			b = append16(append(b, palAlpha16), c.A, 0, 0, 0)
		default:
			r, g, bl, a := c.RGBA()
			b = append16(append(b, palRGBA64), uint16(r), uint16(g), uint16(bl), uint16(a))
		}
	}
	return b
}

func append16(b []byte, v ...uint16) []byte {
	for _, x := range v {
		b = binary.BigEndian.AppendUint16(b, x)
	}
	return b
}

func readPalette(b []byte) (color.Palette, error) {
	if len(b)%9 != 0 || len(b)/9 > 256 {
		return nil, errors.New("bad palette")
	}
	p := make(color.Palette, len(b)/9)
	for i := range p {
		e := b[i*9 : i*9+9]
		switch e[0] {
		case palRGBA:
			p[i] = color.RGBA{e[1], e[2], e[3], e[4]}
		case palNRGBA:
			p[i] = color.NRGBA{e[1], e[2], e[3], e[4]}
		case palGray:
			p[i] = color.Gray{e[1]}
		case palAlpha:
			p[i] = color.Alpha{e[1]}
		case palCMYK:
			p[i] = color.CMYK{e[1], e[2], e[3], e[4]}
		case palRGBA64:
			p[i] = color.RGBA64{u16(e, 0), u16(e, 1), u16(e, 2), u16(e, 3)}
		case palNRGBA64:
			p[i] = color.NRGBA64{u16(e, 0), u16(e, 1), u16(e, 2), u16(e, 3)}
		case palGray16:
			p[i] = color.Gray16{u16(e, 0)}
		case palAlpha16:
			p[i] = color.Alpha16{u16(e, 0)}
		default:
			return nil, fmt.Errorf("bad palette colour type %d", e[0])
		}
	}
	return p, nil
}

// u16 is the i'th 16-bit value of a palette entry.
func u16(e []byte, i int) uint16 { return binary.BigEndian.Uint16(e[1+2*i:]) }

// image checks the record and rebuilds its image. A record that does not
// check out is an error, never a panic.
func (r *binRecord) image() (image.Image, error) {
	if !ValidKey(r.Key) {
		return nil, fmt.Errorf("invalid key %q", r.Key)
	}
	if r.CRC != r.checksum() {
		return nil, fmt.Errorf("%s: checksum mismatch", r.Key)
	}
	if r.Kind == kindNone || r.Kind >= kindCount {
		return nil, fmt.Errorf("%s: unknown image kind %d", r.Key, r.Kind)
	}
	rect := r.Rect
	// Dx and Dy are negative when they overflow, too.
	if rect.Max.X < rect.Min.X || rect.Max.Y < rect.Min.Y || rect.Dx() < 0 || rect.Dy() < 0 {
		return nil, fmt.Errorf("%s: bad bounds %v", r.Key, rect)
	}
	k := &imageKinds[r.Kind]
	p := pixels{
		rect: rect, stride: r.Stride, pix: r.Pix,
		cstride: r.CStride, ratio: image.YCbCrSubsampleRatio(r.Ratio), cb: r.Cb, cr: r.Cr,
		astride: r.AStride, a: r.A,
	}
	if k.indexed {
		var err error
		if p.palette, err = readPalette(r.Palette); err != nil {
			return nil, fmt.Errorf("%s: %w", r.Key, err)
		}
	}
	if err := p.fit(k); err != nil {
		return nil, fmt.Errorf("%s: %w", r.Key, err)
	}
	return k.build(p), nil
}
