package arcache

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
)

// Kinds of image whose pixels the cache can see: each but kindNone is a
// type of package image. Bin files store the number, so a kind keeps its
// number for good.
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

// pixels is the memory of an image, plane by plane. Each kind uses the
// planes its type has and leaves the rest zero.
type pixels struct {
	rect    image.Rectangle
	stride  int
	pix     []byte // also the Y plane of YCbCr and NYCbCrA
	cstride int
	ratio   image.YCbCrSubsampleRatio
	cb, cr  []byte
	astride int
	a       []byte
	palette color.Palette
}

// imageKind is what the cache knows of one image type.
type imageKind struct {
	bpp     int  // bytes a pixel in pix
	chroma  bool // pix is the Y plane, beside Cb and Cr planes
	alpha   bool // an alpha plane too
	indexed bool // pix indexes the palette
	// planes returns the pixels of img if it is of this kind.
	planes func(img image.Image) (pixels, bool)
	// build returns an image of this kind on p, which must fit it.
	build func(p pixels) image.Image
}

// imageKinds is indexed by kind.
var imageKinds = [kindCount]imageKind{
	kindRGBA: kindEntry(imageKind{bpp: 4},
		func(m *image.RGBA) pixels { return pixels{stride: m.Stride, pix: m.Pix} },
		func(p pixels) *image.RGBA { return &image.RGBA{Pix: p.pix, Stride: p.stride, Rect: p.rect} }),
	kindNRGBA: kindEntry(imageKind{bpp: 4},
		func(m *image.NRGBA) pixels { return pixels{stride: m.Stride, pix: m.Pix} },
		func(p pixels) *image.NRGBA { return &image.NRGBA{Pix: p.pix, Stride: p.stride, Rect: p.rect} }),
	kindRGBA64: kindEntry(imageKind{bpp: 8},
		func(m *image.RGBA64) pixels { return pixels{stride: m.Stride, pix: m.Pix} },
		func(p pixels) *image.RGBA64 { return &image.RGBA64{Pix: p.pix, Stride: p.stride, Rect: p.rect} }),
	kindNRGBA64: kindEntry(imageKind{bpp: 8},
		func(m *image.NRGBA64) pixels { return pixels{stride: m.Stride, pix: m.Pix} },
		func(p pixels) *image.NRGBA64 { return &image.NRGBA64{Pix: p.pix, Stride: p.stride, Rect: p.rect} }),
	kindGray: kindEntry(imageKind{bpp: 1},
		func(m *image.Gray) pixels { return pixels{stride: m.Stride, pix: m.Pix} },
		func(p pixels) *image.Gray { return &image.Gray{Pix: p.pix, Stride: p.stride, Rect: p.rect} }),
	kindGray16: kindEntry(imageKind{bpp: 2},
		func(m *image.Gray16) pixels { return pixels{stride: m.Stride, pix: m.Pix} },
		func(p pixels) *image.Gray16 { return &image.Gray16{Pix: p.pix, Stride: p.stride, Rect: p.rect} }),
	kindAlpha: kindEntry(imageKind{bpp: 1},
		func(m *image.Alpha) pixels { return pixels{stride: m.Stride, pix: m.Pix} },
		func(p pixels) *image.Alpha { return &image.Alpha{Pix: p.pix, Stride: p.stride, Rect: p.rect} }),
	kindAlpha16: kindEntry(imageKind{bpp: 2},
		func(m *image.Alpha16) pixels { return pixels{stride: m.Stride, pix: m.Pix} },
		func(p pixels) *image.Alpha16 { return &image.Alpha16{Pix: p.pix, Stride: p.stride, Rect: p.rect} }),
	kindCMYK: kindEntry(imageKind{bpp: 4},
		func(m *image.CMYK) pixels { return pixels{stride: m.Stride, pix: m.Pix} },
		func(p pixels) *image.CMYK { return &image.CMYK{Pix: p.pix, Stride: p.stride, Rect: p.rect} }),
	kindPaletted: kindEntry(imageKind{bpp: 1, indexed: true},
		func(m *image.Paletted) pixels { return pixels{stride: m.Stride, pix: m.Pix, palette: m.Palette} },
		func(p pixels) *image.Paletted {
			return &image.Paletted{Pix: p.pix, Stride: p.stride, Rect: p.rect, Palette: p.palette}
		}),
	kindYCbCr: kindEntry(imageKind{bpp: 1, chroma: true},
		func(m *image.YCbCr) pixels { return ycbcrPixels(m) },
		func(p pixels) *image.YCbCr { y := ycbcrOf(p); return &y }),
	kindNYCbCrA: kindEntry(imageKind{bpp: 1, chroma: true, alpha: true},
		func(m *image.NYCbCrA) pixels {
			p := ycbcrPixels(&m.YCbCr)
			p.astride, p.a = m.AStride, m.A
			return p
		},
		func(p pixels) *image.NYCbCrA { return &image.NYCbCrA{YCbCr: ycbcrOf(p), A: p.a, AStride: p.astride} }),
}

