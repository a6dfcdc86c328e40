package api

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
)

// listHosts answers GET /os-hosts (admin), as Cinder's contrib/hosts.py:
// every enabled service (of zone, when asked; a disabled one is not
// listed), available when heard from within service_down_time.
func (s *server) listHosts(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume_extension:hosts"); err != nil {
		return reply{}, err
	}
	services, up, err := s.vol.Hosts(r.Context(), r.URL.Query().Get("zone"))
	if err != nil {
		return reply{}, err
	}
	items := make([]object, len(services))
	for i, svc := range services {
		status := "unavailable"
		if up[svc.ID] {
			status = "available"
		}
		items[i] = object{{"host_name", svc.Host}, {"service", svc.Topic}, {"zone", svc.AvailabilityZone},
			{"service-status", status}, {"service-state", "enabled"}, {"last-update", timeOrNull(svc.UpdatedAt)}}
	}
	return reply{http.StatusOK, object{{"hosts", items}}}, nil
}

// showHost answers GET /os-hosts/{host} (admin): what the projects hold on
// the host's first enabled cinder-volume service, the total first, every
// number a string, as Cinder's.
func (s *server) showHost(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume_extension:hosts"); err != nil {
		return reply{}, err
	}
	host := mux.Vars(r)["host"]
	usages, err := s.vol.HostUsages(r.Context(), host)
	if err != nil {
		return reply{}, err
	}
	resource := func(project string, vols, volGB, snaps, snapGB int) object {
		return object{{"resource", object{{"host", host}, {"project", project},
			{"volume_count", strconv.Itoa(vols)}, {"total_volume_gb", strconv.Itoa(volGB)},
			{"snapshot_count", strconv.Itoa(snaps)}, {"total_snapshot_gb", strconv.Itoa(snapGB)}}}}
	}
	var vols, volGB, snaps, snapGB int
	items := []object{nil}
	for _, u := range usages {
		vols, volGB, snaps, snapGB = vols+u.Volumes, volGB+u.VolumeGigabytes, snaps+u.Snapshots, snapGB+u.SnapshotGigabytes
		items = append(items, resource(u.ProjectID, u.Volumes, u.VolumeGigabytes, u.Snapshots, u.SnapshotGigabytes))
	}
	items[0] = resource("(total)", vols, volGB, snaps, snapGB)
	return reply{http.StatusOK, object{{"host", items}}}, nil
}
