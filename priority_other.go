//go:build !linux

package arcache

// lowerPriority does nothing where thread priorities are not portable.
func lowerPriority() {}
