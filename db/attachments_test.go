package db

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

func TestAttachments(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		v := &cinder.Volume{ProjectID: "p", Size: 1, Status: cinder.StatusAvailable, AttachStatus: cinder.AttachDetached, Multiattach: true}
		other := &cinder.Volume{ProjectID: "q", Size: 1, Status: cinder.StatusAvailable, AttachStatus: cinder.AttachDetached}
		for _, vol := range []*cinder.Volume{v, other} {
			if err := db.CreateVolume(ctx, vol); err != nil {
				t.Fatal(err)
			}
		}
		// A reservation is written with the volume's change, or not at all.
		base := time.Now().Add(-time.Hour) // creation times one second apart: lists sort by them
		a := &cinder.Attachment{VolumeID: v.ID, InstanceUUID: "i1", AttachStatus: cinder.AttachReserved, AttachMode: "null", CreatedAt: base}
		got, err := db.CreateAttachment(ctx, a, func(v *cinder.Volume, live []*cinder.Attachment) error {
			if len(live) != 0 {
				t.Errorf("live attachments before the first: %v", live)
			}
			v.Status = cinder.StatusReserved
			return nil
		})
		if err != nil || got.Status != cinder.StatusReserved {
			t.Fatalf("CreateAttachment = %+v, %v", got, err)
		}
		refused := &cinder.Attachment{VolumeID: v.ID, AttachStatus: cinder.AttachReserved}
		_, err = db.CreateAttachment(ctx, refused, func(v *cinder.Volume, live []*cinder.Attachment) error {
			if len(live) != 1 || live[0].ID != a.ID {
				t.Errorf("live attachments %v, want %s", live, a.ID)
			}
			return cinder.InvalidVolume("refused")
		})
		wantCode(t, err, 400, "InvalidVolume")
		if _, err := db.GetAttachment(ctx, refused.ID); cinder.Code(err) != 404 {
			t.Fatalf("a refused attachment exists: %v", err)
		}
		stored, err := db.GetAttachment(ctx, a.ID)
		if err != nil || !reflect.DeepEqual(stored, a) {
			t.Fatalf("GetAttachment = %+v, %v; want %+v", stored, err, a)
		}

		// An update changes the attachment and its volume together.
		info := json.RawMessage(`{"device_path": "/dev/x", "attachment_id": "` + a.ID + `"}`)
		at := time.Now()
		upd, vol, err := db.UpdateAttachment(ctx, a.ID, func(a *cinder.Attachment, v *cinder.Volume) error {
			a.AttachStatus, a.ConnectionInfo, a.AttachTime = cinder.AttachAttached, info, &at
			a.Connector = map[string]any{"host": "h", "multipath": false}
			v.Status, v.AttachStatus = cinder.StatusInUse, cinder.AttachAttached
			return nil
		})
		if err != nil || vol.Status != cinder.StatusInUse || upd.UpdatedAt == nil {
			t.Fatalf("UpdateAttachment = %+v, %+v, %v", upd, vol, err)
		}
		stored, _ = db.GetAttachment(ctx, a.ID)
		if string(stored.ConnectionInfo) != string(info) || stored.Connector["host"] != "h" || !stored.AttachTime.Equal(dbTime(at)) {
			t.Fatalf("stored after update %+v", stored)
		}
		if _, _, err := db.UpdateAttachment(ctx, a.ID, func(*cinder.Attachment, *cinder.Volume) error {
			return cinder.Invalid("refused")
		}); cinder.Code(err) != 400 {
			t.Fatalf("refused update: %v", err)
		}

		b := &cinder.Attachment{VolumeID: v.ID, AttachStatus: cinder.AttachReserved, CreatedAt: base.Add(time.Second)}
		if _, err := db.CreateAttachment(ctx, b, func(*cinder.Volume, []*cinder.Attachment) error { return nil }); err != nil {
			t.Fatal(err)
		}
		c := &cinder.Attachment{VolumeID: other.ID, InstanceUUID: "i1", AttachStatus: cinder.AttachAttached, CreatedAt: base.Add(2 * time.Second)}
		if _, err := db.CreateAttachment(ctx, c, func(*cinder.Volume, []*cinder.Attachment) error { return nil }); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			f    AttachmentFilter
			want []string
		}{
			{AttachmentFilter{SortKey: "created_at"}, []string{a.ID, b.ID, c.ID}},
			{AttachmentFilter{ProjectID: "p", SortKey: "created_at", SortDescending: true}, []string{b.ID, a.ID}},
			{AttachmentFilter{InstanceUUID: "i1", SortKey: "created_at"}, []string{a.ID, c.ID}},
			{AttachmentFilter{AttachStatus: cinder.AttachReserved}, []string{b.ID}},
			{AttachmentFilter{VolumeID: v.ID, SortKey: "created_at", Marker: a.ID}, []string{b.ID}},
			{AttachmentFilter{ProjectID: "r"}, nil},
		} {
			list, err := db.ListAttachments(ctx, tc.f)
			var ids []string
			for _, l := range list {
				ids = append(ids, l.ID)
			}
			if err != nil || !slices.Equal(ids, tc.want) {
				t.Errorf("ListAttachments(%+v) = %v, %v; want %v", tc.f, ids, err, tc.want)
			}
		}
		byVolume, err := db.VolumeAttachments(ctx, []string{v.ID, other.ID})
		if err != nil || len(byVolume[v.ID]) != 2 || len(byVolume[other.ID]) != 1 || byVolume[v.ID][0].ID != a.ID {
			t.Fatalf("VolumeAttachments = %v, %v", byVolume, err)
		}

		// Detaching one leaves the volume as the other says: the attached
		// one wins over the reserved one, then none is left.
		vol, err = db.DetachAttachment(ctx, v.ID, b.ID)
		if err != nil || vol.Status != cinder.StatusInUse || vol.AttachStatus != cinder.AttachAttached {
			t.Fatalf("after detaching the reserved one: %+v, %v", vol, err)
		}
		if _, err := db.GetAttachment(ctx, b.ID); cinder.Code(err) != 404 {
			t.Fatalf("detached attachment: %v", err)
		}
		vol, err = db.DetachAttachment(ctx, v.ID, a.ID)
		if err != nil || vol.Status != cinder.StatusAvailable || vol.AttachStatus != cinder.AttachDetached {
			t.Fatalf("after detaching the last: %+v, %v", vol, err)
		}
		// While a migration holds the volume its status stays.
		if _, err := db.UpdateVolume(ctx, other.ID, func(v *cinder.Volume) error {
			v.Status, v.MigrationStatus = cinder.StatusInUse, cinder.MigrationMigrating
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if vol, err = db.DetachAttachment(ctx, other.ID, c.ID); err != nil || vol.Status != cinder.StatusInUse || vol.AttachStatus != cinder.AttachDetached {
			t.Fatalf("detach during a migration: %+v, %v", vol, err)
		}
		_, err = db.DetachAttachment(ctx, "nope", a.ID)
		wantCode(t, err, 404, "VolumeNotFound")

		// UpdateVolumeAttachments sees the live attachments.
		d := &cinder.Attachment{VolumeID: other.ID, AttachStatus: cinder.AttachAttaching}
		if _, err := db.CreateAttachment(ctx, d, func(*cinder.Volume, []*cinder.Attachment) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UpdateVolumeAttachments(ctx, other.ID, func(v *cinder.Volume, live []*cinder.Attachment) error {
			if len(live) != 1 || live[0].ID != d.ID {
				t.Errorf("live %v, want %s", live, d.ID)
			}
			v.Status = cinder.StatusAttaching
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// A destroyed volume takes its attachments with it.
		if err := db.DestroyVolume(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.GetAttachment(ctx, d.ID)
		wantCode(t, err, 404, "VolumeAttachmentNotFound")
	})
}
