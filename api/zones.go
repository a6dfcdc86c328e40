package api

import (
	"context"
	"net/http"
	"time"

	"github.com/cinder-go/cinder"
)

// zone is an availability zone and whether a backend there can take volumes.
type zone struct {
	name      string
	available bool
}

// zones are the availability zones of the cinder-volume services, in the
// order first seen; one is available when a service there is up and enabled.
func (s *server) zones(ctx context.Context) ([]zone, error) {
	services, err := s.store.ListServices(ctx, "", cinder.BinaryVolume)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var zones []zone
	index := map[string]int{}
	for _, svc := range services {
		i, ok := index[svc.AvailabilityZone]
		if !ok {
			i = len(zones)
			index[svc.AvailabilityZone] = i
			zones = append(zones, zone{name: svc.AvailabilityZone})
		}
		zones[i].available = zones[i].available || !svc.Disabled && svc.Up(now, s.cfg.ServiceDownTime)
	}
	return zones, nil
}

// listAvailabilityZones answers GET /os-availability-zone.
func (s *server) listAvailabilityZones(r *http.Request) (reply, error) {
	zones, err := s.zones(r.Context())
	if err != nil {
		return reply{}, err
	}
	items := make([]object, 0, len(zones))
	for _, z := range zones {
		items = append(items, object{{"zoneName", z.name}, {"zoneState", object{{"available", z.available}}}})
	}
	return reply{http.StatusOK, object{{"availabilityZoneInfo", items}}}, nil
}
