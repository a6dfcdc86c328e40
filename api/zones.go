package api

import (
	"net/http"
)

// listAvailabilityZones answers GET /os-availability-zone.
func (s *server) listAvailabilityZones(r *http.Request) (reply, error) {
	zones, err := s.vol.Zones(r.Context())
	if err != nil {
		return reply{}, err
	}
	items := make([]object, 0, len(zones))
	for _, z := range zones {
		items = append(items, object{{"zoneName", z.Name}, {"zoneState", object{{"available", z.Available}}}})
	}
	return reply{http.StatusOK, object{{"availabilityZoneInfo", items}}}, nil
}
