package db

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

// TestTransfers creates, lists, pages, accepts and destroys transfers on
// both databases; every refusal leaves the rows as they were.
func TestTransfers(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		vol := func(project, status string) *cinder.Volume {
			v := &cinder.Volume{ProjectID: project, UserID: "u", Size: 1, Status: status}
			if err := db.CreateVolume(ctx, v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		v1, v2, busy := vol("p1", cinder.StatusAvailable), vol("p2", cinder.StatusAvailable), vol("p1", cinder.StatusInUse)

		err := db.CreateTransfer(ctx, &cinder.Transfer{VolumeID: busy.ID, Salt: "s", CryptHash: "h"})
		wantCode(t, err, 400, "InvalidVolume")
		var ts []*cinder.Transfer
		for i, v := range []*cinder.Volume{v1, v2} {
			tr := &cinder.Transfer{VolumeID: v.ID, DisplayName: []string{"b", "a"}[i], Salt: "salt", CryptHash: "hash",
				NoSnapshots: i == 1, SourceProjectID: v.ProjectID}
			if err := db.CreateTransfer(ctx, tr); err != nil {
				t.Fatal(err)
			}
			ts = append(ts, tr)
		}
		got, err := db.GetTransfer(ctx, ts[0].ID)
		if err != nil || !reflect.DeepEqual(got, ts[0]) {
			t.Fatalf("GetTransfer = %+v, %v; want %+v", got, err, ts[0])
		}
		if v, _ := db.GetVolume(ctx, v1.ID); v.Status != cinder.StatusAwaitingTransfer {
			t.Fatalf("volume %s after CreateTransfer", v.Status)
		}
		for _, c := range []struct {
			f    TransferFilter
			want []int
		}{
			{TransferFilter{}, []int{0, 1}},
			{TransferFilter{SortKey: "display_name"}, []int{1, 0}},
			{TransferFilter{SortDescending: true, Limit: 1}, []int{1}},
			{TransferFilter{Marker: ts[0].ID}, []int{1}},
			{TransferFilter{ProjectID: "p2"}, []int{1}},
			{TransferFilter{Name: "b", Source: "p1"}, []int{0}},
			{TransferFilter{VolumeID: v2.ID, ID: ts[0].ID}, nil},
		} {
			list, err := db.ListTransfers(ctx, c.f)
			var ids, want []string
			for _, tr := range list {
				ids = append(ids, tr.ID)
			}
			for _, i := range c.want {
				want = append(want, ts[i].ID)
			}
			if err != nil || !reflect.DeepEqual(ids, want) {
				t.Errorf("ListTransfers(%+v) = %v, %v; want %v", c.f, ids, err, want)
			}
		}
		_, err = db.ListTransfers(ctx, TransferFilter{Marker: busy.ID})
		wantCode(t, err, 404, "TransferNotFound")

		// A snapshot not available refuses the accept; nothing changes.
		s := &cinder.Snapshot{VolumeID: v1.ID, ProjectID: "p1", UserID: "u", Status: cinder.SnapshotError, VolumeSize: 1}
		if err := db.CreateSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
		_, _, err = db.AcceptTransfer(ctx, ts[0].ID, "u3", "p3")
		wantCode(t, err, 400, "InvalidSnapshot")
		if v, _ := db.GetVolume(ctx, v1.ID); v.ProjectID != "p1" || v.Status != cinder.StatusAwaitingTransfer {
			t.Fatalf("refused accept changed the volume: %+v", v)
		}
		if _, err := db.UpdateSnapshot(ctx, s.ID, func(s *cinder.Snapshot) error { s.Status = cinder.SnapshotAvailable; return nil }); err != nil {
			t.Fatal(err)
		}
		tr, v, err := db.AcceptTransfer(ctx, ts[0].ID, "u3", "p3")
		if err != nil || tr.ID != ts[0].ID || v.ProjectID != "p3" || v.UserID != "u3" || v.Status != cinder.StatusAvailable {
			t.Fatalf("AcceptTransfer = %+v, %+v, %v", tr, v, err)
		}
		if s, _ := db.GetSnapshot(ctx, s.ID); s.ProjectID != "p3" || s.UserID != "u3" {
			t.Fatalf("snapshot after accept: %+v", s)
		}
		_, err = db.GetTransfer(ctx, ts[0].ID)
		wantCode(t, err, 404, "TransferNotFound")
		var accepted bool
		var dest string
		if err := db.sql.QueryRowContext(ctx, db.dialect.rebind("SELECT accepted, destination_project_id FROM transfers WHERE id = ?"),
			ts[0].ID).Scan(&accepted, &dest); err != nil || !accepted || dest != "p3" {
			t.Fatalf("accepted row: %v %q %v", accepted, dest, err)
		}

		// A volume no longer awaiting its transfer: accept refused, destroy
		// leaves its status.
		if _, err := db.UpdateVolume(ctx, v2.ID, func(v *cinder.Volume) error { v.Status = cinder.StatusError; return nil }); err != nil {
			t.Fatal(err)
		}
		_, _, err = db.AcceptTransfer(ctx, ts[1].ID, "u3", "p3")
		wantCode(t, err, 400, "InvalidVolume")
		if err := db.DestroyTransfer(ctx, ts[1].ID); err != nil {
			t.Fatal(err)
		}
		if v, _ := db.GetVolume(ctx, v2.ID); v.Status != cinder.StatusError {
			t.Fatalf("destroy changed a volume in error: %s", v.Status)
		}
		wantCode(t, db.DestroyTransfer(ctx, ts[1].ID), 404, "TransferNotFound")
	})
}

