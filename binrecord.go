package arcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
)

// A bin file is one gob stream: a binHeader, then one binEntry holding a
// record per cache entry from least to most recently used, then a binEntry
// holding the trailer.
const (
	binMagic   = "arcache bin"
	binVersion = 1
)

type binHeader struct {
	Magic   string
	Version int
}

type binEntry struct {
	Record  *binRecord
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

// Kinds of record; each but kindNone is a type of package image.
const (
	kindNone uint8 = iota
	kindRGBA
	kindNRGBA
	kindRGBA64
	kindNRGBA64
	kindGray
	kindGray16
	kindAlpha
	kindAlpha16
	kindCMYK
	kindPaletted
	kindYCbCr
	kindNYCbCrA
	kindCount
)

// bytesPerPixel of the kinds that keep one Pix slice.
var bytesPerPixel = [kindCount]int{
	kindRGBA: 4, kindNRGBA: 4, kindRGBA64: 8, kindNRGBA64: 8, kindGray: 1,
	kindGray16: 2, kindAlpha: 1, kindAlpha16: 2, kindCMYK: 4, kindPaletted: 1,
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
	r := &binRecord{Key: key, Rect: img.Bounds()}
	switch m := img.(type) {
	case *image.YCbCr:
		r.Kind, r.Stride, r.Pix, r.CStride, r.Ratio, r.Cb, r.Cr = kindYCbCr, m.YStride, m.Y, m.CStride, int(m.SubsampleRatio), m.Cb, m.Cr
	case *image.NYCbCrA:
		r.Kind, r.Stride, r.Pix, r.CStride, r.Ratio, r.Cb, r.Cr = kindNYCbCrA, m.YStride, m.Y, m.CStride, int(m.SubsampleRatio), m.Cb, m.Cr
		r.AStride, r.A = m.AStride, m.A
	case *image.Paletted:
		r.Kind, r.Stride, r.Pix = kindPaletted, m.Stride, m.Pix
		r.Stride, r.Pix = compact(r.Rect, r.Stride, 1, r.Pix)
		r.Palette = appendPalette(nil, m.Palette)
	default:
		if r.Kind, r.Stride, r.Pix = pixPlane(img); r.Kind != kindNone {
			r.Stride, r.Pix = compact(r.Rect, r.Stride, bytesPerPixel[r.Kind], r.Pix)
			break
		}
		var dst draw.Image
		if is16Bit(img.ColorModel()) {
			n := image.NewNRGBA64(r.Rect)
			dst, r.Kind, r.Stride, r.Pix = n, kindNRGBA64, n.Stride, n.Pix
		} else {
			n := image.NewNRGBA(r.Rect)
			dst, r.Kind, r.Stride, r.Pix = n, kindNRGBA, n.Stride, n.Pix
		}
		draw.Draw(dst, r.Rect, img, r.Rect.Min, draw.Src)
	}
	r.CRC = r.checksum()
	return r
}

// pixPlane returns the kind, stride and pixels of an image type that keeps
// its pixels in one Pix slice, or kindNone.
func pixPlane(img image.Image) (kind uint8, stride int, pix []byte) {
	switch m := img.(type) {
	case *image.RGBA:
		return kindRGBA, m.Stride, m.Pix
	case *image.NRGBA:
		return kindNRGBA, m.Stride, m.Pix
	case *image.RGBA64:
		return kindRGBA64, m.Stride, m.Pix
	case *image.NRGBA64:
		return kindNRGBA64, m.Stride, m.Pix
	case *image.Gray:
		return kindGray, m.Stride, m.Pix
	case *image.Gray16:
		return kindGray16, m.Stride, m.Pix
	case *image.Alpha:
		return kindAlpha, m.Stride, m.Pix
	case *image.Alpha16:
		return kindAlpha16, m.Stride, m.Pix
	case *image.CMYK:
		return kindCMYK, m.Stride, m.Pix
	case *image.Paletted:
		return kindPaletted, m.Stride, m.Pix
	}
	return kindNone, 0, nil
}

func is16Bit(m color.Model) bool {
	switch m {
	case color.RGBA64Model, color.NRGBA64Model, color.Gray16Model, color.Alpha16Model:
		return true
	}
	return false
}

// compact drops the pixels a sub-image shares with its parent but does
// not show, so that a record holds only its own.
func compact(r image.Rectangle, stride, bpp int, pix []byte) (int, []byte) {
	row, h := r.Dx()*bpp, r.Dy()
	if h == 0 || row == 0 {
		return 0, nil
	}
	if stride == row && len(pix) == row*h {
		return stride, pix
	}
	out := make([]byte, 0, row*h)
	for y := range h {
		out = append(out, pix[y*stride:y*stride+row]...)
	}
	return row, out
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
	if bpp := bytesPerPixel[r.Kind]; bpp > 0 && !planeFits(rect.Dx(), rect.Dy(), r.Stride, bpp, len(r.Pix)) {
		return nil, fmt.Errorf("%s: pixel data does not fit %v", r.Key, rect)
	}
	switch r.Kind {
	case kindRGBA:
		return &image.RGBA{Pix: r.Pix, Stride: r.Stride, Rect: rect}, nil
	case kindNRGBA:
		return &image.NRGBA{Pix: r.Pix, Stride: r.Stride, Rect: rect}, nil
	case kindRGBA64:
		return &image.RGBA64{Pix: r.Pix, Stride: r.Stride, Rect: rect}, nil
	case kindNRGBA64:
		return &image.NRGBA64{Pix: r.Pix, Stride: r.Stride, Rect: rect}, nil
	case kindGray:
		return &image.Gray{Pix: r.Pix, Stride: r.Stride, Rect: rect}, nil
	case kindGray16:
		return &image.Gray16{Pix: r.Pix, Stride: r.Stride, Rect: rect}, nil
	case kindAlpha:
		return &image.Alpha{Pix: r.Pix, Stride: r.Stride, Rect: rect}, nil
	case kindAlpha16:
		return &image.Alpha16{Pix: r.Pix, Stride: r.Stride, Rect: rect}, nil
	case kindCMYK:
		return &image.CMYK{Pix: r.Pix, Stride: r.Stride, Rect: rect}, nil
	case kindPaletted:
		p, err := readPalette(r.Palette)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Key, err)
		}
		for _, i := range r.Pix {
			if int(i) >= len(p) {
				return nil, fmt.Errorf("%s: colour index %d outside the palette", r.Key, i)
			}
		}
		return &image.Paletted{Pix: r.Pix, Stride: r.Stride, Rect: rect, Palette: p}, nil
	}
	// YCbCr and NYCbCrA.
	ratio := image.YCbCrSubsampleRatio(r.Ratio)
	cw, ch, ok := chromaSize(rect, ratio)
	if !ok || !planeFits(rect.Dx(), rect.Dy(), r.Stride, 1, len(r.Pix)) ||
		!planeFits(cw, ch, r.CStride, 1, len(r.Cb)) || !planeFits(cw, ch, r.CStride, 1, len(r.Cr)) {
		return nil, fmt.Errorf("%s: YCbCr planes do not fit %v", r.Key, rect)
	}
	y := image.YCbCr{Y: r.Pix, Cb: r.Cb, Cr: r.Cr, YStride: r.Stride, CStride: r.CStride, SubsampleRatio: ratio, Rect: rect}
	if r.Kind == kindYCbCr {
		return &y, nil
	}
	if !planeFits(rect.Dx(), rect.Dy(), r.AStride, 1, len(r.A)) {
		return nil, fmt.Errorf("%s: alpha plane does not fit %v", r.Key, rect)
	}
	return &image.NYCbCrA{YCbCr: y, A: r.A, AStride: r.AStride}, nil
}

