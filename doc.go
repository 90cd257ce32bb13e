// Package arcache memoizes the small images that drawing programs build
// again and again: icons tinted and resized, badges, gauges, glyph tiles,
// thumbnails.
//
// # Provide
//
// [Provide] takes a constructor and its arguments and returns the image the
// constructor makes from them, building it at most once:
//
//	func badge(a badgeArgs) (*image.RGBA, error) { ... }
//
//	cache, err := arcache.Open("") // the defaults, or a config file's path
//	img, err := arcache.Provide(cache, badge, badgeArgs{Fill: green, Size: 16})
//
// On a hit Provide returns the cached image without calling the
// constructor; the hit builds no string and allocates nothing. On a miss
// it calls the constructor once, however many goroutines ask for the same
// key at the same time, stores the image and hands it to all of them. A
// constructor's error, panic ([ErrPanic]) or nil image ([ErrNilImage])
// reaches every waiting caller, wrapped with the key, and nothing is
// cached; [ErrorImage] draws a placeholder to show in its place.
//
// [ProvideContext] is the same for constructors that wait on something,
// such as an HTTP origin: a caller whose context ends stops waiting, while
// the build goes on for the others, and the build's own context is
// cancelled only when nobody waits for it any more.
//
// # Keys
//
// An image is cached under a key such as badge-fill-00a000ff-size-16-
// followed by 16 hex digits: the constructor's short name and its
// arguments' names and values, passed through [Slugify], then a hash of
// the constructor's full name and the exact argument values. The readable
// part may lose information (Green and green look alike); the hash does
// not, so different arguments never share a key and equal ones share it
// in every process. Keys are file-name safe ([ValidKey]). [Key] returns
// the key Provide would use.
//
// Arguments may be a struct (its fields, in order), a map, or a basic
// value, with nested structs, slices, arrays, pointers, image.Point,
// color.Color and time.Duration inside; functions and channels are
// [ErrUnkeyable]. A field tagged `arcache:"-"`, or named in [Exclude] for
// one call, is left out of the key but still reaches the constructor.
// Closures of one function literal share a name: give them [Name].
//
// # The store
//
// A [SlugCache] is an LRU bounded by entry count (CacheMax) and by pixel
// bytes (MaxBytes), whichever is reached first. [SlugCache.Get],
// [SlugCache.Put], [SlugCache.Remove] and [SlugCache.Keys] work on keys
// directly; [SlugCache.Stats] counts hits, misses, builds and evictions.
//
// # Persistence
//
// [SlugCache.Save] writes every entry to the bin file (by default
// CacheDir + ".bin"), atomically and under a lock that keeps processes
// apart; [SlugCache.Close] saves when the cache changed, and [New] loads
// the file again when Preload is set, so that a program starts warm.
// Images keep their concrete type and exact pixels. A damaged bin file
// never stops a program: the entries before the damage are kept and the
// file is moved to ErrorDir ([ErrCorrupt]). [SlugCache.SaveTo] and
// [SlugCache.LoadFrom] use the same format on any stream, for example a
// bin file embedded in the program with go:embed. With DebugImages each
// image is also written as a PNG in CacheDir, in the background, and
// [SlugCache.Refresh] imports the image files dropped there.
//
// # Configuration
//
// [Config] holds the settings; [DefaultConfig] returns the defaults, which
// live in the embedded default.ini, and [LoadConfig] reads the [cache]
// section of an INI file over them. [Open] is LoadConfig followed by New.
//
// # Concurrency
//
// Every function and method is safe for concurrent use by many goroutines.
// Processes may share a bin file: saves take turns under an advisory lock,
// and each replaces the file whole.
package arcache
