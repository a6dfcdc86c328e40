package db

import (
	"context"
	"reflect"
	"testing"

	"github.com/cinder-go/cinder"
)

func TestServices(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		sched := &cinder.Service{Host: "node1", Binary: cinder.BinaryScheduler, Topic: cinder.TopicScheduler, AvailabilityZone: "nova"}
		vol := &cinder.Service{Host: "node1@lvm", Binary: cinder.BinaryVolume, Topic: cinder.TopicVolume, AvailabilityZone: "nova", ClusterName: "c@lvm"}
		for _, s := range []*cinder.Service{sched, vol} {
			if err := db.CreateService(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if sched.ID == 0 || vol.ID <= sched.ID || sched.UUID == "" || sched.UUID == vol.UUID {
			t.Fatalf("created services have ids %d, %d and uuids %q, %q", sched.ID, vol.ID, sched.UUID, vol.UUID)
		}
		got, err := db.GetService(ctx, "node1@lvm", cinder.BinaryVolume)
		if err != nil || !reflect.DeepEqual(got, vol) {
			t.Fatalf("GetService = %+v, %v; want %+v", got, err, vol)
		}
		_, err = db.GetService(ctx, "node1", cinder.BinaryVolume)
		wantCode(t, err, 404, "ServiceNotFound")

		for _, c := range []struct {
			host, binary string
			want         []int64
		}{
			{"", "", []int64{sched.ID, vol.ID}},
			{"node1", "", []int64{sched.ID, vol.ID}}, // a host, and its backends: Cinder's _filter_host
			{"node1", cinder.BinaryScheduler, []int64{sched.ID}},
			{"node1@lvm", "", []int64{vol.ID}},
			{"node1@lv", "", nil},
			{"node", "", nil},
			{"", cinder.BinaryVolume, []int64{vol.ID}},
			{"node1@lvm", cinder.BinaryScheduler, nil},
		} {
			ss, err := db.ListServices(ctx, c.host, c.binary)
			var got []int64
			for _, s := range ss {
				got = append(got, s.ID)
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("ListServices(%q, %q) = %v, %v; want %v", c.host, c.binary, got, err, c.want)
			}
		}

		last := vol
		for i := range 2 {
			if err := db.Heartbeat(ctx, vol.ID); err != nil {
				t.Fatal(err)
			}
			s, err := db.GetService(ctx, vol.Host, vol.Binary)
			if err != nil {
				t.Fatal(err)
			}
			if s.ReportCount != int64(i+1) || s.UpdatedAt == nil || (last.UpdatedAt != nil && !s.UpdatedAt.After(*last.UpdatedAt)) {
				t.Fatalf("after heartbeat %d: report_count %d, updated_at %v (before %v)", i+1, s.ReportCount, s.UpdatedAt, last.UpdatedAt)
			}
			last = s
		}
		wantCode(t, db.Heartbeat(ctx, 999999), 404, "ServiceNotFound")

		written, err := db.UpdateService(ctx, vol.ID, func(s *cinder.Service) error {
			s.Disabled, s.DisabledReason = true, "maintenance"
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err = db.GetService(ctx, vol.Host, vol.Binary)
		if err != nil || !reflect.DeepEqual(got, written) || !got.Disabled || got.DisabledReason != "maintenance" || got.ReportCount != 2 {
			t.Fatalf("after UpdateService: %+v, %v", got, err)
		}
		_, err = db.UpdateService(ctx, 999999, func(*cinder.Service) error { return nil })
		wantCode(t, err, 404, "ServiceNotFound")
	})
}
