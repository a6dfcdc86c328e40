package posix

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

const (
	benchSize   = 1 << 30
	benchExtent = 256 * kib // 5% data: one extent every 5 MiB
	benchStride = 5 * mib
)

// benchVolume makes a sparse 1 GiB volume with 5% compressible data.
func benchVolume(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := f.Truncate(benchSize); err != nil {
		b.Fatal(err)
	}
	data := text(11, benchExtent)
	for off := int64(0); off < benchSize; off += benchStride {
		data[0]++ // no two extents alike
		if _, err := f.WriteAt(data, off); err != nil {
			b.Fatal(err)
		}
	}
}

func benchOptions(b *testing.B) Options {
	return Options{Path: b.TempDir(), Workers: 2}
}

// BenchmarkCreateFull backs up a sparse 1 GiB volume with 5% data, zlib.
func BenchmarkCreateFull(b *testing.B) {
	opts := benchOptions(b)
	src := filepath.Join(b.TempDir(), "volume")
	benchVolume(b, src)
	benchCreate(b, opts, src, nil)
}

// benchCreate times backups of src on top of parent, deleting each after.
func benchCreate(b *testing.B, opts Options, src string, parent *Backup) {
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		bk := Backup{ID: fmt.Sprintf("bb%06d-0000-4000-8000-000000000000", i), VolumeID: "v", Parent: parent}
		if _, err := Create(context.Background(), opts, bk, src, benchSize); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := Delete(context.Background(), opts, bk); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkCreateIncremental backs up the volume again after 1% of it
// changed, on top of a full backup.
func BenchmarkCreateIncremental(b *testing.B) {
	opts := benchOptions(b)
	src := filepath.Join(b.TempDir(), "volume")
	benchVolume(b, src)
	full := Backup{ID: "bf000000-0000-4000-8000-000000000000", VolumeID: "v"}
	if _, err := Create(context.Background(), opts, full, src, benchSize); err != nil {
		b.Fatal(err)
	}
	f, err := os.OpenFile(src, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	changed := text(12, 64*kib)
	for off := int64(0); off < benchSize; off += 6400 * kib { // 64 KiB every 6400 KiB: 1%
		if _, err := f.WriteAt(changed, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	benchCreate(b, opts, src, &full)
}

// BenchmarkRestore restores the full backup onto a new sparse volume.
func BenchmarkRestore(b *testing.B) {
	opts := benchOptions(b)
	dir := b.TempDir()
	src := filepath.Join(dir, "volume")
	benchVolume(b, src)
	full := Backup{ID: "br000000-0000-4000-8000-000000000000", VolumeID: "v"}
	if _, err := Create(context.Background(), opts, full, src, benchSize); err != nil {
		b.Fatal(err)
	}
	dst := filepath.Join(dir, "restored")
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
			b.Fatal(err)
		}
		if err := os.WriteFile(dst, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := Restore(context.Background(), opts, full, dst, benchSize, true); err != nil {
			b.Fatal(err)
		}
	}
}
