package volume

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// The attachment RPCs of fakeRPC record "method volume>attachment"; an
// update answers a connection info naming the attachment.

func (f *fakeRPC) AttachmentUpdate(_ context.Context, v *cinder.Volume, _ map[string]any, id string) (json.RawMessage, error) {
	if err := f.record("attachment_update", v.ID+">"+id); err != nil {
		return nil, err
	}
	return json.RawMessage(`{"device_path": "/dev/fake", "attachment_id": "` + id + `"}`), nil
}

func (f *fakeRPC) AttachmentDelete(_ context.Context, v *cinder.Volume, id string) error {
	return f.record("attachment_delete", v.ID+">"+id)
}

func (f *fakeRPC) AttachVolume(_ context.Context, v *cinder.Volume, req cinder.Attach) (*cinder.Attachment, error) {
	return &cinder.Attachment{VolumeID: v.ID}, f.record("attach_volume", v.ID+">"+req.InstanceUUID)
}

func (f *fakeRPC) DetachVolume(_ context.Context, v *cinder.Volume, id string) error {
	return f.record("detach_volume", v.ID+">"+id)
}

// instance is an instance's UUID.
const instance = "3b8b6631-1cf7-4fd7-9afb-c01e541a073c"

// attachments lists volume id's attachments (not deleted).
func (c *cloud) attachments(id string) []*cinder.Attachment {
	c.t.Helper()
	atts, err := c.store.ListAttachments(context.Background(), db.AttachmentFilter{VolumeID: id})
	if err != nil {
		c.t.Fatal(err)
	}
	return atts
}

// statuses fails unless volume id has status and attachStatus.
func (c *cloud) statuses(id, status, attachStatus string) {
	c.t.Helper()
	if v := c.get(id); v.Status != status || v.AttachStatus != attachStatus {
		c.t.Fatalf("volume %s: %s/%s, want %s/%s", id, v.Status, v.AttachStatus, status, attachStatus)
	}
}

// TestAttachmentLifecycle: a reservation, a connection, completion and
// deletion move the volume through reserved, in-use and back to available.
func TestAttachmentLifecycle(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(nil)
	att, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, InstanceUUID: instance, Mode: "null"})
	if err != nil || att.AttachStatus != cinder.AttachReserved || att.ConnectionInfo != nil {
		t.Fatalf("reserve: %+v, %v", att, err)
	}
	c.statuses(id, cinder.StatusReserved, cinder.AttachDetached)
	if calls := c.rpc.called(); len(calls) != 0 {
		t.Fatalf("a reservation asked the backend %v", calls)
	}
	// A second reservation of a volume that is not multiattach is refused,
	// unless for the same instance.
	_, err = c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, Mode: "null"})
	wantCode(t, "a second reservation", err, 400)
	if !strings.Contains(err.Error(), "status must be available or downloading to reserve, but the current status is reserved") {
		t.Fatalf("second reservation: %v", err)
	}
	again, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, InstanceUUID: instance, Mode: "null"})
	if err != nil {
		t.Fatalf("the same instance again: %v", err)
	}
	if _, err := c.api.DeleteAttachment(ctx, again.ID); err != nil {
		t.Fatal(err)
	}

	upd, err := c.api.UpdateAttachment(ctx, att.ID, map[string]any{"host": "node1"})
	if err != nil || upd.AttachStatus != cinder.AttachReserved || !strings.Contains(string(upd.ConnectionInfo), att.ID) {
		t.Fatalf("update: %+v, %v", upd, err)
	}
	if got, _ := c.store.GetAttachment(ctx, att.ID); string(got.ConnectionInfo) != string(upd.ConnectionInfo) {
		t.Fatalf("stored connection info %s", got.ConnectionInfo)
	}
	if err := c.api.CompleteAttachment(ctx, att.ID); err != nil {
		t.Fatal(err)
	}
	c.statuses(id, cinder.StatusInUse, cinder.AttachAttached)
	wantCode(t, "delete an attached volume", c.api.Delete(ctx, id, false, false), 400)
	wantCode(t, "force delete an attached volume", c.api.Delete(ctx, id, true, false), 400)

	left, err := c.api.DeleteAttachment(ctx, att.ID)
	if err != nil || len(left) != 0 {
		t.Fatalf("delete: %v, %v", left, err)
	}
	c.statuses(id, cinder.StatusAvailable, cinder.AttachDetached)
	if calls := c.rpc.called(); !slices.Equal(calls, []string{"attachment_update " + id + ">" + att.ID, "attachment_delete " + id + ">" + att.ID}) {
		t.Fatalf("backend calls %v", calls)
	}
	_, err = c.api.GetAttachment(ctx, att.ID)
	wantCode(t, "a deleted attachment", err, 404)
}

