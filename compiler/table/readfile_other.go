//go:build !unix

package table

// openNonBlocking is none where opening cannot be told not to wait.
const openNonBlocking = 0
