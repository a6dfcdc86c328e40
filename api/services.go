package api

import (
	"context"
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
	if err := requireAdmin(r, "volume_extension:services:index"); err != nil {
		return reply{}, err
	}
	ctx := r.Context()
	q := r.URL.Query()
	services, err := s.store.ListServices(ctx, q.Get("host"), q.Get("binary"))
	if err != nil {
		return reply{}, err
	}
	mv := ver(r)
	var backendStates map[string]string
	if mv.atLeast(mvBackendState) {
		backendStates = s.backendStates(ctx)
	}
	now := time.Now()
	items := make([]object, 0, len(services))
	for _, svc := range services {
		status, state := "enabled", "down"
		if svc.Disabled {
			status = "disabled"
		}
		if svc.Up(now, s.cfg.ServiceDownTime) {
			state = "up"
		}
		o := object{{"binary", svc.Binary}, {"host", svc.Host}, {"zone", svc.AvailabilityZone},
			{"status", status}, {"state", state}, {"updated_at", timeOrNull(svc.UpdatedAt)}}
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
			o = append(o, member{"replication_status", "disabled"}, member{"active_backend_id", nil}, member{"frozen", false})
		}
		items = append(items, o)
	}
	return reply{http.StatusOK, object{{"services", items}}}, nil
}

// backendStates maps host@backend to the backend_state its pools report
// ("up" when unsaid). The list still answers when the scheduler does not:
// backend states are then null.
func (s *server) backendStates(ctx context.Context) map[string]string {
	pools, err := s.sched.GetPools(ctx)
	if err != nil {
		logFailure(ctx, "get pools for backend states", err)
		return nil
	}
	states := map[string]string{}
	for _, p := range pools {
		st, ok := p.Capabilities["backend_state"].(string)
		if !ok {
			st = "up"
		}
		states[cinder.ExtractHost(p.Name, cinder.LevelBackend)] = st
	}
	return states
}

// updateService answers PUT /os-services/{enable,disable,disable-log-reason}
// (admin) {"host", "binary", "disabled_reason"}.
func (s *server) updateService(r *http.Request) (reply, error) {
	if err := requireAdmin(r, "volume_extension:services:update"); err != nil {
		return reply{}, err
	}
	act := mux.Vars(r)["action"]
	disabled := act != "enable"
	switch act {
	case "enable", "disable", "disable-log-reason":
	default:
		return reply{}, cinder.InvalidInput("Unknown action")
	}
	body, err := readObject(r, "host")
	if err != nil {
		return reply{}, err
	}
	allowed := []string{"binary", "host", "cluster", "service"}
	if act == "disable-log-reason" {
		allowed = append(allowed, "disabled_reason")
	}
	if err := body.only("", allowed...); err != nil {
		return reply{}, err
	}
	var binary, service, host, reason string
	for key, dst := range map[string]*string{"binary": &binary, "service": &service} {
		if raw, ok := body[key]; ok {
			if *dst, err = stringOf(key, raw, false, maxNameLen); err != nil {
				return reply{}, err
			}
		}
	}
	if _, ok := body["binary"]; !ok {
		if _, ok := body["service"]; !ok {
			raw, _ := json.Marshal(body)
			return reply{}, newFault(http.StatusBadRequest, "%s is not valid under any of the given schemas", pyRepr(raw))
		}
	}
	if raw, ok := body["host"]; ok {
		if host, err = stringOf("host", raw, true, maxNameLen); err != nil {
			return reply{}, err
		}
	}
	if host == "" {
		return reply{}, cinder.InvalidInput("Host field is missing.")
	}
	if act == "disable-log-reason" {
		if raw, ok := body["disabled_reason"]; ok {
			if reason, err = stringOf("disabled_reason", raw, false, maxNameLen); err != nil {
				return reply{}, err
			}
		}
		if strings.TrimSpace(reason) == "" {
			return reply{}, newFault(http.StatusBadRequest, "Disabled reason contains invalid characters or is too long")
		}
	}
	binaryKey := binary
	if binaryKey == "" {
		binaryKey = service
	}
	svc, err := s.store.GetService(r.Context(), host, binaryKey)
	if cinder.IsNotFound(err) {
		return reply{}, cinder.Errorf("HostBinaryNotFound", http.StatusNotFound, "Could not find binary %s on host %s.", binaryKey, host)
	}
	if err != nil {
		return reply{}, err
	}
	if _, err := s.store.UpdateService(r.Context(), svc.ID, func(svc *cinder.Service) error {
		svc.Disabled = disabled
		if act == "disable-log-reason" {
			svc.DisabledReason = reason
		}
		return nil
	}); err != nil {
		return reply{}, err
	}
	out := object{}
	if act == "disable-log-reason" {
		out = append(out, member{"disabled_reason", reason})
	}
	status := "enabled"
	if disabled {
		status = "disabled"
	}
	out = append(out, member{"disabled", disabled}, member{"host", host}, member{"service", service},
		member{"binary", binary}, member{"status", status})
	return reply{http.StatusOK, out}, nil
}
