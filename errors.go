package arcache

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these where
// it applies, so callers can test them with errors.Is; the messages name the
// key or file concerned.
var (
	// ErrNotFound reports a key or file that is not there.
	ErrNotFound = errors.New("arcache: not found")
	// ErrCorrupt reports a damaged bin file or image file.
	ErrCorrupt = errors.New("arcache: corrupt data")
	// ErrUnkeyable reports arguments that cannot be turned into a key:
	// functions, channels, unsafe pointers, or values nested too deeply.
	ErrUnkeyable = errors.New("arcache: arguments cannot be keyed")
	// ErrClosed reports a call on a closed cache.
	ErrClosed = errors.New("arcache: cache is closed")
	// ErrTooLarge reports an image over the configured pixel limit.
	ErrTooLarge = errors.New("arcache: image too large")
	// ErrInvalidKey reports a key that is not slug-safe: empty, longer
	// than MaxKeyLen bytes, or holding a byte outside [a-z0-9_-].
	ErrInvalidKey = errors.New("arcache: invalid key")
	// ErrNilImage reports a constructor that returned a nil image.
	ErrNilImage = errors.New("arcache: constructor returned a nil image")
	// ErrPanic reports a constructor that panicked.
	ErrPanic = errors.New("arcache: constructor panicked")
	// ErrConfig reports a configuration file or value that cannot be used.
	ErrConfig = errors.New("arcache: bad configuration")
)
