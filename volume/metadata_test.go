package volume

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

func TestMetadataRules(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(func(v *cinder.Volume) { v.Metadata = map[string]string{"a": "1"} })

	md, err := c.api.SetMetadata(ctx, id, map[string]string{"b": "2"}, true)
	if err != nil || !maps.Equal(md, map[string]string{"a": "1", "b": "2"}) {
		t.Fatalf("merge: %v, %v", md, err)
	}
	md, err = c.api.SetMetadata(ctx, id, map[string]string{"c": "3"}, false)
	if err != nil || !maps.Equal(md, map[string]string{"c": "3"}) || !maps.Equal(c.get(id).Metadata, md) {
		t.Fatalf("replace: %v, %v; stored %v", md, err, c.get(id).Metadata)
	}
	wantCode(t, "delete a missing key", c.api.DeleteMetadata(ctx, id, "a"), 404)
	if err := c.api.DeleteMetadata(ctx, id, "c"); err != nil || len(c.get(id).Metadata) != 0 {
		t.Fatalf("delete: %v; left %v", err, c.get(id).Metadata)
	}

	// In maintenance or uploading the metadata stays; a missing key is
	// still 404 first, as Cinder checks it before the status.
	for _, status := range metadataFrozen {
		c.setVolume(id, func(v *cinder.Volume) { v.Status, v.Metadata = status, map[string]string{"k": "v"} })
		_, err := c.api.SetMetadata(ctx, id, map[string]string{"x": "y"}, true)
		wantCode(t, "update in "+status, err, 400)
		wantCode(t, "delete in "+status, c.api.DeleteMetadata(ctx, id, "k"), 400)
		wantCode(t, "delete a missing key in "+status, c.api.DeleteMetadata(ctx, id, "nope"), 404)
		_, err = c.api.SetImageMetadata(ctx, id, map[string]string{"x": "y"})
		wantCode(t, "image metadata in "+status, err, 400)
		if got := c.get(id).Metadata; !maps.Equal(got, map[string]string{"k": "v"}) {
			t.Fatalf("metadata in %s changed to %v", status, got)
		}
	}
	// Another project's volume does not exist.
	_, err = c.api.Metadata(member("p1"), id)
	wantCode(t, "another project's metadata", err, 404)
}

func TestImageMetadataRules(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(nil)
	md, err := c.api.SetImageMetadata(ctx, id, map[string]string{"image_name": "cirros", "os": "linux"})
	if err != nil || len(md) != 2 {
		t.Fatalf("set: %v, %v", md, err)
	}
	if md, err = c.api.SetImageMetadata(ctx, id, map[string]string{"os": "bsd"}); err != nil || md["os"] != "bsd" || md["image_name"] != "cirros" {
		t.Fatalf("merge: %v, %v", md, err)
	}
	wantCode(t, "unset a missing key", c.api.UnsetImageMetadata(ctx, id, "nope"), 404)
	if err := c.api.UnsetImageMetadata(ctx, id, "os"); err != nil {
		t.Fatal(err)
	}
	if md, err := c.api.ImageMetadata(ctx, id); err != nil || !maps.Equal(md, map[string]string{"image_name": "cirros"}) {
		t.Fatalf("after unset: %v, %v", md, err)
	}
	if v := c.get(id); len(v.Metadata) != 0 {
		t.Fatalf("image metadata leaked into metadata: %v", v.Metadata)
	}
}

