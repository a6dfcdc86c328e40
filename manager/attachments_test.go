package manager_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// objectKeys are the keys of the JSON object raw, in order.
func objectKeys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", raw)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// reserve writes a reserved attachment of v, as the API does.
func (e *env) reserve(t *testing.T, v *cinder.Volume, mode string) *cinder.Attachment {
	t.Helper()
	a := &cinder.Attachment{VolumeID: v.ID, AttachStatus: cinder.AttachReserved, AttachMode: mode}
	if _, err := e.store.CreateAttachment(context.Background(), a, func(v *cinder.Volume, _ []*cinder.Attachment) error {
		v.Status = cinder.StatusReserved
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAttachmentUpdate: the backend connects a reserved attachment and
// answers Cinder's connection info, whose device path holds the volume's
// bytes; the attachment and volume become attaching.
func TestAttachmentUpdate(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	ctx := context.Background()
	typ := &cinder.VolumeType{Name: "cached", IsPublic: true, ExtraSpecs: map[string]string{"cacheable": "<is> True"}}
	if err := e.store.CreateVolumeType(ctx, typ); err != nil {
		t.Fatal(err)
	}
	v := e.volume(t, e.pool(), cinder.StatusCreating, 1)
	if _, err := e.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error { v.VolumeTypeID = typ.ID; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.client.CreateVolume(ctx, v, nil); err != nil {
		t.Fatal(err)
	}
	v = e.waitStatus(t, v.ID, cinder.StatusAvailable)
	a := e.reserve(t, v, "null")

	raw, err := e.client.AttachmentUpdate(ctx, v, map[string]any{"host": "node9", "mountpoint": "/dev/vdb"}, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"device_path", "qos_specs", "access_mode", "encrypted", "cacheable", "driver_volume_type", "attachment_id"}
	if keys := objectKeys(t, raw); !slices.Equal(keys, want) {
		t.Fatalf("connection info keys %q, want %q", keys, want)
	}
	var info map[string]any
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	if info["device_path"] != e.file(v) || info["driver_volume_type"] != "local" || info["attachment_id"] != a.ID ||
		info["access_mode"] != "rw" || info["cacheable"] != true || info["encrypted"] != false || info["qos_specs"] != nil {
		t.Fatalf("connection info %s", raw)
	}
	if st, err := os.Stat(info["device_path"].(string)); err != nil || st.Size() != 1<<30 {
		t.Fatalf("device path %v, %v; want the 1 GiB volume", st, err)
	}

	got, err := e.store.GetAttachment(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.AttachStatus != cinder.AttachAttaching || got.AttachedHost != "node9" || got.Mountpoint != "/dev/vdb" ||
		got.AttachMode != "rw" || got.AttachTime == nil || got.Connector["host"] != "node9" {
		t.Fatalf("attachment after update %+v", got)
	}
	if v := e.waitStatus(t, v.ID, cinder.StatusAttaching); v.AttachStatus != cinder.AttachAttaching {
		t.Fatalf("volume attach_status %s", v.AttachStatus)
	}

	// A mode asked for at create wins over the connector's; no mountpoint is na.
	b := e.reserve(t, v, "ro")
	if _, err := e.client.AttachmentUpdate(ctx, v, map[string]any{"host": "node9", "mode": "rw"}, b.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.GetAttachment(ctx, b.ID); got.AttachMode != "ro" || got.Mountpoint != "na" || got.Connector["mode"] != "ro" {
		t.Fatalf("attachment created ro %+v", got)
	}

	if err := e.client.AttachmentDelete(ctx, v, a.ID); err != nil {
		t.Fatal(err)
	}
	// An attachment of another volume is refused.
	other := e.volume(t, e.pool(), cinder.StatusAvailable, 1)
	if _, err := e.client.AttachmentUpdate(ctx, other, map[string]any{"host": "h"}, a.ID); cinder.Code(err) != 400 {
		t.Fatalf("update of another volume's attachment: %v", err)
	}
}

// TestAttachAndDetachVolume: attach_volume makes a volume in-use and
// attached, refuses a second instance unless multiattach, and
// detach_volume gives it back.
func TestAttachAndDetachVolume(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	ctx := context.Background()
	v := e.volume(t, e.pool(), cinder.StatusAttaching, 1)
	const inst = "3b8b6631-1cf7-4fd7-9afb-c01e541a073c"
	a, err := e.client.AttachVolume(ctx, v, cinder.Attach{InstanceUUID: inst, HostName: "Node_9.", Mountpoint: "/dev/vdc", Mode: "ro"})
	if err != nil {
		t.Fatal(err)
	}
	if a.AttachStatus != cinder.AttachAttached || a.InstanceUUID != inst || a.AttachedHost != "node-9" || a.AttachMode != "ro" {
		t.Fatalf("attachment %+v", a)
	}
	if v := e.waitStatus(t, v.ID, cinder.StatusInUse); v.AttachStatus != cinder.AttachAttached {
		t.Fatalf("volume after attach %+v", v)
	}
	again, err := e.client.AttachVolume(ctx, v, cinder.Attach{InstanceUUID: inst, Mountpoint: "/dev/vdc", Mode: "rw"})
	if err != nil || again.ID != a.ID {
		t.Fatalf("the same instance again: %+v, %v", again, err)
	}
	_, err = e.client.AttachVolume(ctx, v, cinder.Attach{HostName: "other", Mountpoint: "/dev/vdc", Mode: "rw"})
	var ce *cinder.Error
	if !errors.As(err, &ce) || ce.Class != "InvalidVolume" ||
		ce.Message != "Invalid volume: volume is already attached and multiple attachments are not enabled" {
		t.Fatalf("a second attachment: %v", err)
	}
	if err := e.client.DetachVolume(ctx, v, ""); err != nil {
		t.Fatal(err)
	}
	if v := e.waitStatus(t, v.ID, cinder.StatusAvailable); v.AttachStatus != cinder.AttachDetached {
		t.Fatalf("volume after detach %+v", v)
	}
	if live, err := e.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: v.ID}); err != nil || len(live) != 0 {
		t.Fatalf("attachments after detach %v, %v", live, err)
	}
	// Detaching an attachment already gone only settles the statuses.
	e.setStatus(t, v, cinder.StatusDetaching)
	if err := e.client.DetachVolume(ctx, v, a.ID); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, v.ID, cinder.StatusAvailable)
}

// TestAttachReadonlyVolume: attach_volume of a volume flagged readonly in
// rw is InvalidVolumeAttachMode, its attachment left error_attaching and
// the volume as it was, as Cinder's manager; in ro it is attached.
func TestAttachReadonlyVolume(t *testing.T) {
	e := newEnv(t, "thin")
	e.start(t)
	ctx := context.Background()
	v := e.volume(t, e.pool(), cinder.StatusAttaching, 1)
	v, err := e.store.UpdateVolume(ctx, v.ID, func(v *cinder.Volume) error {
		v.AdminMetadata = map[string]string{"readonly": "True"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.client.AttachVolume(ctx, v, cinder.Attach{HostName: "node1", Mountpoint: "/dev/vdc", Mode: "rw"})
	var ce *cinder.Error
	if !errors.As(err, &ce) || ce.Class != "InvalidVolumeAttachMode" || ce.Message != "Invalid attaching mode 'rw' for volume "+v.ID+"." {
		t.Fatalf("attach in rw: %v", err)
	}
	live, err := e.store.ListAttachments(ctx, db.AttachmentFilter{VolumeID: v.ID})
	if err != nil || len(live) != 1 || live[0].AttachStatus != cinder.AttachErrorAttaching {
		t.Fatalf("attachments after a refused attach: %v, %v", live, err)
	}
	if got, err := e.store.GetVolume(ctx, v.ID); err != nil || got.Status != cinder.StatusAttaching || got.AttachStatus == cinder.AttachAttached {
		t.Fatalf("volume after a refused attach: %+v, %v", got, err)
	}
	a, err := e.client.AttachVolume(ctx, v, cinder.Attach{HostName: "node2", Mountpoint: "/dev/vdc", Mode: "ro"})
	if err != nil || a.AttachStatus != cinder.AttachAttached || a.AttachMode != "ro" {
		t.Fatalf("attach in ro: %+v, %v", a, err)
	}
	e.waitStatus(t, v.ID, cinder.StatusInUse)
}