// kindEntry completes the entry k of image type M from M's two
// conversions.
func kindEntry[M image.Image](k imageKind, planes func(M) pixels, build func(pixels) M) imageKind {
	k.planes = func(img image.Image) (pixels, bool) {
		m, ok := img.(M)
		if !ok {
			return pixels{}, false
		}
		p := planes(m)
		p.rect = m.Bounds()
		return p, true
	}
	k.build = func(p pixels) image.Image { return build(p) }
	return k
}

func ycbcrPixels(m *image.YCbCr) pixels {
	return pixels{stride: m.YStride, pix: m.Y, cstride: m.CStride, ratio: m.SubsampleRatio, cb: m.Cb, cr: m.Cr}
}

func ycbcrOf(p pixels) image.YCbCr {
	return image.YCbCr{Y: p.pix, Cb: p.cb, Cr: p.cr, YStride: p.stride, CStride: p.cstride, SubsampleRatio: p.ratio, Rect: p.rect}
}

// kindOf returns the kind of img and its pixels, or kindNone.
func kindOf(img image.Image) (uint8, pixels) {
	for k := kindNone + 1; k < kindCount; k++ {
		if p, ok := imageKinds[k].planes(img); ok {
			return k, p
		}
	}
	return kindNone, pixels{}
}

// pixelBytes is the memory an image's pixels take: the length of its pixel
// slices, or 4 bytes a pixel for types it cannot see into.
func pixelBytes(img image.Image) int64 {
	if k, p := kindOf(img); k != kindNone {
		return int64(len(p.pix) + len(p.cb) + len(p.cr) + len(p.a) + 4*len(p.palette))
	}
	// Guard against unbounded images such as image.Uniform, whose
	// w*h*4 overflows: they count as too large to keep.
	const most = 1 << 53
	b := img.Bounds()
	w, h := int64(b.Dx()), int64(b.Dy())
	if w > 0 && h > most/4/w {
		return most
	}
	return w * h * 4
}

// nrgbaCopy draws img, whose type the cache cannot see into, as an NRGBA,
// or as an NRGBA64 when its colour model has 16 bits.
func nrgbaCopy(img image.Image) image.Image {
	r := img.Bounds()
	var dst draw.Image
	if is16Bit(img.ColorModel()) {
		dst = image.NewNRGBA64(r)
	} else {
		dst = image.NewNRGBA(r)
	}
	draw.Draw(dst, r, img, r.Min, draw.Src)
	return dst
}

func is16Bit(m color.Model) bool {
	switch m {
	case color.RGBA64Model, color.NRGBA64Model, color.Gray16Model, color.Alpha16Model:
		return true
	}
	return false
}

// fit reports why p cannot hold an image of kind k, or nil. A rectangle
// is taken to be valid already.
func (p *pixels) fit(k *imageKind) error {
	w, h := p.rect.Dx(), p.rect.Dy()
	if k.chroma {
		cw, ch, ok := chromaSize(p.rect, p.ratio)
		if !ok || !planeFits(w, h, p.stride, k.bpp, len(p.pix)) ||
			!planeFits(cw, ch, p.cstride, 1, len(p.cb)) || !planeFits(cw, ch, p.cstride, 1, len(p.cr)) {
			return fmt.Errorf("YCbCr planes do not fit %v", p.rect)
		}
	} else if !planeFits(w, h, p.stride, k.bpp, len(p.pix)) {
		return fmt.Errorf("pixel data does not fit %v", p.rect)
	}
	if k.alpha && !planeFits(w, h, p.astride, 1, len(p.a)) {
		return fmt.Errorf("alpha plane does not fit %v", p.rect)
	}
	if k.indexed {
		for _, i := range p.pix {
			if int(i) >= len(p.palette) {
				return fmt.Errorf("colour index %d outside the palette", i)
			}
		}
	}
	return nil
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
