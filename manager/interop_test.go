package manager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/internal/testdb"
	"github.com/cinder-go/cinder/internal/testenv"
	"github.com/cinder-go/cinder/internal/testfile"
	"github.com/cinder-go/cinder/internal/testrpc"
	"github.com/cinder-go/cinder/manager"
)

// python is the interpreter that sees Debian's python3-oslo.messaging.
const python = "/usr/bin/python3"

// pythonCall has oslo.messaging call method with kwargs on the manager of
// e at version, as a Python cinder service would, fails t unless it
// answers without error, and returns the answer.
func pythonCall(t *testing.T, url string, e *env, version, method string, kwargs map[string]any) any {
	t.Helper()
	got := pythonAnswer(t, url, e, version, method, kwargs)
	if got["error"] != nil {
		t.Fatalf("oslo client calling %s: %v", method, got["error"])
	}
	return got["result"]
}

// pythonAnswer is pythonCall's answer as the oslo client prints it:
// {"result": …} or {"error": {class, module, exc_type, code, message}}.
func pythonAnswer(t *testing.T, url string, e *env, version, method string, kwargs map[string]any) map[string]any {
	t.Helper()
	calls, err := json.Marshal([][]any{{method, kwargs}})
	if err != nil {
		t.Fatal(err)
	}
	target := e.mgr.Targets()[1] // cinder-volume.<host@backend>, server <host>
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "../rpc/testdata/oslo_client.py", url, "openstack", target.Topic, target.Server, version)
	cmd.Stdin = bytes.NewReader(calls)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oslo client: %v\n%s", err, stderr.String())
	}
	var got []map[string]any
	if err := json.Unmarshal(out, &got); err != nil || len(got) != 1 {
		t.Fatalf("oslo client calling %s: %s (%v)", method, out, err)
	}
	return got[0]
}

// pythonPeer returns the RabbitMQ URL and a site on SQLite whose client
// talks over it, for a Python oslo.messaging peer; it skips (fails with
// CINDER_TEST_REQUIRE_SERVICES=1) where Python cannot import oslo_messaging.
func pythonPeer(t *testing.T) (string, *site) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import oslo_messaging").CombinedOutput(); err != nil {
		if testenv.Required() {
			t.Fatalf("%s cannot import oslo_messaging (CINDER_TEST_REQUIRE_SERVICES=1): %v\n%s", python, err, out)
		}
		t.Skipf("SKIP: %s cannot import oslo_messaging (apt-get install python3-oslo.messaging): %v", python, err)
	}
	url := testenv.RabbitURL(t)
	s := &site{store: testdb.SQLite(t), tr: testrpc.Dial(t, url, 10*time.Second)}
	s.client = manager.NewClient(s.tr)
	return url, s
}

// TestPythonPeerDrivesSnapshots: an oslo.messaging peer calls
// create_snapshot, initialize_connection_snapshot,
// terminate_connection_snapshot and remove_export_snapshot (3.13, as
// cinder-backup does), revert_to_snapshot (3.15) and delete_snapshot with
// Cinder's argument names, over RabbitMQ, and the manager does each.
func TestPythonPeerDrivesSnapshots(t *testing.T) {
	url, s := pythonPeer(t)
	e := s.add(t, "py-"+strings.ReplaceAll(uuid.NewString()[:8], "-", ""), "thin", "thin")
	e.start(t)
	ctx := context.Background()
	v := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	e.createAndWait(t, v)

	e.write(t, v, []byte("before the snapshot"), 0)
	before := testfile.Checksum(t, e.file(v))
	snap := e.snapshot(t, v, cinder.SnapshotCreating)
	pythonCall(t, url, e, "3.0", "create_snapshot", map[string]any{"snapshot": map[string]any{"id": snap.ID}})
	e.waitSnapshot(t, snap.ID, cinder.SnapshotAvailable)
	e.write(t, v, []byte("after the snapshot!"), 0)

	connector := map[string]any{"host": "py-backup", "multipath": false}
	conn, _ := pythonCall(t, url, e, "3.13", "initialize_connection_snapshot",
		map[string]any{"snapshot_id": snap.ID, "connector": connector}).(map[string]any)
	data, _ := conn["data"].(map[string]any)
	path, _ := data["device_path"].(string)
	if conn["driver_volume_type"] != "local" || path == "" {
		t.Fatalf("initialize_connection_snapshot answered %v", conn)
	}
	if got := testfile.Checksum(t, path); got != before {
		t.Fatal("the snapshot's connection does not hold the volume's bytes when snapshotted")
	}
	pythonCall(t, url, e, "3.13", "terminate_connection_snapshot", map[string]any{"snapshot_id": snap.ID, "connector": connector, "force": true})
	pythonCall(t, url, e, "3.13", "remove_export_snapshot", map[string]any{"snapshot_id": snap.ID})

	e.setStatus(t, v, cinder.StatusReverting)
	if _, err := e.store.UpdateSnapshot(ctx, snap.ID, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotRestoring; return nil }); err != nil {
		t.Fatal(err)
	}
	pythonCall(t, url, e, "3.15", "revert_to_snapshot", map[string]any{"volume": map[string]any{"id": v.ID}, "snapshot": map[string]any{"id": snap.ID}})
	e.waitStatus(t, v.ID, cinder.StatusAvailable)
	e.waitSnapshot(t, snap.ID, cinder.SnapshotAvailable)

	if _, err := e.store.UpdateSnapshot(ctx, snap.ID, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotDeleting; return nil }); err != nil {
		t.Fatal(err)
	}
	pythonCall(t, url, e, "3.0", "delete_snapshot", map[string]any{"snapshot": map[string]any{"id": snap.ID}, "unmanage_only": false})
	e.waitSnapshot(t, snap.ID, "gone")
}

