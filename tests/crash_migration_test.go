package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cinder-go/cinder/internal/testenv"
	"github.com/cinder-go/cinder/internal/testfile"
)

// The processes of a crash deployment: the source backend thin on hostA,
// the destination backend thin2 on hostB, each in a cinder-volume of its own.
const (
	srcVolume = "cinder-volume-hostA"
	dstVolume = "cinder-volume-hostB"
	crashData = 32 << 20 // random bytes a migrated volume holds: 4 s of copy at the source's limit
)

// crashDeployment runs cinder-scheduler, cinder-api and one cinder-volume
// per backend over RabbitMQ, so that each backend's process can be killed
// alone. The source paces its copies at 8 MiB/s, so that a copy can be
// caught in flight, and RPC calls time out after 5 s.
func crashDeployment(t *testing.T, rabbitURL string) *deployment {
	d := newDeployment(t, setup{
		transport: rabbitURL,
		backends: map[string]string{
			"thin":  "volume_driver = thin\nvolume_copy_bps_limit = 8388608\n",
			"thin2": "volume_driver = thin\nbackend_host = hostB\n",
		},
		extra: "rpc_response_timeout = 5\n",
	})
	// One process at a time: their first opening of the SQLite database
	// (schema, WAL) must not race.
	d.start("cinder-scheduler")
	d.waitLog("cinder-scheduler", 1, `msg="cinder-scheduler started"`)
	d.startVolume(srcVolume, "thin")
	d.startVolume(dstVolume, "thin2")
	d.start("cinder-api")
	d.waitReady()
	return d
}

// startVolume starts, or starts again after kill, the cinder-volume named
// name serving backend, and waits until it has recovered and serves.
func (d *deployment) startVolume(name, backend string) {
	d.t.Helper()
	const started = `msg="cinder-volume backend started"`
	n := strings.Count(d.log(name), started)
	d.startAs(name, "cinder-volume", "[DEFAULT]\nenabled_backends = "+backend+"\n")
	d.waitLog(name, n+1, started)
}

