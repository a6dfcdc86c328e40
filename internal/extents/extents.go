// Package extents finds the byte ranges where a file may differ from a
// reflink clone made of it earlier, from the two files' extent maps
// (FIEMAP): blocks both files map to the same physical block hold the same
// bytes, since a shared block is copied on write, never written in place.
package extents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Range is a run of bytes of a file.
type Range struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
}

// End is the offset after r.
func (r Range) End() int64 { return r.Offset + r.Length }

// FIEMAP's ioctl, request flag and extent flags (linux/fiemap.h).
const (
	iocFIEMAP     = 0xc020660b // _IOWR('f', 11, struct fiemap)
	flagSync      = 0x1        // FIEMAP_FLAG_SYNC
	extentLast    = 0x1        // FIEMAP_EXTENT_LAST
	extentUnwrit  = 0x800      // FIEMAP_EXTENT_UNWRITTEN: allocated, reads as zeros
	extentShared  = 0x2000     // FIEMAP_EXTENT_SHARED
	extentMerged  = 0x1000     // FIEMAP_EXTENT_MERGED
	extentTrusted = extentLast | extentUnwrit | extentShared | extentMerged
	batchExtents  = 256
)

// fiemap is struct fiemap with room for batchExtents extents.
type fiemap struct {
	start, length                  uint64
	flags, mapped, count, reserved uint32
	extents                        [batchExtents]fiemapExtent
}

// fiemapExtent is struct fiemap_extent.
type fiemapExtent struct {
	logical, physical, length uint64
	_                         [2]uint64
	flags                     uint32
	_                         [3]uint32
}

// extent is a run of a file's bytes mapped to physical blocks; trusted
// is false when its flags leave its bytes unknown (delayed allocation,
// unknown location, encoded, inline, tail).
type extent struct {
	logical, physical, length int64
	unwritten, trusted        bool
}

// Changed returns the ranges of the first size bytes of the file cur that
// may differ from those of the file base, in increasing order, merged: all
// but the bytes both files map to the same physical block with the same
// written state, and the holes of both. Bytes past base's end are changed.
// Both files must not change meanwhile (quiescent clones); their dirty
// pages are flushed first (FIEMAP_FLAG_SYNC). An error means nothing is
// known: the caller reads everything.
func Changed(ctx context.Context, base, cur string, size int64) ([]Range, error) {
	bm, bsize, err := mapFile(ctx, base)
	if err != nil {
		return nil, err
	}
	cm, _, err := mapFile(ctx, cur)
	if err != nil {
		return nil, err
	}
	return compare(bm, cm, min(bsize, size), size), nil
}

// compare returns the ranges of [0, size) where maps a and b differ,
// everything from same on counting as changed.
func compare(a, b []extent, same, size int64) []Range {
	var out []Range
	add := func(off, end int64) {
		if n := len(out); n > 0 && out[n-1].End() == off {
			out[n-1].Length += end - off
			return
		}
		out = append(out, Range{Offset: off, Length: end - off})
	}
	for off := int64(0); off < same; {
		ea, enda := at(&a, off, same)
		eb, endb := at(&b, off, same)
		end := min(enda, endb)
		switch {
		case ea == nil && eb == nil:
		case ea == nil || eb == nil || !ea.trusted || !eb.trusted || ea.unwritten != eb.unwritten ||
			ea.physical-ea.logical != eb.physical-eb.logical:
			add(off, end)
		}
		off = end
	}
	if same < size {
		add(same, size)
	}
	return out
}

// at returns the extent of *m holding off (nil in a hole) and where that
// extent or hole ends, at most limit; it drops the extents of *m that end
// at or before off.
func at(m *[]extent, off, limit int64) (*extent, int64) {
	for len(*m) > 0 && (*m)[0].logical+(*m)[0].length <= off {
		*m = (*m)[1:]
	}
	if len(*m) == 0 {
		return nil, limit
	}
	e := &(*m)[0]
	if off < e.logical {
		return nil, min(e.logical, limit)
	}
	return e, min(e.logical+e.length, limit)
}

// mapFile returns the extents of the file at path, in logical order, and
// its size.
func mapFile(ctx context.Context, path string) ([]extent, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("map extents: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	info, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("map extents: %w", err)
	}
	var out []extent
	fm := new(fiemap)
	for start := uint64(0); start < uint64(info.Size()); {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		*fm = fiemap{start: start, length: uint64(info.Size()) - start, flags: flagSync, count: batchExtents}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), iocFIEMAP, uintptr(unsafe.Pointer(fm))); errno != 0 {
			return nil, 0, fmt.Errorf("map extents of %s: %w", path, errno)
		}
		if fm.mapped == 0 {
			break
		}
		for _, e := range fm.extents[:fm.mapped] {
			out = append(out, extent{logical: int64(e.logical), physical: int64(e.physical), length: int64(e.length),
				unwritten: e.flags&extentUnwrit != 0, trusted: e.flags&^extentTrusted == 0})
		}
		last := fm.extents[fm.mapped-1]
		if last.flags&extentLast != 0 {
			break
		}
		if next := last.logical + last.length; next > start {
			start = next
		} else {
			return nil, 0, errors.New("map extents of " + path + ": the extent map does not advance")
		}
	}
	return out, info.Size(), nil
}