// TestPythonPeerAttaches: an oslo.messaging peer calls attachment_update
// and attachment_delete (3.9, as cinder-api's rpcapi: vref, connector,
// attachment_id) and attach_volume (3.3) and detach_volume (3.4) with
// volume_id and volume, over RabbitMQ; the manager answers Cinder's
// connection info and moves the attachment and volume as Cinder's, and
// refuses a readonly volume's attach in rw with InvalidVolumeAttachMode.
func TestPythonPeerAttaches(t *testing.T) {
	url, s := pythonPeer(t)
	e := s.add(t, "py-"+strings.ReplaceAll(uuid.NewString()[:8], "-", ""), "thin", "thin")
	e.start(t)
	ctx := context.Background()
	v := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	e.createAndWait(t, v)
	e.write(t, v, []byte("attached bytes"), 0)
	written := testfile.Checksum(t, e.file(v))

	// The new attach flow: a reserved attachment, connected, then deleted.
	a := e.reserve(t, v, "null")
	connector := map[string]any{"host": "py-compute", "mountpoint": "/dev/vdb", "mode": "rw", "multipath": false}
	info, _ := pythonCall(t, url, e, "3.9", "attachment_update",
		map[string]any{"vref": map[string]any{"id": v.ID}, "connector": connector, "attachment_id": a.ID}).(map[string]any)
	path, _ := info["device_path"].(string)
	if info["driver_volume_type"] != "local" || info["attachment_id"] != a.ID || info["access_mode"] != "rw" || path != e.file(v) {
		t.Fatalf("attachment_update answered %v", info)
	}
	if testfile.Checksum(t, path) != written {
		t.Fatal("the connection's device path does not hold the volume's bytes")
	}
	got, err := e.store.GetAttachment(ctx, a.ID)
	if err != nil || got.AttachStatus != cinder.AttachAttaching || got.AttachedHost != "py-compute" || got.Mountpoint != "/dev/vdb" ||
		got.AttachMode != "rw" || got.Connector["host"] != "py-compute" {
		t.Fatalf("attachment after attachment_update: %+v, %v", got, err)
	}
	if v := e.waitStatus(t, v.ID, cinder.StatusAttaching); v.AttachStatus != cinder.AttachAttaching {
		t.Fatalf("volume attach_status %s after attachment_update", v.AttachStatus)
	}
	if r := pythonCall(t, url, e, "3.9", "attachment_delete", map[string]any{"attachment_id": a.ID, "vref": map[string]any{"id": v.ID}}); r != nil {
		t.Fatalf("attachment_delete answered %v", r)
	}
	// As Cinder's manager, it only withdraws the connection: cinder-api
	// then deletes the attachment.
	if got, err := e.store.GetAttachment(ctx, a.ID); err != nil || got.AttachStatus != cinder.AttachAttaching {
		t.Fatalf("attachment after attachment_delete: %+v, %v", got, err)
	}
	if _, err := e.store.DetachAttachment(ctx, v.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, cinder.StatusAvailable)

	// The old flow: attach_volume and detach_volume.
	const server = "3b8b6631-1cf7-4fd7-9afb-c01e541a073c"
	e.setStatus(t, v, cinder.StatusAttaching)
	att, _ := pythonCall(t, url, e, "3.3", "attach_volume", map[string]any{"volume_id": v.ID, "instance_uuid": server,
		"host_name": nil, "mountpoint": "/dev/vdc", "mode": "rw", "volume": map[string]any{"id": v.ID}}).(map[string]any)
	if att["instance_uuid"] != server || att["attach_status"] != cinder.AttachAttached || att["mountpoint"] != "/dev/vdc" || att["attach_mode"] != "rw" {
		t.Fatalf("attach_volume answered %v", att)
	}
	if v := e.waitStatus(t, v.ID, cinder.StatusInUse); v.AttachStatus != cinder.AttachAttached {
		t.Fatalf("volume after attach_volume: %+v", v)
	}
	pythonCall(t, url, e, "3.4", "detach_volume", map[string]any{"volume_id": v.ID, "attachment_id": att["id"], "volume": map[string]any{"id": v.ID}})
	if v := e.waitStatus(t, v.ID, cinder.StatusAvailable); v.AttachStatus != cinder.AttachDetached {
		t.Fatalf("volume after detach_volume: %+v", v)
	}
	if live, err := e.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: v.ID}); err != nil || len(live) != 0 {
		t.Fatalf("attachments after detach_volume: %v, %v", live, err)
	}

	// A readonly volume in rw: Cinder's InvalidVolumeAttachMode, rebuilt
	// by oslo.messaging from cinder.exception as a _Remote subclass.
	if _, err := e.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.Status, v.AdminMetadata = cinder.StatusAttaching, map[string]string{"readonly": "True"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := pythonAnswer(t, url, e, "3.3", "attach_volume", map[string]any{"volume_id": v.ID, "instance_uuid": server,
		"host_name": nil, "mountpoint": "/dev/vdc", "mode": "rw", "volume": map[string]any{"id": v.ID}})
	fault, _ := r["error"].(map[string]any)
	if fault["class"] != "InvalidVolumeAttachMode_Remote" || fault["module"] != "cinder.exception_Remote" || fault["code"] != 400.0 ||
		!strings.Contains(fmt.Sprint(fault["message"]), "Invalid attaching mode 'rw' for volume "+v.ID) {
		t.Fatalf("attach_volume of a readonly volume in rw answered %v", r)
	}
}

