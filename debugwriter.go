package arcache

import (
	"errors"
	"image"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// maxDebugPending bounds the images waiting for the debug writer. Past it
// enqueue drops images rather than block Provide; the next flush writes
// the PNGs of those still cached.
const maxDebugPending = 1024

// debugWriter writes images as PNGs in the background (debug_images).
type debugWriter struct {
	dir   string
	log   *slog.Logger
	enc   png.Encoder
	limit int // most images pending

	mu       sync.Mutex
	idle     *sync.Cond // signalled when nothing is pending or being written
	pending  map[string]image.Image
	busy     bool
	asleep   bool // the writer waits for wake
	overflow bool // an image was dropped since the last flush
	closed   bool
	wake     chan struct{}
	done     chan struct{}
}

func newDebugWriter(dir string, log *slog.Logger) *debugWriter {
	w := &debugWriter{
		dir:     dir,
		log:     log,
		enc:     png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}},
		limit:   maxDebugPending,
		pending: make(map[string]image.Image),
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	w.idle = sync.NewCond(&w.mu)
	go w.loop()
	return w
}

// pngBuffers lets the encoder reuse its buffers, which are larger than
// most icons: without it every PNG allocates them anew, and the garbage
// slows the goroutines calling Provide.
type pngBuffers struct{ p sync.Pool }

func (b *pngBuffers) Get() *png.EncoderBuffer {
	buf, _ := b.p.Get().(*png.EncoderBuffer)
	return buf
}

func (b *pngBuffers) Put(buf *png.EncoderBuffer) { b.p.Put(buf) }

// enqueue asks for img to be written as <dir>/<key>.png. It never blocks.
func (w *debugWriter) enqueue(key string, img image.Image) {
	w.mu.Lock()
	switch _, queued := w.pending[key]; {
	case w.closed:
	case queued || len(w.pending) < w.limit:
		w.pending[key] = img // a newer image of a queued key replaces it
	default:
		if !w.overflow {
			w.log.Warn("arcache: debug writer behind; dropping PNGs until the next flush", "pending", len(w.pending))
		}
		w.overflow = true
	}
	// Waking a sleeping goroutine costs a system call: only when asleep.
	wake := w.asleep
	w.asleep = false
	w.mu.Unlock()
	if wake {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// maxDebugBatch bounds the PNGs written with one sync.
const maxDebugBatch = 256

func (w *debugWriter) loop() {
	defer close(w.done)
	lowerPriority() // debug output must not slow Provide
	type job struct {
		key string
		img image.Image
	}
	jobs := make([]job, 0, maxDebugBatch)
	for {
		w.mu.Lock()
		for len(w.pending) == 0 {
			w.busy = false
			w.idle.Broadcast()
			if w.closed {
				w.mu.Unlock()
				return
			}
			w.asleep = true
			w.mu.Unlock()
			<-w.wake
			w.mu.Lock()
		}
		jobs = jobs[:0]
		for key, img := range w.pending {
			jobs = append(jobs, job{key, img})
			delete(w.pending, key)
			if len(jobs) == maxDebugBatch {
				break
			}
		}
		w.busy = true
		w.mu.Unlock()
		start := time.Now()
		b := w.batch()
		for _, j := range jobs {
			w.add(b, j.key, j.img)
		}
		w.commit(b)
		clear(jobs) // let the images go
		w.mu.Lock()
		behind := w.overflow
		w.mu.Unlock()
		if behind {
			// Images are being dropped anyway, and the next flush writes
			// them: rest as long as the batch took, so that a writer that
			// cannot keep up takes at most half a core from the callers.
			time.Sleep(time.Since(start))
		}
	}
}

// batch starts writing PNGs; nil if the directory cannot be made.
func (w *debugWriter) batch() *fsutil.Batch {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		w.log.Warn("arcache: debug PNGs", "dir", w.dir, "err", err)
		return nil
	}
	return fsutil.NewBatch(w.dir, 16<<10)
}

func (w *debugWriter) add(b *fsutil.Batch, key string, img image.Image) {
	if b == nil {
		return
	}
	err := b.Add(key+".png", func(out io.Writer) error { return w.enc.Encode(out, img) })
	if err != nil {
		w.log.Warn("arcache: debug PNG", "key", key, "err", err)
	}
}

func (w *debugWriter) commit(b *fsutil.Batch) {
	if b == nil {
		return
	}
	if err := b.Commit(); err != nil {
		w.log.Warn("arcache: debug PNGs", "dir", w.dir, "err", err)
	}
}

// wait blocks until every image enqueued so far is written, and reports
// whether any was dropped since the last wait.
func (w *debugWriter) wait() (dropped bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for (len(w.pending) > 0 || w.busy) && !w.closedAndDone() {
		w.idle.Wait()
	}
	dropped, w.overflow = w.overflow, false
	return dropped
}

func (w *debugWriter) closedAndDone() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

// discard drops what is pending and waits for the write in progress.
func (w *debugWriter) discard() {
	w.mu.Lock()
	clear(w.pending)
	w.overflow = false
	w.mu.Unlock()
	w.wait()
}

// close writes what is pending and stops the writer.
func (w *debugWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.asleep = false
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
}

// flushDebug waits for the debug writer and, if it had to drop images,
// writes the PNGs missing for the images still cached.
func (c *SlugCache) flushDebug() {
	if c.debug == nil || !c.debug.wait() {
		return
	}
	c.mu.Lock()
	entries := c.lru.Values()
	c.mu.Unlock()
	b := c.debug.batch()
	for _, e := range entries {
		path := filepath.Join(c.cfg.CacheDir, e.key+".png")
		if _, err := os.Stat(path); !e.placeholder && errors.Is(err, fs.ErrNotExist) {
			c.debug.add(b, e.key, e.img)
			if b != nil && b.Len() == maxDebugBatch {
				c.debug.commit(b)
			}
		}
	}
	c.debug.commit(b)
}
