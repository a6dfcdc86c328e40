package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

const (
	mib       = 1 << 20
	gib       = 1 << 30
	extent    = mib  // data extents are written, and stale blocks counted, in MiB
	staleByte = 0xAA // what a thick destination holds before a copy
)

// input is a source volume the benchmark built: size bytes, of which data
// are non-zero.
type input struct {
	path       string
	size, data int64
}

// random returns a deterministic stream of random bytes: the same seed gives
// the same inputs in every run, so results stay comparable.
func random(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// pickExtents returns the offsets of n distinct extents of a volume of size
// bytes, chosen at random from seed, in increasing order.
func pickExtents(size int64, n int, seed uint64) []int64 {
	blocks := size / extent
	n = int(min(int64(n), blocks))
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	seen := make(map[int64]bool, n)
	offs := make([]int64, 0, n)
	for len(offs) < n {
		b := rng.Int64N(blocks)
		if !seen[b] {
			seen[b] = true
			offs = append(offs, b*extent)
		}
	}
	slices.Sort(offs)
	return offs
}

// makeSparse creates path as a sparse file of size bytes whose data is a
// fraction of it, in random extents (case S, and the source of case T).
func makeSparse(path string, size int64, fraction float64, seed uint64) (input, error) {
	if err := createSparse(path, size); err != nil {
		return input{}, err
	}
	offs := pickExtents(size, int(fraction*float64(size/extent)), seed)
	if err := writeExtents(path, offs, seed); err != nil {
		return input{}, err
	}
	return input{path: path, size: size, data: int64(len(offs)) * extent}, nil
}

// makeHalfZero creates path as a fully allocated file of size bytes whose
// extents are half random data and half zeros, written as such (case F).
func makeHalfZero(path string, size int64, seed uint64) (input, error) {
	offs := pickExtents(size, int(size/extent/2), seed)
	data := random(seed)
	buf := make([]byte, extent)
	err := writeAll(path, size, func(off int64, b []byte) {
		if _, ok := slices.BinarySearch(offs, off); ok {
			data.Read(b)
		} else {
			clear(b)
		}
	}, buf)
	if err != nil {
		return input{}, err
	}
	return input{path: path, size: size, data: int64(len(offs)) * extent}, nil
}

// fill writes staleByte over the first size bytes of path, a regular file
// (created, and cut to size) or a block device: a thick volume holding a
// deleted volume's bytes.
func fill(path string, size int64) error {
	buf := bytes.Repeat([]byte{staleByte}, 4*mib)
	return writeAll(path, size, func(int64, []byte) {}, buf)
}

// writeAll writes size bytes to path from offset 0, len(buf) at a time,
// letting next fill buf with the bytes for each offset, then syncs. A
// regular file is created if missing, cut to size and allocated first:
// writing into allocated blocks is faster than into holes.
func writeAll(path string, size int64, next func(off int64, b []byte), buf []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if err := allocate(f, size); err != nil {
		return err
	}
	for off := int64(0); off < size; off += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), size-off)]
		next(off, b)
		if _, err := f.WriteAt(b, off); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// allocate cuts f to size bytes and allocates them, if f is a regular file.
func allocate(f *os.File, size int64) error {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return err
	}
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cut %s to %d bytes: %w", f.Name(), size, err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		return fmt.Errorf("allocate %s: %w", f.Name(), err)
	}
	return nil
}

// writeExtents writes an extent of random bytes from seed at each of offs
// in the existing file path (a volume's device file), then syncs.
func writeExtents(path string, offs []int64, seed uint64) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write extents: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	data := random(seed)
	buf := make([]byte, extent)
	for _, off := range offs {
		data.Read(buf)
		if _, err := f.WriteAt(buf, off); err != nil {
			return fmt.Errorf("write extent at %d of %s: %w", off, path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// createSparse creates path, which must not exist, as a sparse file of size
// bytes: it reads as zeros, as a new thin volume does.
func createSparse(path string, size int64) error {
	return create(path, func(f *os.File) error { return f.Truncate(size) })
}

// createAllocated creates path, which must not exist, as a file of size
// bytes allocated but unwritten, as a new thick volume is.
func createAllocated(path string, size int64) error {
	return create(path, func(f *os.File) error { return unix.Fallocate(int(f.Fd()), 0, 0, size) })
}

// create creates path exclusively and sizes it with size.
func create(path string, size func(*os.File) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create destination: %w", err)
	}
	err = size(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // the sizing's error is the one to report
		return fmt.Errorf("size destination %s: %w", path, err)
	}
	return nil
}