// TestPythonPeerDrivesGroupSnapshots: an oslo.messaging peer casts
// create_group_snapshot, create_group_from_src (with group_snapshot, and
// source_group None) and delete_group_snapshot with Cinder's argument
// names, over RabbitMQ, and the manager does each.
func TestPythonPeerDrivesGroupSnapshots(t *testing.T) {
	url, s := pythonPeer(t)
	e := s.add(t, "pyg-"+strings.ReplaceAll(uuid.NewString()[:8], "-", ""), "thin", "thin")
	e.start(t)
	ctx := context.Background()
	g, vols := e.group(t, cinder.GroupAvailable, 1)
	e.write(t, vols[0], []byte("in the group snapshot"), 0)
	want := testfile.Checksum(t, e.file(vols[0]))

	gs := e.groupSnapshot(t, g, vols, cinder.GroupSnapshotCreating, cinder.SnapshotCreating)
	pythonCall(t, url, e, "3.0", "create_group_snapshot", map[string]any{"group_snapshot": map[string]any{"id": gs.ID}})
	e.waitGroupSnapshot(t, gs.ID, cinder.GroupSnapshotAvailable)

	made, madeVols := e.groupFrom(t, gs, nil)
	pythonCall(t, url, e, "3.0", "create_group_from_src", map[string]any{"group": map[string]any{"id": made.ID},
		"group_snapshot": map[string]any{"id": gs.ID}, "source_group": nil})
	e.waitGroup(t, made.ID, cinder.GroupAvailable)
	e.waitStatus(t, madeVols[0].ID, cinder.StatusAvailable)
	if got := testfile.Checksum(t, e.file(madeVols[0])); got != want {
		t.Fatal("the volume made from the group snapshot differs from its source when snapshotted")
	}

	if _, err := e.store.UpdateGroupSnapshot(ctx, gs.ID, func(gs *cinder.GroupSnapshot) error { gs.Status = cinder.GroupSnapshotDeleting; return nil }); err != nil {
		t.Fatal(err)
	}
	pythonCall(t, url, e, "3.0", "delete_group_snapshot", map[string]any{"group_snapshot": map[string]any{"id": gs.ID}})
	e.waitGroupSnapshot(t, gs.ID, "gone")
}