// TestImageMetadataFollowsBootableSources: a volume made from a bootable
// volume, or from a snapshot of one, is bootable with the image metadata
// of its source (the snapshot's as taken); one made from a volume that is
// not bootable has none, as Cinder's create flow.
func TestImageMetadataFollowsBootableSources(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	boot := c.volume(func(v *cinder.Volume) {
		v.Bootable, v.GlanceMetadata = true, map[string]string{"image_name": "cirros"}
	})
	s, err := c.api.CreateSnapshot(ctx, SnapshotRequest{VolumeID: boot})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.snap(s.ID).GlanceMetadata; !maps.Equal(got, map[string]string{"image_name": "cirros"}) {
		t.Fatalf("snapshot kept image metadata %v", got)
	}
	c.setVolume(boot, func(v *cinder.Volume) { v.GlanceMetadata = map[string]string{"image_name": "later"} })
	if _, err := c.store.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotAvailable; return nil }); err != nil {
		t.Fatal(err)
	}
	plain := c.volume(func(v *cinder.Volume) { v.GlanceMetadata = map[string]string{"image_name": "ignored"} })
	for _, tc := range []struct {
		req      CreateRequest
		bootable bool
		image    string
	}{
		{CreateRequest{SnapshotID: s.ID}, true, "cirros"},
		{CreateRequest{SourceVolID: boot}, true, "later"},
		{CreateRequest{SourceVolID: plain}, false, ""},
	} {
		v, _, err := c.api.Create(ctx, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		got := c.get(v.ID)
		if got.Bootable != tc.bootable || got.GlanceMetadata["image_name"] != tc.image || !tc.bootable && len(got.GlanceMetadata) != 0 {
			t.Errorf("from %+v: bootable %v, image metadata %v; want %v, %q", tc.req, got.Bootable, got.GlanceMetadata, tc.bootable, tc.image)
		}
	}
}

func TestReadonlyFlag(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(nil)
	if mode := c.get(id).AccessMode(); mode != "rw" {
		t.Fatalf("a new volume's access mode: %s", mode)
	}
	if err := c.api.UpdateReadonlyFlag(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	if v := c.get(id); v.AdminMetadata["readonly"] != "True" || v.AccessMode() != "ro" {
		t.Fatalf("after readonly true: %v, %s", v.AdminMetadata, v.AccessMode())
	}
	if err := c.api.UpdateReadonlyFlag(ctx, id, false); err != nil || c.get(id).AdminMetadata["readonly"] != "False" {
		t.Fatalf("readonly false: %v, %v", err, c.get(id).AdminMetadata)
	}
	c.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusInUse })
	wantCode(t, "readonly flag of an in-use volume", c.api.UpdateReadonlyFlag(ctx, id, true), 400)
	if c.get(id).AdminMetadata["readonly"] != "False" {
		t.Fatal("a refused readonly flag was stored")
	}
	// An attachment's mode wins, as Cinder's manager.
	c.setVolume(id, func(v *cinder.Volume) { v.AdminMetadata = map[string]string{"readonly": "True", "attached_mode": "rw"} })
	if mode := c.get(id).AccessMode(); mode != "rw" {
		t.Fatalf("attached rw: %s", mode)
	}
}

func TestSetBootable(t *testing.T) {
	c := newCloud(t)
	ctx := admin()
	id := c.volume(nil)
	yes, no := true, false
	if _, err := c.api.Update(ctx, id, Changes{Bootable: &yes}); err != nil || !c.get(id).Bootable {
		t.Fatalf("bootable true: %v", err)
	}
	if _, err := c.api.Update(ctx, id, Changes{Bootable: &no}); err != nil || c.get(id).Bootable {
		t.Fatalf("bootable false: %v", err)
	}
	c.setVolume(id, func(v *cinder.Volume) { v.Status = cinder.StatusMaintenance })
	_, err := c.api.Update(ctx, id, Changes{Bootable: &yes})
	wantCode(t, "bootable in maintenance", err, 400)
}

func TestSummary(t *testing.T) {
	c := newCloud(t)
	c.volume(func(v *cinder.Volume) { v.Size, v.Metadata = 3, map[string]string{"k": "v"} })
	c.volume(func(v *cinder.Volume) { v.ProjectID, v.Size, v.Metadata = "p1", 5, map[string]string{"k": "w"} })
	for _, tc := range []struct {
		ctx         context.Context
		project     string
		count, size int
		values      []string
	}{
		{admin(), "admin", 1, 3, []string{"v"}},
		{admin(), "", 2, 8, []string{"v", "w"}},
		{member("p1"), "", 1, 5, []string{"w"}}, // every project is an admin's
	} {
		sum, err := c.api.Summary(tc.ctx, db.VolumeFilter{ProjectID: tc.project})
		if err != nil || sum.Count != tc.count || sum.Size != tc.size || !slices.Equal(sum.Metadata["k"], tc.values) {
			t.Errorf("project %q: %+v, %v; want %d volumes of %d GiB, k in %v", tc.project, sum, err, tc.count, tc.size, tc.values)
		}
	}
}
