// Package drivertest checks the files that hold volumes' and snapshots'
// bytes, for the drivers' tests. It reads only where a file holds data
// (SEEK_DATA), since a volume of a GiB or more is mostly holes or unwritten
// extents, which read as zeros. Cached pages of an unwritten extent count as
// data for SEEK_DATA, so it reads without readahead and drops what it read
// from the page cache.
package drivertest

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder/internal/testfile"
)

const chunk = 1 << 20

// Random returns n deterministic random bytes.
func Random(seed byte, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// Checksum is testfile.Checksum of the file at path, which it then drops
// from the page cache.
func Checksum(t testing.TB, path string) string {
	t.Helper()
	sum := testfile.Checksum(t, path)
	uncache(open(t, path))
	return sum
}

// SameBytes fails t unless the files at a and b hold the same bytes over
// their common size, and the larger reads as zeros past it.
func SameBytes(t testing.TB, a, b string) {
	t.Helper()
	if !covers(t, a, b) || !covers(t, b, a) {
		t.Errorf("%s and %s hold different bytes", filepath.Base(a), filepath.Base(b))
	}
}

// covers reports whether each chunk of x holding data reads the same in y.
func covers(t testing.TB, x, y string) bool {
	t.Helper()
	f := open(t, y)
	defer uncache(f)
	buf := make([]byte, chunk)
	same := true
	chunks(t, x, func(off int64, b []byte) bool {
		same = bytes.Equal(b, readAt(t, f, buf[:len(b)], off))
		return same
	})
	return same
}

// Contains reports whether pattern stands within a 1 MiB-aligned chunk of
// the file at path.
func Contains(t testing.TB, path string, pattern []byte) bool {
	t.Helper()
	found := false
	chunks(t, path, func(_ int64, b []byte) bool {
		found = bytes.Contains(b, pattern)
		return !found
	})
	return found
}

// chunks calls fn with each 1 MiB-aligned chunk of the file at path that
// holds data, in order, until fn returns false.
func chunks(t testing.TB, path string, fn func(off int64, b []byte) bool) {
	t.Helper()
	f := open(t, path)
	defer uncache(f)
	info, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, chunk)
	for off := int64(0); off < info.Size(); off += chunk {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return
		}
		if err != nil {
			t.Fatalf("find data in %s: %v", path, err)
		}
		off = data / chunk * chunk
		if !fn(off, readAt(t, f, buf[:min(chunk, info.Size()-off)], off)) {
			return
		}
	}
}

// open opens path for reading without readahead.
func open(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM) // advisory: at worst more is read
	return f
}

// uncache drops f's pages from the page cache and closes f.
func uncache(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED) // advisory: at worst a later read is slower
	_ = f.Close()                                           // read-only: nothing to lose
}

// readAt fills b from f at off, with zeros past f's end.
func readAt(t testing.TB, f *os.File, b []byte, off int64) []byte {
	t.Helper()
	n, err := f.ReadAt(b, off)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	clear(b[n:])
	return b
}
