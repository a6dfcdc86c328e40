package testfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder/internal/testenv"
)

// XFS returns the mount point of a fresh 4 GiB xfs with reflink on a loop
// device, unmounted and detached when t ends. It skips t without root or a
// loop device (a machine may have none), and without mkfs.xfs unless
// CINDER_TEST_REQUIRE_SERVICES=1 (.ci/run installs xfsprogs).
func XFS(t *testing.T) string {
	t.Helper()
	unusable := func(what string, err error) {
		t.Helper()
		t.Skipf("SKIP: %s unusable here: %v", what, err)
	}
	if os.Geteuid() != 0 {
		unusable("xfs on a loop device", errors.New("not root"))
	}
	if _, err := exec.LookPath("mkfs.xfs"); err != nil {
		if testenv.Required() {
			t.Fatalf("mkfs.xfs required (CINDER_TEST_REQUIRE_SERVICES=1; apt-get install xfsprogs): %v", err)
		}
		unusable("mkfs.xfs (apt-get install xfsprogs)", err)
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "img"), filepath.Join(dir, "mnt")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 4<<30); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.xfs", "-q", "-m", "reflink=1", img).CombinedOutput(); err != nil {
		unusable("mkfs.xfs", errors.New(string(out)))
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		unusable("loop devices", errors.New(string(out)))
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dev, mnt, "xfs", 0, ""); err != nil {
		unusable("mounting xfs", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}
