package tests

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cinder-go/cinder/internal/testenv"
	"github.com/cinder-go/cinder/internal/testfile"
)

// smallFilesystem mounts a tmpfs of size bytes for the test and returns its
// directory. Mounting needs root: without it the test skips.
func smallFilesystem(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: mounting a small filesystem needs root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		if testenv.Required() {
			t.Fatalf("mount a %d-byte tmpfs on %s (required by CINDER_TEST_REQUIRE_SERVICES=1): %v", size, dir, err)
		}
		t.Skipf("SKIP: mount a %d-byte tmpfs on %s: %v; set CINDER_TEST_REQUIRE_SERVICES=1 to make this fail", size, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// A migration to a thin backend whose filesystem (a 64 MiB tmpfs) fills up
// during the copy of 96 MiB: the migration fails, logged with ENOSPC and the
// volume's id, the volume stays whole on its source, and the target's row
// and storage are gone.
func TestDiskFullDuringMigration(t *testing.T) {
	const space, data = 64 << 20, 96 << 20
	dir := smallFilesystem(t, space)
	d := newDeployment(t, setup{backends: map[string]string{
		"thin":  "volume_driver = thin\n",
		"thin2": "volume_driver = thin\nbackend_host = hostB\nvolumes_dir = " + dir + "\n",
	}})
	d.startAll()
	id := d.volumeOn("thin")
	path := devicePath(t, d, id)
	fill(t, path, []extent{{0, data}}, 0)
	sum := testfile.Checksum(t, path)

	d.do("POST", "/admin/volumes/"+id+"/action", map[string]any{"os-migrate_volume": map[string]any{"host": "hostB@thin2"}}, 202)
	checkMigrationEnded(t, d, id, sum, "hostB@thin2", dir)
	if v := d.volume(id); v["migration_status"] != "error" || !strings.HasPrefix(v["os-vol-host-attr:host"].(string), "hostA@thin#") {
		t.Fatalf("after running out of space: migration_status %v, host %v; want error on hostA@thin", v["migration_status"], v["os-vol-host-attr:host"])
	}
	var logged bool
	for _, line := range strings.Split(d.log("cinder-all"), "\n") {
		if strings.Contains(line, `msg="failed to migrate volume"`) && strings.Contains(line, "volume_id="+id) &&
			strings.Contains(line, "no space left on device") {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("no log line says the migration of %s failed with no space left on device", id)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if free := int64(st.Bavail) * st.Bsize; free < space {
		t.Fatalf("destination filesystem has %d bytes free, want all %d back", free, space)
	}
}
