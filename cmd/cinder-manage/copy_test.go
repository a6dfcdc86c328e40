package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain runs cinder-manage's main instead of the tests when asked, so that
// tests can run the command as its own process.
func TestMain(m *testing.M) {
	if os.Getenv("CINDER_MANAGE_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	m.Run()
}

const mib = 1 << 20

// sparseSource writes a sparse file of size bytes with random data in 1 MiB
// extents at the given MiB offsets, and a 4 KiB block of zeros inside the
// first extent, and returns its path and contents.
func sparseSource(t *testing.T, size int64, extents ...int64) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "src")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, e := range extents {
		b := want[e*mib : (e+1)*mib]
		for i := range b {
			b[i] = byte(rng.Uint32()) | 1
		}
		if len(extents) > 0 && e == extents[0] {
			clear(b[8192 : 8192+4096])
		}
		if _, err := f.WriteAt(b, e*mib); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, want
}

// filled writes a file of size bytes of b and returns its path.
func filled(t *testing.T, size int, b byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dst")
	if err := os.WriteFile(path, bytes.Repeat([]byte{b}, size), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyCmd runs volume copy with args and no progress, returning its summary.
func copyCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, progress bytes.Buffer
	err := volumeCopy(context.Background(), args, &out, &meter{w: &progress, interval: time.Hour})
	return out.String(), err
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVolumeCopyToNewFile(t *testing.T) {
	src, want := sparseSource(t, 16*mib, 1, 7, 15)
	for _, sparse := range []bool{false, true} {
		dst := filepath.Join(t.TempDir(), "new")
		args := []string{src, dst}
		if sparse {
			args = []string{"--sparse", src, dst}
		}
		out, err := copyCmd(t, args...)
		if err != nil {
			t.Fatalf("sparse=%v: %v", sparse, err)
		}
		if got := readFile(t, dst); !bytes.Equal(got, want) {
			t.Fatalf("sparse=%v: destination (%d bytes) differs from the source (%d bytes)", sparse, len(got), len(want))
		}
		// The summary says what the mode did: a sparse copy skips the holes,
		// a full one zeroes them.
		wantSummary := regexp.MustCompile(`^copied 16777216 bytes \(16\.0 MiB\) in [0-9.]+s \(.+/s\): read 3145728, written 3141632, zeroed 13635584, skipped 0\n$`)
		if sparse {
			wantSummary = regexp.MustCompile(`^copied 16777216 bytes \(16\.0 MiB\) in [0-9.]+s \(.+/s\): read 3145728, written 3141632, zeroed 0, skipped 13635584\n$`)
		}
		if !wantSummary.MatchString(out) {
			t.Fatalf("sparse=%v: summary %q does not match %s", sparse, out, wantSummary)
		}
	}
}

// A full copy leaves no stale byte on a destination full of old data, and a
// sparse one is used only when asked: it leaves the old bytes in the holes.
func TestVolumeCopyOntoOldData(t *testing.T) {
	src, want := sparseSource(t, 8*mib, 2, 5)
	dst := filled(t, 9*mib, 0xAA)
	if _, err := copyCmd(t, src, dst); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, dst)
	if len(got) != 9*mib {
		t.Fatalf("destination truncated to %d bytes", len(got))
	}
	if !bytes.Equal(got[:8*mib], want) {
		t.Fatalf("full copy left stale bytes: %d of the first 8 MiB are 0xAA", bytes.Count(got[:8*mib], []byte{0xAA}))
	}
	if !bytes.Equal(got[8*mib:], bytes.Repeat([]byte{0xAA}, mib)) {
		t.Fatal("full copy touched the bytes past the size copied")
	}

	dst = filled(t, 8*mib, 0xAA)
	if _, err := copyCmd(t, "--sparse", src, dst); err != nil {
		t.Fatal(err)
	}
	// The old bytes stay wherever the source reads as zeros: in its holes and
	// in the zero block inside its first extent.
	expect := bytes.Repeat([]byte{0xAA}, 8*mib)
	copy(expect[2*mib:3*mib], want[2*mib:3*mib])
	copy(expect[5*mib:6*mib], want[5*mib:6*mib])
	copy(expect[2*mib+8192:2*mib+8192+4096], bytes.Repeat([]byte{0xAA}, 4096))
	if !bytes.Equal(readFile(t, dst), expect) {
		t.Fatal("sparse copy did not write exactly the source's non-zero blocks")
	}
}

func TestVolumeCopySize(t *testing.T) {
	src, want := sparseSource(t, 8*mib, 0, 6)
	dst := filepath.Join(t.TempDir(), "new")
	if _, err := copyCmd(t, src, dst, "--size", "4194304", "--blocksize", "64K"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, dst); !bytes.Equal(got, want[:4*mib]) {
		t.Fatalf("destination of %d bytes is not the source's first 4 MiB", len(got))
	}
}

func TestVolumeCopyBadInput(t *testing.T) {
	src, _ := sparseSource(t, 4*mib, 0)
	small := filled(t, mib, 0xAA)
	dir := t.TempDir()
	newDst := filepath.Join(dir, "new")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"missing source", []string{filepath.Join(dir, "absent"), newDst}, "no such file"},
		{"source is a directory", []string{dir, newDst}, "neither a regular file nor a block device"},
		{"destination too small", []string{src, small}, "destination holds 1048576 bytes, fewer than the 4194304 to copy"},
		{"size beyond the source", []string{"--size", "8388608", src, newDst}, "exceeds the source's 4194304 bytes"},
		{"same file", []string{src, src}, "same file"},
		{"bad blocksize", []string{"--blocksize", "1X", src, newDst}, `invalid blocksize "1X"`},
		{"zero blocksize", []string{"--blocksize", "0", src, newDst}, `invalid blocksize "0"`},
		{"negative bps limit", []string{"--bps-limit", "-1", src, newDst}, "negative --bps-limit"},
		{"negative size", []string{"--size", "-1", src, newDst}, "negative --size"},
		{"bad number", []string{"--bps-limit", "fast", src, newDst}, "bps-limit"},
		{"unknown flag", []string{"--dd", src, newDst}, "flag provided but not defined: -dd"},
		{"one path", []string{src}, "want SRC and DST"},
		{"three paths", []string{src, newDst, newDst}, "want SRC and DST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := copyCmd(t, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got error %v, want one line containing %q", err, c.want)
			}
			if _, err := os.Stat(newDst); err == nil {
				t.Fatal("a failed copy left the destination it created")
			}
			if got := readFile(t, small); !bytes.Equal(got, bytes.Repeat([]byte{0xAA}, mib)) {
				t.Fatal("a failed copy changed an existing destination")
			}
		})
	}
}