func TestAttachmentCreateRules(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	broken := c.volume(func(v *cinder.Volume) { v.Status = cinder.StatusErrorExtend })
	_, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: broken, Mode: "null"})
	wantCode(t, "an attachment of a volume in error", err, 400)

	// With a connector the backend connects at once; the mode is kept.
	id := c.volume(nil)
	att, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, Connector: map[string]any{"host": "h"}, Mode: "ro"})
	if err != nil || att.ConnectionInfo == nil || att.AttachMode != "ro" {
		t.Fatalf("create with a connector: %+v, %v", att, err)
	}
	if got, _ := c.store.GetAttachment(ctx, att.ID); got.AttachMode != "ro" || got.ConnectionInfo == nil {
		t.Fatalf("stored %+v", got)
	}

	// A multiattach volume takes a second attachment while in-use.
	multi := c.volume(func(v *cinder.Volume) { v.Multiattach = true })
	first, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: multi, Mode: "null"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.api.CompleteAttachment(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	second, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: multi, Mode: "null"})
	if err != nil {
		t.Fatalf("second attachment of a multiattach volume: %v", err)
	}
	c.statuses(multi, cinder.StatusReserved, cinder.AttachAttached)
	if _, err := c.api.DeleteAttachment(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	c.statuses(multi, cinder.StatusInUse, cinder.AttachAttached)

	// Another project's volume and attachment do not exist.
	other := cinder.WithRequestContext(context.Background(), &cinder.RequestContext{UserID: "u", ProjectID: "other"})
	_, err = c.api.CreateAttachment(other, AttachmentRequest{VolumeID: id, Mode: "null"})
	wantCode(t, "another project's volume", err, 404)
	_, err = c.api.GetAttachment(other, att.ID)
	wantCode(t, "another project's attachment", err, 404)
}

// TestAttachmentUpdateRefusesDuplicateConnections: a volume that is not
// multiattach holds one connected attachment.
func TestAttachmentUpdateRefusesDuplicateConnections(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(nil)
	a, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, InstanceUUID: instance, Connector: map[string]any{"host": "a"}, Mode: "null"})
	if err != nil {
		t.Fatal(err)
	}
	c.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusInUse })
	b, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, InstanceUUID: instance, Mode: "null"})
	if err != nil {
		t.Fatalf("the same instance reserves again: %v", err)
	}
	_, err = c.api.UpdateAttachment(ctx, b.ID, map[string]any{"host": "b"})
	wantCode(t, "a second connection", err, 400)
	if !strings.Contains(err.Error(), "duplicate connectors detected on volume "+id) {
		t.Fatalf("second connection: %v", err)
	}
	if _, err := c.api.DeleteAttachment(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.api.UpdateAttachment(ctx, b.ID, map[string]any{"host": "b"}); err != nil {
		t.Fatalf("once the first is gone: %v", err)
	}
	c.rpc.err = errBusDown
	_, err = c.api.UpdateAttachment(ctx, b.ID, map[string]any{"host": "b"})
	wantCode(t, "an update while the bus is down", err, 503)
}

