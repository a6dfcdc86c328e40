// Package testfile reads and writes the files that hold volumes' bytes, for
// tests: each helper fails the test on an I/O error.
package testfile

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"
)

// Stat returns the size of the file at path and the bytes the filesystem
// allocated to it.
func Stat(t testing.TB, path string) (size, allocated int64) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size(), info.Sys().(*syscall.Stat_t).Blocks * 512
}

// ReadAt reads n bytes of the file at path from off.
func ReadAt(t testing.TB, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	return buf
}

// WriteAt writes data into the existing file at path at off and syncs it.
func WriteAt(t testing.TB, path string, off int64, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// Checksum digests every byte of the file at path: its size and SHA-256
// over the offset and bytes of each 4 KiB block that is not all zeros. Two
// files have the same checksum exactly when their bytes are equal; zero
// blocks are read and checked but not hashed, which keeps a mostly empty
// 1 GiB volume quick to digest.
func Checksum(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	h := sha256.New()
	buf, zero := make([]byte, 1<<20), make([]byte, 4096)
	var off int64
	for {
		n, err := io.ReadFull(f, buf)
		for i := 0; i < n; i += len(zero) {
			block := buf[i:min(i+len(zero), n)]
			if !bytes.Equal(block, zero[:len(block)]) {
				_, _ = fmt.Fprintf(h, "%d:", off+int64(i)) // a hash's Write never fails
				h.Write(block)
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("%d:%x", off, h.Sum(nil))
}
