package posix

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// openUnder returns the files under dir that this process holds open,
// deleted ones included: the kernel frees their space only once closed.
func openUnder(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("SKIP: no /proc/self/fd to find open files: %v", err)
	}
	var open []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+"/") {
			open = append(open, target)
		}
	}
	return open
}

// An incremental backup that fails midway (the volume grew since its
// parent, found after an object was begun) leaves no file, directory or
// open file of its own: the space it used is free again.
func TestFailedCreateLeavesNothing(t *testing.T) {
	for _, compression := range []string{"none", "zlib", "zstd"} {
		t.Run(compression, func(t *testing.T) {
			opts := testOptions(t, compression)
			src := filepath.Join(t.TempDir(), "volume")
			write(t, src, 0, random(1, 2*mib))
			b1 := testBackup("c1000000-0000-4000-8000-000000000001", nil)
			if _, err := Create(context.Background(), opts, b1, src, 2*mib); err != nil {
				t.Fatal(err)
			}
			write(t, src, 0, random(2, 3*mib)) // every block changed, one more MiB
			b2 := testBackup("c2000000-0000-4000-8000-000000000002", &b1)
			if _, err := Create(context.Background(), opts, b2, src, 3*mib); err == nil || !strings.Contains(err.Error(), "size increased") {
				t.Fatalf("incremental of a grown volume: %v, want size increased", err)
			}
			if open := openUnder(t, opts.Path); len(open) > 0 {
				t.Errorf("the failed backup left files open: %v", open)
			}
			var left []string
			if err := filepath.WalkDir(opts.Path, func(path string, e fs.DirEntry, err error) error {
				if err == nil && strings.Contains(path, b2.ID[:2]) {
					left = append(left, path)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if len(left) > 0 {
				t.Errorf("the failed backup left %v", left)
			}
		})
	}
}