// TestReserveAndDetachActions drives os-reserve, os-unreserve,
// os-begin_detaching and os-roll_detaching through their statuses.
func TestReserveAndDetachActions(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(nil)
	if err := c.api.Reserve(ctx, id); err != nil {
		t.Fatal(err)
	}
	c.statuses(id, cinder.StatusAttaching, cinder.AttachDetached)
	err := c.api.Reserve(ctx, id)
	wantCode(t, "reserve twice", err, 400)
	if !strings.Contains(err.Error(), "Volume status must be available to reserve, but the status is attaching.") {
		t.Fatalf("reserve twice: %v", err)
	}
	if err := c.api.Unreserve(ctx, id); err != nil {
		t.Fatal(err)
	}
	c.statuses(id, cinder.StatusAvailable, cinder.AttachDetached)
	if err := c.api.Unreserve(ctx, id); err != nil {
		t.Fatalf("unreserve of an available volume: %v", err)
	}
	wantCode(t, "begin detaching an available volume", c.api.BeginDetaching(ctx, id), 400)

	c.setVolume(id, func(v *cinder.Volume) { v.Status, v.AttachStatus = cinder.StatusInUse, cinder.AttachAttached })
	if err := c.api.BeginDetaching(ctx, id); err != nil {
		t.Fatal(err)
	}
	c.statuses(id, cinder.StatusDetaching, cinder.AttachAttached)
	if err := c.api.RollDetaching(ctx, id); err != nil {
		t.Fatal(err)
	}
	c.statuses(id, cinder.StatusInUse, cinder.AttachAttached)

	// A migrating volume is left as it is, without error.
	c.setVolume(id, func(v *cinder.Volume) {
		v.Status, v.MigrationStatus = cinder.StatusAvailable, cinder.MigrationMigrating
	})
	if err := c.api.BeginDetaching(ctx, id); err != nil {
		t.Fatalf("begin detaching a migrating volume: %v", err)
	}
	c.statuses(id, cinder.StatusAvailable, cinder.AttachAttached)

	// Multiattach: in-use may be reserved; unreserve goes back to in-use
	// while attachments remain.
	multi := c.volume(func(v *cinder.Volume) { v.Multiattach = true })
	a, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: multi, Mode: "null"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.api.CompleteAttachment(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.api.Reserve(ctx, multi); err != nil {
		t.Fatalf("reserve an in-use multiattach volume: %v", err)
	}
	if err := c.api.Unreserve(ctx, multi); err != nil {
		t.Fatal(err)
	}
	c.statuses(multi, cinder.StatusInUse, cinder.AttachAttached)
}

// TestDetachNamesItsAttachment: os-detach without an attachment id needs a
// volume with at most one; an unknown one is a conflict, another volume's
// bad input.
func TestDetachNamesItsAttachment(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(func(v *cinder.Volume) { v.Multiattach = true })
	if err := c.api.Detach(ctx, id, ""); err != nil {
		t.Fatalf("detach of a volume with no attachment: %v", err)
	}
	a, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, Mode: "null"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.api.CompleteAttachment(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	b, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, Mode: "null"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.api.Detach(ctx, id, "")
	wantCode(t, "detach with two attachments", err, 409)
	if err.Error() != "Detach volume from instance  using the Compute API" {
		t.Fatalf("conflict: %v", err)
	}
	wantCode(t, "detach of an unknown attachment", c.api.Detach(ctx, id, "00000000-0000-0000-0000-000000000000"), 409)
	otherVolume := c.volume(nil)
	wantCode(t, "detach of another volume's attachment", c.api.Detach(ctx, otherVolume, a.ID), 400)
	if err := c.api.Detach(ctx, id, b.ID); err != nil {
		t.Fatal(err)
	}
	c.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusMaintenance })
	wantCode(t, "detach in maintenance", c.api.Detach(ctx, id, a.ID), 400)
	wantCode(t, "attach in maintenance", c.api.Attach(ctx, id, cinder.Attach{Mountpoint: "/dev/vdb", Mode: "rw"}), 400)
	if calls := c.rpc.called(); !slices.Equal(calls, []string{"detach_volume " + id + ">", "detach_volume " + id + ">" + b.ID}) {
		t.Fatalf("backend calls %v", calls)
	}
}

