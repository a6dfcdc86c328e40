package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/cinder-go/cinder"
)

// cleanupFields are the members of a workers cleanup body (cinder/api/schemas/workers.py).
var cleanupFields = []string{"cluster_name", "disabled", "host", "is_up", "binary", "resource_id", "resource_type", "service_id"}

// hostnamePattern is parameter_types.hostname's.
var hostnamePattern = regexp.MustCompile(`^[a-zA-Z0-9-._#@:/+]*$`)

// cleanupWorkers answers POST /workers/cleanup (3.24, admin), as Cinder's
// api/v3/workers.py: 202 {"cleaning": […], "unavailable": […]}, the
// services asked to clean up the work they left and those down, which
// nothing could ask.
func (s *server) cleanupWorkers(r *http.Request) (reply, error) {
	if err := since(r, mvWorkersCleanup); err != nil {
		return reply{}, err
	}
	req, err := parseCleanup(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "workers:cleanup"); err != nil {
		return reply{}, err
	}
	cleaning, unavailable, err := s.vol.WorkCleanup(r.Context(), req)
	if err != nil {
		return reply{}, err
	}
	view := func(services []*cinder.Service) []object {
		out := make([]object, len(services))
		for i, svc := range services {
			out[i] = object{{"id", svc.ID}, {"host", svc.Host}, {"binary", svc.Binary}, {"cluster_name", orNull(svc.ClusterName)}}
		}
		return out
	}
	return reply{http.StatusAccepted, object{{"cleaning", view(cleaning)}, {"unavailable", view(unavailable)}}}, nil
}

// parseCleanup validates a cleanup body, which may be empty, as Cinder's
// schema, and reads it into a request: booleans as oslo reads them, the
// resource type title-cased and one of the cleanable ones.
func parseCleanup(r *http.Request) (cinder.CleanupRequest, error) {
	var req cinder.CleanupRequest
	raw, err := readBody(r)
	if err != nil || raw == nil {
		return req, err
	}
	var body fields
	if kind(raw) != "object" || json.Unmarshal(raw, &body) != nil {
		return req, newFault(http.StatusBadRequest, "%s is not of type 'object'", pyRepr(raw))
	}
	if err := body.only("", cleanupFields...); err != nil {
		return req, err
	}
	for key, dst := range map[string]*string{"host": &req.Host, "cluster_name": &req.ClusterName} {
		if raw, ok := body[key]; ok {
			if *dst, err = hostnameOf(key, raw); err != nil {
				return req, err
			}
		}
	}
	if raw, ok := body["binary"]; ok {
		if req.Binary, err = stringOf("binary", raw, false, 0); err != nil || req.Binary != cinder.BinaryVolume && req.Binary != cinder.BinaryScheduler {
			return req, invalidField("binary", raw, "%s is not one of ['cinder-volume', 'cinder-scheduler']", pyRepr(raw))
		}
	}
	if raw, ok := body["is_up"]; ok && kind(raw) != "null" {
		if req.IsUp, err = boolOf("is_up", raw); err != nil {
			return req, err
		}
	}
	if raw, ok := body["disabled"]; ok && kind(raw) != "null" {
		b, err := boolOf("disabled", raw)
		if err != nil {
			return req, err
		}
		req.Disabled = &b
	}
	if raw, ok := body["resource_id"]; ok {
		if req.ResourceID, err = uuidOf("resource_id", raw, true); err != nil {
			return req, err
		}
	}
	if raw, ok := body["resource_type"]; ok {
		if req.ResourceType, err = resourceTypeOf(raw); err != nil {
			return req, err
		}
	}
	if raw, ok := body["service_id"]; ok && kind(raw) != "null" {
		id, err := serviceIDOf(raw)
		if err != nil {
			return req, err
		}
		req.ServiceID = id
	}
	return req, nil
}

// hostnameOf decodes parameter_types.hostname: null, or 1 to 255 characters
// of a host name, backend and pool.
func hostnameOf(field string, raw json.RawMessage) (string, error) {
	if kind(raw) == "null" {
		return "", nil
	}
	s, err := stringOf(field, raw, true, maxNameLen)
	switch {
	case err != nil:
		return "", err
	case s == "":
		return "", invalidField(field, raw, "%s is too short", pyRepr(raw))
	case !hostnamePattern.MatchString(s):
		return "", invalidField(field, raw, "%s does not match '%s'", pyRepr(raw), hostnamePattern)
	}
	return s, nil
}

// resourceTypeOf decodes a cleanup's resource_type, at most 40 characters,
// title-cased as Python's str.title and checked against the cleanable types.
func resourceTypeOf(raw json.RawMessage) (string, error) {
	s, err := stringOf("resource_type", raw, true, 40)
	if err != nil || s == "" {
		return "", err
	}
	title := []rune(strings.ToLower(s))
	for i, c := range title {
		if i == 0 || !unicode.IsLetter(title[i-1]) {
			title[i] = unicode.ToUpper(c)
		}
	}
	t := string(title)
	if valid := []string{cinder.CleanableVolume, cinder.CleanableSnapshot}; !slices.Contains(valid, t) {
		return "", cinder.InvalidInput("Resource type %s not valid, must be %s", t, strings.Join(valid, " or "))
	}
	return t, nil
}

// serviceIDOf decodes parameter_types.service_id: an integer, or a string
// of at most 11 digits.
func serviceIDOf(raw json.RawMessage) (*int64, error) {
	text := strings.TrimSpace(string(raw))
	switch kind(raw) {
	case "string":
		text = pyStr(raw)
		if len(text) > 11 {
			return nil, invalidField("service_id", raw, "%s is too long", pyRepr(raw))
		}
		if !digits.MatchString(text) {
			return nil, invalidField("service_id", raw, "%s does not match '^[0-9]*$'", pyRepr(raw))
		}
	case "number":
	default:
		return nil, invalidField("service_id", raw, "%s is not of type 'integer', 'string', 'null'", pyRepr(raw))
	}
	id, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, invalidField("service_id", raw, "%s is not of type 'integer', 'string', 'null'", pyRepr(raw))
	}
	return &id, nil
}