// planeFits reports whether n bytes hold h rows of w pixels of bpp bytes,
// stride bytes apart.
func planeFits(w, h, stride, bpp, n int) bool {
	if w == 0 || h == 0 {
		return true
	}
	const most = 1 << 40
	if w < 0 || h < 0 || w > most/bpp || stride < w*bpp || stride > most/h {
		return false
	}
	return (h-1)*stride+w*bpp <= n
}

// chromaSize is the size of the Cb and Cr planes, as image.NewYCbCr
// works it out; YCbCr.COffset indexes them relative to the rectangle's
// origin, so an image with a non-zero origin needs the same room.
func chromaSize(r image.Rectangle, ratio image.YCbCrSubsampleRatio) (w, h int, ok bool) {
	w, h = r.Dx(), r.Dy()
	switch ratio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		w = (r.Max.X+1)/2 - r.Min.X/2
	case image.YCbCrSubsampleRatio420:
		w, h = (r.Max.X+1)/2-r.Min.X/2, (r.Max.Y+1)/2-r.Min.Y/2
	case image.YCbCrSubsampleRatio440:
		h = (r.Max.Y+1)/2 - r.Min.Y/2
	case image.YCbCrSubsampleRatio411:
		w = (r.Max.X+3)/4 - r.Min.X/4
	case image.YCbCrSubsampleRatio410:
		w, h = (r.Max.X+3)/4-r.Min.X/4, (r.Max.Y+1)/2-r.Min.Y/2
	default:
		return 0, 0, false
	}
	return w, h, true
}
