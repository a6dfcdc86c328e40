package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// Cinder's policies guarding QoS specs (all admin).
const (
	policyQoSGetAll = "volume_extension:qos_specs_manage:get_all"
	policyQoSGet    = "volume_extension:qos_specs_manage:get"
	policyQoSCreate = "volume_extension:qos_specs_manage:create"
	policyQoSUpdate = "volume_extension:qos_specs_manage:update"
	policyQoSDelete = "volume_extension:qos_specs_manage:delete"
)

// qosView is QoS specs as Cinder's qos_specs view shows them.
func qosView(q *cinder.QoSSpecs) object {
	return object{{"id", q.ID}, {"name", q.Name}, {"consumer", q.Consumer}, {"specs", metadataOf(q.Specs)}}
}

// qosReply is the answer of a show or create: the specs and their links.
func qosReply(r *http.Request, q *cinder.QoSSpecs) reply {
	return reply{http.StatusOK, object{{"qos_specs", qosView(q)}, {"links", links(r, "qos-specs", q.ID)}}}
}

// listQoS answers GET /qos-specs (admin): paged and sorted, filtered by
// id, name and consumer.
func (s *server) listQoS(r *http.Request) (reply, error) {
	if err := s.authorize(r, policyQoSGetAll); err != nil {
		return reply{}, err
	}
	p, err := pageOf(r)
	if err != nil {
		return reply{}, err
	}
	q := r.URL.Query()
	f := db.QoSFilter{ID: q.Get("id"), Name: q.Get("name"), Consumer: q.Get("consumer"),
		Marker: p.marker, Offset: p.offset, Limit: p.limit, SortKey: p.sortKey, SortDescending: p.descending}
	specs := []*cinder.QoSSpecs{}
	if p.limit > 0 {
		if specs, err = s.vol.ListQoS(r.Context(), f); err != nil {
			return reply{}, err
		}
	}
	items := make([]object, len(specs))
	for i, spec := range specs {
		items[i] = qosView(spec)
	}
	out := object{{"qos_specs", items}}
	if len(specs) > 0 && len(specs) == p.limit {
		out = append(out, member{"qos_specs_links", nextLink(r, "qos-specs", specs[len(specs)-1].ID)})
	}
	return reply{http.StatusOK, out}, nil
}

// showQoS answers GET /qos-specs/{id} (admin).
func (s *server) showQoS(r *http.Request) (reply, error) {
	if err := s.authorize(r, policyQoSGet); err != nil {
		return reply{}, err
	}
	q, err := s.vol.GetQoS(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	return qosReply(r, q), nil
}

// createQoS answers POST /qos-specs (admin) {"qos_specs": {"name": …,
// "consumer": …, key: value…}}.
func (s *server) createQoS(r *http.Request) (reply, error) {
	name, specs, err := parseQoSCreate(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, policyQoSCreate); err != nil {
		return reply{}, err
	}
	q, err := s.vol.CreateQoS(r.Context(), name, specs)
	if err != nil {
		return reply{}, err
	}
	return qosReply(r, q), nil
}

// parseQoSCreate reads a QoS specs create as Cinder's schema and its
// validate_dictionary_string_length: a name, and specs whose keys and
// string values hold at most 255 characters (null values are kept as "").
func parseQoSCreate(r *http.Request) (string, map[string]string, error) {
	raw, err := qosBody(r, "qos_specs")
	if err != nil {
		return "", nil, err
	}
	body, err := objectOf("qos_specs", raw)
	if err != nil {
		return "", nil, err
	}
	if err := body.required("qos_specs", "name"); err != nil {
		return "", nil, err
	}
	name, err := stringOf("name", body["name"], false, 0)
	switch {
	case err != nil:
		return "", nil, err
	case name == "":
		return "", nil, invalidName("The 'name' can not be None.")
	case strings.TrimSpace(name) == "":
		return "", nil, invalidName("The 'name' can not be empty.")
	case utf8.RuneCountInString(strings.TrimSpace(name)) > maxNameLen:
		return "", nil, invalidName("The 'name' can not be greater than 255 characters.")
	}
	specs := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(body)) {
		if k == "name" {
			continue
		}
		if specs[k], err = qosSpec(k, body[k]); err != nil {
			return "", nil, err
		}
	}
	return strings.TrimSpace(name), specs, nil
}

// invalidName is Cinder's InvalidName, as its validator words it.
func invalidName(reason string) error {
	return newFault(http.StatusBadRequest, "An invalid 'name' value was provided. %s", reason)
}

// qosSpec checks one spec of a QoS specs create as Cinder's
// validate_dictionary_string_length: a key of 1 to 255 characters, a
// string value of at most 255, or null ("").
func qosSpec(key string, raw json.RawMessage) (string, error) {
	if n := utf8.RuneCountInString(key); n < 1 || n > maxNameLen {
		more := "more than 255"
		if n < 1 {
			more = "less than 1"
		}
		return "", cinder.InvalidInput("Key \"%s\" has %d characters, %s.", key, n, more)
	}
	switch kind(raw) {
	case "null":
		return "", nil
	case "string":
	default:
		return "", cinder.InvalidInput("Value for key \"%s\" is not a string or unicode", key)
	}
	v := pyStr(raw)
	if n := utf8.RuneCountInString(v); n > maxNameLen {
		return "", cinder.InvalidInput("Value for key \"%s\" has %d characters, more than 255.", key, n)
	}
	return v, nil
}

