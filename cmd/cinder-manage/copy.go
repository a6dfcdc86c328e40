package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cinder-go/cinder/conf"
	"github.com/cinder-go/cinder/drivers/volcopy"
)

const copyUsage = `usage: cinder-manage volume copy [--sparse] [--blocksize 1M] [--bps-limit N] [--size BYTES] SRC DST
  SRC and DST are regular files or block devices. An existing DST must hold at
  least the bytes copied and is never truncated; a missing DST is created as a
  sparse file of that size (and removed if the copy fails).
  --sparse      skip the source's holes and zero blocks, leaving DST's bytes
                there: correct only when DST already reads as zeros, as a DST
                this command creates does; without it every byte of DST is
                written or zeroed, so no stale byte survives
  --blocksize   I/O size, in volume_dd_blocksize's format (default 1M, at most 4M used)
  --bps-limit   bytes per second, for reading and for writing each (default 0: unlimited)
  --size        bytes to copy from offset 0 (default 0: the whole source)`

// volumeCopy runs "volume copy" with args (its flags, SRC and DST): it copies
// with volcopy, shows progress on m and prints a summary on out.
func volumeCopy(ctx context.Context, args []string, out io.Writer, m *meter) error {
	fs := flag.NewFlagSet("volume copy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sparse := fs.Bool("sparse", false, "")
	blocksize := fs.String("blocksize", "1M", "")
	bpsLimit := fs.Int64("bps-limit", 0, "")
	size := fs.Int64("size", 0, "")
	paths, err := parseInterspersed(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		_, err := fmt.Fprintln(out, copyUsage)
		return err
	case err != nil:
		return fmt.Errorf("volume copy: %w", err)
	case len(paths) != 2:
		return fmt.Errorf("volume copy: want SRC and DST, got %q (see --help)", paths)
	case *bpsLimit < 0:
		return fmt.Errorf("volume copy: negative --bps-limit %d", *bpsLimit)
	case *size < 0:
		return fmt.Errorf("volume copy: negative --size %d", *size)
	}
	bs, err := conf.ParseBlocksize(*blocksize)
	if err != nil {
		return fmt.Errorf("volume copy: --blocksize: %w", err)
	}
	src, dst := paths[0], paths[1]
	if *size == 0 {
		if *size, err = sizeOf(src); err != nil {
			return err
		}
	}
	created, err := createIfMissing(dst, *size)
	if err != nil {
		return err
	}
	st, err := volcopy.Copy(ctx, src, dst, volcopy.Options{
		Sparse:           *sparse,
		BlockSize:        bs,
		BPSLimit:         *bpsLimit,
		Size:             *size,
		Progress:         m.update,
		ProgressInterval: m.interval,
	})
	m.end()
	if err != nil {
		if created {
			_ = os.Remove(dst) // the copy's error is the one to report
		}
		if ctx.Err() != nil {
			return fmt.Errorf("copy %s to %s interrupted after %s of %s", src, dst, iec(progressed(st)), iec(st.Size))
		}
		return err
	}
	_, err = fmt.Fprintf(out, "copied %d bytes (%s) in %.3fs (%s/s): read %d, written %d, zeroed %d, skipped %d\n",
		st.Size, iec(st.Size), st.Elapsed.Seconds(), iec(int64(rate(st.Size, st.Elapsed))),
		st.Read, st.Written, st.Zeroed, st.Skipped)
	return err
}

// parseInterspersed parses fs's flags wherever they stand in args, before,
// between or after the positional arguments, which it returns; everything
// after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); len(rest) == 0 || consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
}

// sizeOf returns the size of the regular file or block device at path.
func sizeOf(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("source: %w", err)
	}
	switch mode := fi.Mode(); {
	case mode.IsRegular():
		return fi.Size(), nil
	case mode&os.ModeDevice == 0 || mode&os.ModeCharDevice != 0:
		return 0, fmt.Errorf("source %s is neither a regular file nor a block device", path)
	}
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("size of source %s: %w", path, err)
	}
	return n, nil
}

// createIfMissing creates path as a sparse file of size bytes unless it
// exists, and reports whether it did.
func createIfMissing(path string, size int64) (bool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create destination: %w", err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // the sizing's error is the one to report
		return false, fmt.Errorf("create destination %s of %d bytes: %w", path, size, err)
	}
	return true, nil
}
