//go:build !unix

package app

// lockStoreFile does not lock where flock is not available.
func lockStoreFile(string) (func(), error) { return func() {}, nil }
