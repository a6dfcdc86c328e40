package tests

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testfile"
)

// waitSnapshot polls snapshot id until its status is want, or it is gone
// when want is "deleted".
func (d *deployment) waitSnapshot(id, want string) {
	d.t.Helper()
	d.waitResource("snapshot", id, want)
}

// waitResource polls the kind (snapshot, backup) id until its status is
// want, or it is gone when want is "deleted"; an error status fails the
// test unless it is wanted.
func (d *deployment) waitResource(kind, id, want string) {
	d.t.Helper()
	waitFor(d.t, 60*time.Second, kind+" "+id+" "+want, func() bool {
		code, out, err := d.try("GET", "/admin/"+kind+"s/"+id, nil)
		if err != nil {
			return false
		}
		if code == 404 {
			return want == "deleted"
		}
		s, _ := out[kind].(map[string]any)
		if st, _ := s["status"].(string); st == "error" && want != "error" {
			d.t.Fatalf("%s %s went to error while waiting for %s: %v", kind, id, want, s)
		}
		return s["status"] == want
	})
}

// TestCinderCLISnapshots drives snapshots, volumes from them and from
// other volumes, and revert with Debian's cinder CLI, on thin and thick
// backends, comparing every volume's bytes by checksum with what was
// written before; a thick volume made from a snapshot shows none of the
// stale bytes its reused storage held.
func TestCinderCLISnapshots(t *testing.T) {
	t.Parallel()
	needProgram(t, "cinder", "the cinder CLI, from python3-cinderclient")
	d := newDeployment(t, setup{backends: map[string]string{
		"thin":  "volume_driver = thin\n",
		"thick": "volume_driver = thick\nvolume_clear = none\n", // released storage keeps its bytes
	}})
	d.startAll()
	for _, backend := range []string{"thin", "thick"} {
		t.Run(backend, func(t *testing.T) {
			cinderCLI(t, d, "type-create", backend)
			cinderCLI(t, d, "type-key", backend, "set", "volume_backend_name="+backend)
			if backend == "thick" {
				// Leave stale bytes in the thick backend's free storage.
				old := cliField(cinderCLI(t, d, "create", "--volume-type", backend, "1"), "id")
				d.waitStatus(old, "available")
				fill(t, devicePath(t, d, old), []extent{{0, 1 << 30}}, 0xAA)
				cinderCLI(t, d, "delete", old)
				d.waitStatus(old, "deleted")
			}
			vol := cliField(cinderCLI(t, d, "create", "--volume-type", backend, "--name", "src", "1"), "id")
			d.waitStatus(vol, "available")
			fill(t, devicePath(t, d, vol), spread(4, 64<<10), 0x11)
			before := testfile.Checksum(t, devicePath(t, d, vol))

			snap := cliField(cinderCLI(t, d, "snapshot-create", "--name", "s1", vol), "id")
			d.waitSnapshot(snap, "available")
			if out := cinderCLI(t, d, "snapshot-list"); !strings.Contains(out, snap) {
				t.Fatalf("snapshot-list lacks %s:\n%s", snap, out)
			}
			if got := cliField(cinderCLI(t, d, "snapshot-show", snap), "volume_id"); got != vol {
				t.Fatalf("snapshot-show volume_id %q", got)
			}
			fill(t, devicePath(t, d, vol), spread(8, 4096), 0x22)
			after := testfile.Checksum(t, devicePath(t, d, vol))

			fromSnap := cliField(cinderCLI(t, d, "create", "--snapshot-id", snap, "1"), "id")
			d.waitStatus(fromSnap, "available")
			if got := testfile.Checksum(t, devicePath(t, d, fromSnap)); got != before {
				b, _ := os.ReadFile(devicePath(t, d, fromSnap))
				t.Fatalf("volume from the snapshot differs from the volume when snapshotted (stale 1 MiB blocks: %d)", staleBlocks(b))
			}
			clone := cliField(cinderCLI(t, d, "create", "--source-volid", vol, "1"), "id")
			d.waitStatus(clone, "available")
			if got := testfile.Checksum(t, devicePath(t, d, clone)); got != after {
				t.Fatal("clone differs from its source")
			}

			cinderCLI(t, d, "revert-to-snapshot", snap)
			d.waitStatus(vol, "available")
			d.waitSnapshot(snap, "available")
			if got := testfile.Checksum(t, devicePath(t, d, vol)); got != before {
				t.Fatal("reverted volume differs from its snapshot")
			}

			cinderCLI(t, d, "snapshot-delete", snap)
			d.waitSnapshot(snap, "deleted")
			for _, id := range []string{fromSnap, clone, vol} {
				cinderCLI(t, d, "delete", id)
				d.waitStatus(id, "deleted")
			}
		})
	}
}
