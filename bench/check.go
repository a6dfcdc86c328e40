package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// check is what comparing a destination with its source found.
type check struct {
	equal bool
	// stale counts the extents that differ from the source and still hold a
	// 4 KiB sector of staleByte: old data a copy left behind.
	stale int64
}

// compare compares the first size bytes of dst with those of src, extent by
// extent. Ranges that are holes in both are skipped unread.
func compare(src, dst string, size int64) (check, error) {
	a, err := os.Open(src)
	if err != nil {
		return check{}, fmt.Errorf("compare: %w", err)
	}
	defer func() { _ = a.Close() }() // read-only: nothing to lose
	b, err := os.Open(dst)
	if err != nil {
		return check{}, fmt.Errorf("compare: %w", err)
	}
	defer func() { _ = b.Close() }() // read-only: nothing to lose
	bufA, bufB := make([]byte, extent), make([]byte, extent)
	c := check{equal: true}
	for off := int64(0); off < size; {
		if next := min(nextData(a, off, size), nextData(b, off, size)) &^ (extent - 1); next > off {
			off = next
			continue
		}
		n := min(extent, size-off)
		na, err := readAt(a, bufA[:n], off)
		if err != nil {
			return check{}, err
		}
		nb, err := readAt(b, bufB[:n], off)
		if err != nil {
			return check{}, err
		}
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			c.equal = false
			if holdsStale(bufB[:nb]) {
				c.stale++
			}
		}
		off += n
	}
	return c, nil
}

// nextData returns where f's next data at or after off starts: size when
// only a hole follows, off when f cannot tell (a block device, say).
func nextData(f *os.File, off, size int64) int64 {
	next, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
	switch {
	case errors.Is(err, unix.ENXIO):
		return size
	case err != nil:
		return off
	}
	return min(next, size)
}

// readAt reads len(b) bytes at off, fewer only at the end of f.
func readAt(f *os.File, b []byte, off int64) (int, error) {
	n, err := f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return n, fmt.Errorf("read %s at %d: %w", f.Name(), off, err)
	}
	return n, nil
}

// staleSector is a 4 KiB sector of a thick destination's old bytes.
var staleSector = bytes.Repeat([]byte{staleByte}, 4096)

// holdsStale reports whether b holds an aligned staleSector.
func holdsStale(b []byte) bool {
	for i := 0; i+len(staleSector) <= len(b); i += len(staleSector) {
		if bytes.Equal(b[i:i+len(staleSector)], staleSector) {
			return true
		}
	}
	return false
}

// allocated returns the bytes the filesystem allocated to path (st_blocks*512).
func allocated(path string) (int64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("allocation of %s: %w", path, err)
	}
	return st.Blocks * 512, nil
}