func TestVolumeCopyHelp(t *testing.T) {
	out, err := copyCmd(t, "--help")
	if err != nil || !strings.HasPrefix(out, "usage: cinder-manage volume copy") || !strings.Contains(out, "--sparse") {
		t.Fatalf("--help: %v\n%s", err, out)
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, c := range []struct {
		args, paths []string
		sparse      bool
	}{
		{[]string{"--sparse", "a", "b"}, []string{"a", "b"}, true},
		{[]string{"a", "b", "--sparse"}, []string{"a", "b"}, true},
		{[]string{"a", "--sparse", "b"}, []string{"a", "b"}, true},
		{[]string{"a", "--", "--sparse"}, []string{"a", "--sparse"}, false},
		{[]string{"--", "-a", "b"}, []string{"-a", "b"}, false},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		sparse := fs.Bool("sparse", false, "")
		paths, err := parseInterspersed(fs, c.args)
		if err != nil || !slices.Equal(paths, c.paths) || *sparse != c.sparse {
			t.Errorf("parseInterspersed(%q) = %q, sparse %v, %v; want %q, sparse %v", c.args, paths, *sparse, err, c.paths, c.sparse)
		}
	}
}

// A slow copy cancelled midway stops promptly, says so, and removes the
// destination it created.
func TestVolumeCopyCancelled(t *testing.T) {
	src, _ := sparseSource(t, 8*mib, 0, 1, 2, 3, 4, 5, 6, 7)
	dst := filepath.Join(t.TempDir(), "new")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	var out, progress bytes.Buffer
	err := volumeCopy(ctx, []string{"--bps-limit", "1048576", src, dst}, &out, &meter{w: &progress, interval: time.Hour})
	if err == nil || !strings.Contains(err.Error(), "interrupted after") {
		t.Fatalf("got %v, want an interruption", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("cancelled copy took %v", d)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("interrupted copy left its destination: %v", err)
	}
	if out.Len() != 0 {
		t.Fatalf("interrupted copy printed a summary: %q", out.String())
	}
}

// When stderr is not a terminal, progress comes as plain lines at the interval.
func TestVolumeCopyPlainProgress(t *testing.T) {
	src, want := sparseSource(t, 4*mib, 0, 1, 2, 3)
	dst := filepath.Join(t.TempDir(), "new")
	var out, progress bytes.Buffer
	err := volumeCopy(context.Background(), []string{"--bps-limit", "16777216", src, dst}, &out, &meter{w: &progress, interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, dst), want) {
		t.Fatal("destination differs from the source")
	}
	lines := strings.Split(strings.TrimSuffix(progress.String(), "\n"), "\n")
	line := regexp.MustCompile(`^copy: \d{1,2}% [0-9.]+ (B|[KM]iB)/4\.0 MiB [0-9.]+ (B|[KM]iB)/s$`)
	if len(lines) < 3 {
		t.Fatalf("want several progress lines over a copy of about 250 ms, got %q", progress.String())
	}
	for _, l := range lines {
		if !line.MatchString(l) {
			t.Fatalf("progress line %q does not match %s", l, line)
		}
	}
	if strings.ContainsAny(progress.String(), "\r\x1b") {
		t.Fatal("plain progress holds terminal control characters")
	}
}

// The command runs as its own process without any configuration or
// database, shows plain progress when stderr is a pipe, and a SIGINT stops it
// with a one-line reason.
func TestVolumeCopyProcess(t *testing.T) {
	state := t.TempDir()
	conf := filepath.Join(state, "cinder.conf")
	if err := os.WriteFile(conf, []byte("[DEFAULT]\nstate_path = "+state+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, want := sparseSource(t, 4*mib, 1, 3)
	dst := filepath.Join(t.TempDir(), "new")
	cmd := exec.Command(os.Args[0], "--config-file", conf, "volume", "copy", src, dst, "--sparse")
	cmd.Env = append(os.Environ(), "CINDER_MANAGE_RUN_MAIN=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("volume copy: %v\n%s", err, out)
	}
	if !bytes.HasPrefix(out, []byte("copied 4194304 bytes")) || !bytes.Equal(readFile(t, dst), want) {
		t.Fatalf("volume copy printed %q and its destination differs from the source", out)
	}
	if _, err := os.Stat(filepath.Join(state, "cinder.sqlite")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("volume copy opened the database: %v", err)
	}

	big, _ := sparseSource(t, 64*mib, 0, 10, 20, 30, 40, 50, 60)
	dst = filepath.Join(t.TempDir(), "new")
	cmd = exec.Command(os.Args[0], "volume", "copy", "--bps-limit", "1048576", big, dst)
	cmd.Env = append(os.Environ(), "CINDER_MANAGE_RUN_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stderr)
	if !lines.Scan() || !strings.HasPrefix(lines.Text(), "copy: ") {
		t.Fatalf("want a plain progress line first, got %q (%v)", lines.Text(), lines.Err())
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Fatalf("interrupted copy exited with %d (%v)", code, err)
	}
	// Progress lines may come until the copy stops; the last line says why.
	if len(rest) == 0 || !strings.HasPrefix(rest[len(rest)-1], "cinder-manage: copy ") || !strings.Contains(rest[len(rest)-1], "interrupted after") {
		t.Fatalf("want a last line saying the copy was interrupted, got %q", rest)
	}
	for _, l := range rest[:len(rest)-1] {
		if !strings.HasPrefix(l, "copy: ") {
			t.Fatalf("want only progress lines before the reason, got %q", rest)
		}
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("interrupted copy left its destination: %v", err)
	}
}