// TestTerminateConnectionUnreserves: os-terminate_connection (and so
// os-force_detach) gives an attaching volume back.
func TestTerminateConnectionUnreserves(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(nil)
	if err := c.api.Reserve(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := c.api.TerminateConnection(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	c.statuses(id, cinder.StatusAvailable, cinder.AttachDetached)
	a, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, Mode: "null"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.api.ForceDetach(ctx, id, map[string]any{"host": "h"}, a.ID); err != nil {
		t.Fatal(err)
	}
	if calls := c.rpc.called(); !slices.Equal(calls, []string{"terminate " + id, "terminate " + id, "detach_volume " + id + ">" + a.ID}) {
		t.Fatalf("backend calls %v", calls)
	}
}

// TestResetAttachStatus: in-use needs attachments; attach_status detached
// ends them all, and the volume is available.
func TestResetAttachStatus(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(func(v *cinder.Volume) { v.Multiattach = true })
	wantCode(t, "reset to in-use without attachments", c.api.ResetStatus(ctx, id, Reset{Status: cinder.StatusInUse}), 400)
	for range 2 {
		a, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, Mode: "null"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.api.CompleteAttachment(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.api.ResetStatus(ctx, id, Reset{Status: cinder.StatusError}); err != nil {
		t.Fatal(err)
	}
	if err := c.api.ResetStatus(ctx, id, Reset{Status: cinder.StatusInUse}); err != nil {
		t.Fatalf("reset to in-use with attachments: %v", err)
	}
	if err := c.api.ResetStatus(ctx, id, Reset{AttachStatus: cinder.AttachDetached}); err != nil {
		t.Fatal(err)
	}
	c.statuses(id, cinder.StatusAvailable, cinder.AttachDetached)
	if atts := c.attachments(id); len(atts) != 0 {
		t.Fatalf("attachments left %v", atts)
	}
}

// retypeSpy records the request specs of retypes.
type retypeSpy struct {
	*fakeRPC
	specs []cinder.RequestSpec
}

func (r *retypeSpy) Retype(ctx context.Context, v *cinder.Volume, spec cinder.RequestSpec) error {
	r.specs = append(r.specs, spec)
	return r.fakeRPC.Retype(ctx, v, spec)
}

// TestAttachedVolumesStayPut: without Nova to swap its instances, an
// attached volume is not migrated, and retypes in place only.
func TestAttachedVolumesStayPut(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	spy := &retypeSpy{fakeRPC: c.rpc}
	c.api = New(c.api.cfg, c.store, spy, c.rpc, c.rpc)
	if err := c.store.CreateVolumeType(ctx, &cinder.VolumeType{Name: "gold", IsPublic: true}); err != nil {
		t.Fatal(err)
	}
	id := c.volume(nil)
	a, err := c.api.CreateAttachment(ctx, AttachmentRequest{VolumeID: id, Mode: "null"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.api.CompleteAttachment(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	err = c.api.Migrate(ctx, id, Migration{Host: "hostA@fake2"})
	wantCode(t, "migrate an attached volume", err, 400)
	if err := c.api.Retype(ctx, id, "gold", cinder.MigrationPolicyOnDemand); err != nil {
		t.Fatal(err)
	}
	if len(spy.specs) != 1 || spy.specs[0].MigrationPolicy != cinder.MigrationPolicyNever {
		t.Fatalf("retype specs %+v, want one with migration policy never", spy.specs)
	}
}
