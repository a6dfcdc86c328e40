package tests

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
)

// TestCrashVolumeDuringSnapshotAndClone kills cinder-volume while a thick
// backend, paced by volume_copy_bps_limit, copies a snapshot, and again
// while it copies a clone: the restarted service sets the snapshot and
// the clone to error with their partial storage removed, the source
// keeps its bytes, and the audit finds the database and the storage
// agreeing.
func TestCrashVolumeDuringSnapshotAndClone(t *testing.T) {
	d := newDeployment(t, setup{transport: testenv.RabbitURL(t), backends: map[string]string{
		"thin":  "volume_driver = thin\n",
		"thick": "volume_driver = thick\nvolume_clear = none\nvolume_copy_bps_limit = 33554432\n", // 1 GiB in 32 s
	}, extra: crashRecovery})
	d.startSplit()
	typ := d.backendType("thick")
	src := d.createVolume(1, map[string]any{"volume_type": typ})
	d.waitStatus(src, "available")
	fill(t, devicePath(t, d, src), []extent{{0, 1 << 30}}, 0x33) // all data: the copies take 32 s

	snap := d.do("POST", "/admin/snapshots", map[string]any{"snapshot": map[string]any{"volume_id": src}}, 202)["snapshot"].(map[string]any)["id"].(string)
	snapFile := filepath.Join(d.dir, "volumes", "thick", "snapshot-"+snap)
	beganCopy(t, snapFile)
	d.kill("cinder-volume")
	d.start("cinder-volume")
	d.waitSnapshot(snap, "error")
	if _, err := os.Stat(snapFile); !os.IsNotExist(err) {
		t.Fatalf("storage of the snapshot left creating: %v, want none", err)
	}
	d.waitLog("cinder-volume", 1, "snapshot was left creating", snap)

	clone := d.createVolume(1, map[string]any{"source_volid": src})
	beganCopy(t, d.volumeFile("thick", clone))
	d.kill("cinder-volume")
	d.start("cinder-volume")
	d.waitStatusAny(clone, "error")
	gone(t, d, clone)
	if v := d.volume(src); v["status"] != "available" {
		t.Fatalf("source after the kills: %v", v["status"])
	}
	settle(t, d, recoveryInterval)
}

// beganCopy waits until the driver has begun writing path.
func beganCopy(t *testing.T, path string) {
	t.Helper()
	waitFor(t, 20*time.Second, "the driver to begin copying into "+path, func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
}
