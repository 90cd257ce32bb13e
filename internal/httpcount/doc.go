// Package httpcount wraps an http.ResponseWriter to learn the status and
// the body's length of an answer, without losing the wrapped writer's
// fast paths: the one wrapper that imagecache's handler counts hits with
// and the imagecache command counts its metrics with.
package httpcount