// waitLog waits until the log of the process started as name holds n lines
// with every one of words, and returns the last of them.
func (d *deployment) waitLog(name string, n int, words ...string) string {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var lines []string
	next:
		for _, line := range strings.Split(d.log(name), "\n") {
			for _, w := range words {
				if !strings.Contains(line, w) {
					continue next
				}
			}
			lines = append(lines, line)
		}
		if len(lines) >= n {
			return lines[len(lines)-1]
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%s logged %d lines with %q after 60s, want %d", name, len(lines), words, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// volumesDir is the default volumes_dir of backend: $state_path/volumes/<backend>.
func (d *deployment) volumesDir(backend string) string {
	return filepath.Join(d.dir, "volumes", backend)
}

// target returns the admin view of volume id's migration target, or nil.
func (d *deployment) target(id string) map[string]any {
	d.t.Helper()
	for _, v := range d.do("GET", "/admin/volumes/detail?all_tenants=1", nil, 200)["volumes"].([]any) {
		if v := v.(map[string]any); v["migration_status"] == "target:"+id {
			return v
		}
	}
	return nil
}

// startMigration starts moving a volume holding crashData random bytes
// from thin to thin2 and returns its id and checksum.
func startMigration(t *testing.T, d *deployment) (id, sum string) {
	id = d.volumeOn("thin")
	path := devicePath(t, d, id)
	fill(t, path, []extent{{0, crashData}}, 0)
	sum = testfile.Checksum(t, path)
	d.do("POST", "/admin/volumes/"+id+"/action", map[string]any{"os-migrate_volume": map[string]any{"host": "hostB@thin2"}}, 202)
	return id, sum
}

// copying waits until the copy of volume id's migration has written at
// least written bytes of its data, and returns the target's file.
func copying(t *testing.T, d *deployment, id string, written int64) string {
	t.Helper()
	var path string
	waitFor(t, 30*time.Second, fmt.Sprintf("the copy of %s to write %d bytes", id, written), func() bool {
		nv := d.target(id)
		if nv == nil || nv["status"] != "available" {
			return false
		}
		path = filepath.Join(d.volumesDir("thin2"), "volume-"+nv["id"].(string))
		_, allocated := testfile.Stat(t, path)
		return allocated >= written
	})
	return path
}

// midCopy fails unless the target file at path holds only part of the data.
func midCopy(t *testing.T, path string) {
	t.Helper()
	if _, allocated := testfile.Stat(t, path); allocated >= crashData {
		t.Fatalf("target %s already holds %d bytes: the crash came after the copy", path, allocated)
	}
}

// checkMigrationEnded waits until volume id's migration to backend dest
// (host@backend) has ended and checks that the volume is available with its
// bytes whole (sum), its target row gone and no file left in dest's
// volumes_dir, dir, but those of volumes living there.
func checkMigrationEnded(t *testing.T, d *deployment, id, sum, dest, dir string) {
	t.Helper()
	v := d.waitMigration(id)
	if v["status"] != "available" {
		t.Fatalf("volume after recovery: status %v, migration_status %v; want available", v["status"], v["migration_status"])
	}
	if got := testfile.Checksum(t, devicePath(t, d, id)); got != sum {
		t.Fatalf("volume %s (migration_status %v, host %v) holds other bytes than before the migration", id, v["migration_status"], v["os-vol-host-attr:host"])
	}
	var left string // what is still there, for the failure message
	defer func() {
		if t.Failed() && left != "" {
			t.Logf("left behind: %s", left)
		}
	}()
	waitFor(t, 30*time.Second, "the target row of "+id+" and every file of no volume in "+dir+" to go", func() bool {
		left = ""
		live := map[string]bool{}
		for _, v := range d.do("GET", "/admin/volumes/detail?all_tenants=1", nil, 200)["volumes"].([]any) {
			v := v.(map[string]any)
			if v["migration_status"] == "target:"+id {
				left = fmt.Sprintf("target row %v", v)
				return false
			}
			if strings.HasPrefix(v["os-vol-host-attr:host"].(string), dest+"#") {
				live[filepath.Base(devicePath(t, d, v["id"].(string)))] = true
			}
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var stray []string
		for _, e := range entries {
			if !live[e.Name()] {
				stray = append(stray, e.Name())
			}
		}
		left = fmt.Sprintf("files %v", stray)
		return len(stray) == 0
	})
	t.Logf("volume %s after its migration: status %v, migration_status %v, host %v", id, v["status"], v["migration_status"], v["os-vol-host-attr:host"])
}

// A cinder-volume killed (SIGKILL) in the middle of a migration, then
// started again: the migration ends in error or success, never stuck, the
// volume keeps its bytes, and no target row or file is left behind.
func TestMigrationCrash(t *testing.T) {
	rabbitURL := testenv.RabbitURL(t) // the broker stays this test's between its subtests
	t.Run("SourceBeforeTheDestinationExists", func(t *testing.T) {
		d := crashDeployment(t, rabbitURL)
		// A stopped destination does not serve the create_volume cast.
		d.signal(dstVolume, syscall.SIGSTOP)
		defer d.signal(dstVolume, syscall.SIGCONT)
		id, sum := startMigration(t, d)
		var nv map[string]any
		waitFor(t, 30*time.Second, id+" migrating, its target creating", func() bool {
			nv = d.target(id)
			return nv != nil && nv["status"] == "creating" && d.volume(id)["migration_status"] == "migrating"
		})
		d.kill(srcVolume)
		d.startVolume(srcVolume, "thin")
		d.signal(dstVolume, syscall.SIGCONT)
		// The late create finds its row destroyed and makes nothing.
		d.waitLog(dstVolume, 1, "volume to create no longer exists", nv["id"].(string))
		checkMigrationEnded(t, d, id, sum, "hostB@thin2", d.volumesDir("thin2"))
	})

	// The source or the destination killed mid-copy.
	for _, victim := range []struct{ test, process, backend string }{
		{"SourceDuringTheCopy", srcVolume, "thin"},
		{"DestinationDuringTheCopy", dstVolume, "thin2"},
	} {
		t.Run(victim.test, func(t *testing.T) {
			d := crashDeployment(t, rabbitURL)
			id, sum := startMigration(t, d)
			path := copying(t, d, id, 1<<20)
			d.kill(victim.process)
			midCopy(t, path)
			d.startVolume(victim.process, victim.backend)
			checkMigrationEnded(t, d, id, sum, "hostB@thin2", d.volumesDir("thin2"))
		})
	}

	t.Run("SourceDuringTheCompletion", func(t *testing.T) {
		d := crashDeployment(t, rabbitURL)
		id, sum := startMigration(t, d)
		// Stopped near the copy's end (the source writes the target's file
		// itself, so the copy ends), the destination makes the source's
		// detach time out, then its completion's update_migrated_volume wait.
		copying(t, d, id, crashData*3/4)
		d.signal(dstVolume, syscall.SIGSTOP)
		defer d.signal(dstVolume, syscall.SIGCONT)
		waitFor(t, 30*time.Second, id+" completing", func() bool {
			return d.volume(id)["migration_status"] == "completing"
		})
		d.kill(srcVolume)
		d.signal(dstVolume, syscall.SIGCONT)
		// The destination serves the dead source's call: the target's
		// storage now carries the volume's name.
		d.waitLog(dstVolume, 1, `msg="updated migrated volume"`, id)
		d.startVolume(srcVolume, "thin")
		checkMigrationEnded(t, d, id, sum, "hostB@thin2", d.volumesDir("thin2"))
		if v := d.volume(id); v["migration_status"] != "error" || !strings.HasPrefix(v["os-vol-host-attr:host"].(string), "hostA@thin#") {
			t.Fatalf("a completion that never moved the row: migration_status %v, host %v; want error on hostA@thin", v["migration_status"], v["os-vol-host-attr:host"])
		}
	})
}
