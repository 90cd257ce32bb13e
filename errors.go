package arcache

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these where
// it applies, so callers can test them with errors.Is. Their messages read
// "arcache: <operation> <subject>: <cause>", naming the key or file
// concerned; the sentinels' own texts are the causes, without the prefix.
var (
	// ErrCorrupt reports a damaged bin file or image file.
	ErrCorrupt = errors.New("corrupt data")
	// ErrUnkeyable reports arguments that cannot be turned into a key:
	// functions, channels, unsafe pointers, or values nested too deeply.
	ErrUnkeyable = errors.New("arguments cannot be keyed")
	// ErrClosed reports a call on a closed cache or Views.
	ErrClosed = errors.New("closed")
	// ErrTooLarge reports an image over the configured pixel limit.
	ErrTooLarge = errors.New("image too large")
	// ErrInvalidKey reports a key that is not slug-safe: empty, longer
	// than MaxKeyLen bytes, or holding a byte outside [a-z0-9_-].
	ErrInvalidKey = errors.New("invalid key")
	// ErrNilImage reports a nil image, made by a constructor or given to
	// Put.
	ErrNilImage = errors.New("nil image")
	// ErrPanic reports a constructor, or a Views' conversion, that
	// panicked.
	ErrPanic = errors.New("panic")
	// ErrConfig reports a configuration file or value that cannot be used.
	ErrConfig = errors.New("bad configuration")
)