// setQoSKeys answers PUT /qos-specs/{id} (admin) {"qos_specs": {key:
// value…}}: sets those specs ("consumer" the consumer), echoing the body.
func (s *server) setQoSKeys(r *http.Request) (reply, error) {
	raw, err := qosBody(r, "qos_specs")
	if err != nil {
		return reply{}, err
	}
	specs, err := specsOf("qos_specs", raw, specKey, true)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, policyQoSUpdate); err != nil {
		return reply{}, err
	}
	if err := s.vol.SetQoSKeys(r.Context(), mux.Vars(r)["id"], specs); err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"qos_specs", raw}}}, nil
}

// qosBody reads a body {key: …} as Cinder's QoS schemas and returns the
// value of key.
func qosBody(r *http.Request, key string) (json.RawMessage, error) {
	body, err := readObject(r, key)
	if err == nil {
		err = body.only("", key)
	}
	if err != nil {
		return nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, newFault(http.StatusBadRequest, "'%s' is a required property", key)
	}
	return raw, nil
}

// deleteQoSKeys answers PUT /qos-specs/{id}/delete_keys (admin) {"keys":
// […]}: 202 once removed.
func (s *server) deleteQoSKeys(r *http.Request) (reply, error) {
	keys, err := parseQoSKeys(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, policyQoSDelete); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.UnsetQoSKeys(r.Context(), mux.Vars(r)["id"], keys)
}

// parseQoSKeys reads {"keys": [...]}: distinct strings of 1 to 255 characters.
func parseQoSKeys(r *http.Request) ([]string, error) {
	raw, err := qosBody(r, "keys")
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if kind(raw) != "array" || json.Unmarshal(raw, &items) != nil {
		return nil, invalidField("keys", raw, "%s is not of type 'array'", pyRepr(raw))
	}
	keys := make([]string, len(items))
	for i, item := range items {
		field := strconv.Itoa(i) // jsonschema names an item by its index
		k, err := stringOf(field, item, false, maxNameLen)
		if err != nil {
			return nil, err
		}
		if k == "" {
			return nil, invalidField(field, item, "'' is too short")
		}
		if slices.Contains(keys[:i], k) {
			return nil, invalidField("keys", raw, "%s has non-unique elements", pyRepr(raw))
		}
		keys[i] = k
	}
	return keys, nil
}

// deleteQoS answers DELETE /qos-specs/{id}[?force=true] (admin): 202;
// without force, specs associated with volume types are not deleted.
func (s *server) deleteQoS(r *http.Request) (reply, error) {
	if err := s.authorize(r, policyQoSDelete); err != nil {
		return reply{}, err
	}
	force, err := boolParam(r, "force", false)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.DeleteQoS(r.Context(), mux.Vars(r)["id"], force)
}

// qosAssociations answers GET /qos-specs/{id}/associations (admin): the
// volume types associated with the specs.
func (s *server) qosAssociations(r *http.Request) (reply, error) {
	if err := s.authorize(r, policyQoSGetAll); err != nil {
		return reply{}, err
	}
	types, err := s.vol.QoSAssociations(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	items := make([]object, len(types))
	for i, t := range types {
		items[i] = object{{"association_type", "volume_type"}, {"name", t.Name}, {"id", t.ID}}
	}
	return reply{http.StatusOK, object{{"qos_associations", items}}}, nil
}

// associateQoS answers GET /qos-specs/{id}/associate?vol_type_id= (admin): 202.
func (s *server) associateQoS(r *http.Request) (reply, error) {
	typeID, err := s.qosTypeParam(r)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.AssociateQoS(r.Context(), mux.Vars(r)["id"], typeID)
}

// disassociateQoS answers GET /qos-specs/{id}/disassociate?vol_type_id= (admin): 202.
func (s *server) disassociateQoS(r *http.Request) (reply, error) {
	typeID, err := s.qosTypeParam(r)
	if err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.DisassociateQoS(r.Context(), mux.Vars(r)["id"], typeID)
}

// qosTypeParam authorizes an association change and reads its volume
// type, which it needs.
func (s *server) qosTypeParam(r *http.Request) (string, error) {
	if err := s.authorize(r, policyQoSUpdate); err != nil {
		return "", err
	}
	typeID := r.URL.Query().Get("vol_type_id")
	if typeID == "" {
		return "", newFault(http.StatusBadRequest, "Volume Type id must not be None.")
	}
	return typeID, nil
}

// disassociateAllQoS answers GET /qos-specs/{id}/disassociate_all (admin): 202.
func (s *server) disassociateAllQoS(r *http.Request) (reply, error) {
	if err := s.authorize(r, policyQoSUpdate); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.DisassociateQoS(r.Context(), mux.Vars(r)["id"], "")
}