// TestServicesFrozenAndClusters: a service keeps its frozen flag; a cluster
// counts its services, up and down; host usages sum per project.
func TestServicesFrozenAndClusters(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		old := time.Now().Add(-time.Hour).UTC()
		for i, host := range []string{"h@a", "h@b"} {
			s := &cinder.Service{Host: host, Binary: cinder.BinaryVolume, ClusterName: "c1", Frozen: i == 0}
			if i == 1 {
				s.UpdatedAt = &old
			}
			if err := db.CreateService(ctx, s); err != nil {
				t.Fatal(err)
			}
			if got, err := db.GetService(ctx, host, cinder.BinaryVolume); err != nil || got.Frozen != s.Frozen {
				t.Fatalf("service %s: %+v, %v", host, got, err)
			}
		}
		if err := db.Heartbeat(ctx, 1); err != nil {
			t.Fatal(err)
		}
		c := &cinder.Cluster{Name: "c1", Binary: cinder.BinaryVolume}
		if err := db.CreateCluster(ctx, c); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.CreateCluster(ctx, &cinder.Cluster{Name: "c1", Binary: cinder.BinaryVolume}), 409, "Duplicate")
		if err := db.CreateCluster(ctx, &cinder.Cluster{Name: "c2", Binary: cinder.BinaryVolume}); err != nil {
			t.Fatal(err)
		}
		list, err := db.ListClusters(ctx, time.Minute)
		if err != nil || len(list) != 2 {
			t.Fatalf("ListClusters = %v, %v", list, err)
		}
		if c1 := list[0]; c1.NumHosts != 2 || c1.NumDownHosts != 1 || c1.LastHeartbeat == nil || time.Since(*c1.LastHeartbeat) > time.Minute {
			t.Fatalf("c1 = %+v", c1)
		}
		if c2 := list[1]; c2.NumHosts != 0 || c2.LastHeartbeat != nil {
			t.Fatalf("c2 = %+v", c2)
		}
		if err := db.SetClusterDisabled(ctx, c.ID, true, "why"); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetCluster(ctx, "c1", cinder.BinaryVolume, time.Minute)
		if err != nil || !got.Disabled || got.DisabledReason != "why" || got.UpdatedAt == nil {
			t.Fatalf("GetCluster = %+v, %v", got, err)
		}
		_, err = db.GetCluster(ctx, "c1", cinder.BinaryScheduler, time.Minute)
		wantCode(t, err, 404, "ClusterNotFound")

		for _, v := range []*cinder.Volume{
			{ProjectID: "p1", Size: 2, Host: "h@a#pool"}, {ProjectID: "p1", Size: 3, Host: "h@a#other"},
			{ProjectID: "p2", Size: 4, Host: "h@a#pool"}, {ProjectID: "p1", Size: 8, Host: "h@b#pool"},
		} {
			if err := db.CreateVolume(ctx, v); err != nil {
				t.Fatal(err)
			}
			if v.ProjectID == "p2" {
				if err := db.CreateSnapshot(ctx, &cinder.Snapshot{VolumeID: v.ID, ProjectID: "p2", VolumeSize: 4}); err != nil {
					t.Fatal(err)
				}
			}
		}
		usages, err := db.HostUsages(ctx, "h@a")
		want := []*HostUsage{{ProjectID: "p1", Volumes: 2, VolumeGigabytes: 5}, {ProjectID: "p2", Volumes: 1, VolumeGigabytes: 4, Snapshots: 1, SnapshotGigabytes: 4}}
		if err != nil || !reflect.DeepEqual(usages, want) {
			t.Fatalf("HostUsages = %+v, %v", usages, err)
		}
	})
}

// TestVolumeAdminMetadata: keys are set, replaced and taken all or none.
func TestVolumeAdminMetadata(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		if err := db.CreateVolume(ctx, &cinder.Volume{ID: "v", ProjectID: "p1", Size: 1, Status: cinder.StatusAvailable}); err != nil {
			t.Fatal(err)
		}
		for _, kv := range [][2]string{{"a", "1"}, {"b", "2"}, {"a", "3"}} {
			if err := db.SetVolumeAdminMetadata(ctx, "v", kv[0], kv[1]); err != nil {
				t.Fatal(err)
			}
		}
		if md, err := db.VolumeAdminMetadata(ctx, "v"); err != nil || !reflect.DeepEqual(md, map[string]string{"a": "3", "b": "2"}) {
			t.Fatalf("VolumeAdminMetadata = %v, %v", md, err)
		}
		if got, err := db.TakeVolumeAdminMetadata(ctx, "v", "a", "c"); got != nil || err != nil {
			t.Fatalf("take with a key missing = %v, %v", got, err)
		}
		if got, err := db.TakeVolumeAdminMetadata(ctx, "v", "a"); err != nil || !reflect.DeepEqual(got, map[string]string{"a": "3"}) {
			t.Fatalf("take = %v, %v", got, err)
		}
		if md, _ := db.VolumeAdminMetadata(ctx, "v"); !reflect.DeepEqual(md, map[string]string{"b": "2"}) {
			t.Fatalf("after take: %v", md)
		}
	})
}
