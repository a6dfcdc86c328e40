package api

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
)

// listServices answers GET /os-services (admin), filtered by host and
// binary: state up or down by service_down_time, and from 3.49 each
// backend's state from the scheduler's pools.
func (s *server) listServices(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume_extension:services:index"); err != nil {
		return reply{}, err
	}
	q := r.URL.Query()
	services, err := s.store.ListServices(r.Context(), q.Get("host"), q.Get("binary"))
	if err != nil {
		return reply{}, err
	}
	var backendStates map[string]string
	if ver(r).atLeast(mvBackendState) {
		backendStates = s.vol.BackendStates(r.Context())
	}
	now := time.Now()
	items := make([]object, 0, len(services))
	for _, svc := range services {
		items = append(items, serviceView(r, svc, svc.Up(now, s.cfg.ServiceDownTime), backendStates))
	}
	return reply{http.StatusOK, object{{"services", items}}}, nil
}

// serviceView is Cinder's view of svc, up or down, for the request's
// microversion; a cinder-volume service's backend_state is looked up in
// backendStates.
func serviceView(r *http.Request, svc *cinder.Service, up bool, backendStates map[string]string) object {
	status, state := "enabled", "down"
	if svc.Disabled {
		status = "disabled"
	}
	if up {
		state = "up"
	}
	o := object{{"binary", svc.Binary}, {"host", svc.Host}, {"zone", svc.AvailabilityZone},
		{"status", status}, {"state", state}, {"updated_at", timeOrNull(svc.UpdatedAt)}}
	mv := ver(r)
	volume := svc.Binary == cinder.BinaryVolume
	if volume && mv.atLeast(mvBackendState) {
		var bs any
		if st, ok := backendStates[svc.Host]; ok {
			bs = st
		}
		o = append(o, member{"backend_state", bs})
	}
	if mv.atLeast(mvClusterSupport) {
		o = append(o, member{"cluster", orNull(svc.ClusterName)})
	}
	o = append(o, member{"disabled_reason", orNull(svc.DisabledReason)})
	if volume {
		o = append(o, member{"replication_status", "disabled"}, member{"active_backend_id", nil}, member{"frozen", svc.Frozen})
	}
	return o
}

// updateService answers PUT /os-services/{enable,disable,disable-log-reason}
// (admin) {"host", "binary" or "service", "disabled_reason"}, and
// PUT /os-services/{freeze,thaw} {"host"} (or "cluster" from 3.26).
func (s *server) updateService(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume_extension:services:update"); err != nil {
		return reply{}, err
	}
	act := mux.Vars(r)["action"]
	switch act {
	case "enable", "disable", "disable-log-reason":
	case "freeze", "thaw":
		return s.freezeOrThaw(r, act == "freeze")
	default:
		return reply{}, cinder.InvalidInput("Unknown action")
	}
	u, err := parseServiceUpdate(r, act == "disable-log-reason")
	if err != nil {
		return reply{}, err
	}
	disabled := act != "enable"
	if err := s.vol.SetServiceDisabled(r.Context(), u.host, cmp.Or(u.binary, u.service), disabled, u.reason); err != nil {
		return reply{}, err
	}
	out := object{}
	if u.reason != nil {
		out = append(out, member{"disabled_reason", *u.reason})
	}
	status := "enabled"
	if disabled {
		status = "disabled"
	}
	out = append(out, member{"disabled", disabled}, member{"host", u.host}, member{"service", u.service},
		member{"binary", u.binary}, member{"status", status})
	return reply{http.StatusOK, out}, nil
}

// serviceUpdate is a validated os-services update; reason is set only
// for disable-log-reason.
type serviceUpdate struct {
	host, binary, service string
	reason                *string
}

// parseServiceUpdate validates an os-services update body as Cinder's
// schema; withReason for disable-log-reason.
func parseServiceUpdate(r *http.Request, withReason bool) (serviceUpdate, error) {
	var u serviceUpdate
	body, err := readObject(r, "host")
	if err != nil {
		return u, err
	}
	allowed := []string{"binary", "host", "cluster", "service"}
	if withReason {
		allowed = append(allowed, "disabled_reason")
	}
	if err := body.only("", allowed...); err != nil {
		return u, err
	}
	for key, dst := range map[string]*string{"binary": &u.binary, "service": &u.service} {
		if raw, ok := body[key]; ok {
			if *dst, err = stringOf(key, raw, false, maxNameLen); err != nil {
				return u, err
			}
		}
	}
	if _, ok := body["binary"]; !ok {
		if _, ok := body["service"]; !ok {
			raw, _ := json.Marshal(body)
			return u, newFault(http.StatusBadRequest, "%s is not valid under any of the given schemas", pyRepr(raw))
		}
	}
	if raw, ok := body["host"]; ok {
		if u.host, err = stringOf("host", raw, true, maxNameLen); err != nil {
			return u, err
		}
	}
	if u.host == "" {
		return u, cinder.InvalidInput("Host field is missing.")
	}
	if withReason {
		u.reason, err = disabledReason(body)
	}
	return u, err
}

// disabledReason is the disabled_reason of body: not blank, at most 255 characters.
func disabledReason(body fields) (*string, error) {
	var reason string
	if raw, ok := body["disabled_reason"]; ok {
		var err error
		if reason, err = stringOf("disabled_reason", raw, false, maxNameLen); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(reason) == "" {
		return nil, newFault(http.StatusBadRequest, "Disabled reason contains invalid characters or is too long")
	}
	return &reason, nil
}

// freezeOrThaw answers PUT /os-services/freeze and /thaw: 200 with no body
// once the backend has frozen or thawed. A host that names no
// cinder-volume service is 400, as Cinder's _volume_api_proxy.
func (s *server) freezeOrThaw(r *http.Request, freeze bool) (reply, error) {
	body, err := readObject(r, "host")
	if err != nil {
		return reply{}, err
	}
	if err := body.only("", "cluster", "host"); err != nil {
		return reply{}, err
	}
	var host, cluster string
	if raw, ok := body["host"]; ok {
		if host, err = stringOf("host", raw, true, maxNameLen); err != nil {
			return reply{}, err
		}
	}
	if raw, ok := body["cluster"]; ok {
		if cluster, err = stringOf("cluster", raw, true, 0); err != nil {
			return reply{}, err
		}
	}
	switch {
	case !ver(r).atLeast(mvReplicationCluster) && host == "":
		return reply{}, cinder.InvalidInput("Host field is missing.")
	case !ver(r).atLeast(mvReplicationCluster):
		cluster = ""
	case (host == "") == (cluster == ""):
		return reply{}, cinder.InvalidInput("One and only one of cluster and host must be set.")
	}
	rule, change := "volume:thaw_host", s.vol.ThawHost
	if freeze {
		rule, change = "volume:freeze_host", s.vol.FreezeHost
	}
	if err := s.authorize(r, rule); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK}, change(r.Context(), host, cluster)
}
