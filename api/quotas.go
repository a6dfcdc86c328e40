package api

import (
	"bytes"
	"encoding/json"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/volume"
)

// nonQuotaKeys are members of a quota set that name no resource, which an
// update skips (Cinder's NON_QUOTA_KEYS).
var nonQuotaKeys = []string{"tenant_id", "id"}

// quotaSetView is Cinder's quota set or class: each resource's limit, or
// with usage {"limit", "in_use", "reserved"}, then "id" when not "".
func quotaSetView(qs []volume.Quota, usage bool, id string) object {
	o := make(object, 0, len(qs)+1)
	for _, q := range qs {
		var v any = q.Limit
		if usage {
			v = object{{"limit", q.Limit}, {"in_use", q.InUse}, {"reserved", q.Reserved}}
		}
		o = append(o, member{q.Resource, v})
	}
	if id != "" {
		o = append(o, member{"id", id})
	}
	return o
}

// authorizeProject checks rule for the caller on the quotas of project.
func (s *server) authorizeProject(r *http.Request, rule, project string) error {
	return s.policy.Authorize(cinder.FromContext(r.Context()), rule, map[string]string{"project_id": project})
}

// showQuotaSet answers GET /os-quota-sets/{id}: project id's limits, with
// usage=True what it uses and reserves of each.
func (s *server) showQuotaSet(r *http.Request) (reply, error) {
	project := mux.Vars(r)["id"]
	if err := s.authorizeProject(r, "volume_extension:quotas:show", project); err != nil {
		return reply{}, err
	}
	usage, err := boolParam(r, "usage", false)
	if err != nil {
		return reply{}, err
	}
	qs, err := s.vol.ProjectQuotas(r.Context(), project, usage)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"quota_set", quotaSetView(qs, usage, project)}}}, nil
}

// showDefaultQuotaSet answers GET /os-quota-sets/{id}/defaults: the limits
// of a project that sets none.
func (s *server) showDefaultQuotaSet(r *http.Request) (reply, error) {
	project := mux.Vars(r)["id"]
	if err := s.authorizeProject(r, "volume_extension:quotas:show", project); err != nil {
		return reply{}, err
	}
	qs, err := s.vol.DefaultQuotas(r.Context())
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"quota_set", quotaSetView(qs, false, project)}}}, nil
}

// updateQuotaSet answers PUT /os-quota-sets/{id} {"quota_set": {…}} with
// project id's limits.
func (s *server) updateQuotaSet(r *http.Request) (reply, error) {
	project := mux.Vars(r)["id"]
	names, err := s.vol.QuotaResources(r.Context())
	if err != nil {
		return reply{}, err
	}
	set, err := quotaSetBody(r, names)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorizeProject(r, "volume_extension:quotas:update", project); err != nil {
		return reply{}, err
	}
	if err := nameLength("quota_set_name", project); err != nil {
		return reply{}, err
	}
	qs, err := s.vol.UpdateProjectQuotas(r.Context(), project, set)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"quota_set", quotaSetView(qs, false, "")}}}, nil
}

// deleteQuotaSet answers DELETE /os-quota-sets/{id}: project id has the
// default limits again.
func (s *server) deleteQuotaSet(r *http.Request) (reply, error) {
	project := mux.Vars(r)["id"]
	if err := s.authorizeProject(r, "volume_extension:quotas:delete", project); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK}, s.vol.DeleteProjectQuotas(r.Context(), project)
}

// showQuotaClass answers GET /os-quota-class-sets/{id}.
func (s *server) showQuotaClass(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume_extension:quota_classes:get"); err != nil {
		return reply{}, err
	}
	name := mux.Vars(r)["id"]
	qs, err := s.vol.QuotaClass(r.Context(), name)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"quota_class_set", quotaSetView(qs, false, name)}}}, nil
}

// updateQuotaClass answers PUT /os-quota-class-sets/{id}
// {"quota_class_set": {…}} with the class's limits; the class "default"
// holds every project's defaults.
func (s *server) updateQuotaClass(r *http.Request) (reply, error) {
	name := mux.Vars(r)["id"]
	names, err := s.vol.QuotaResources(r.Context())
	if err != nil {
		return reply{}, err
	}
	set, err := quotaClassBody(r, names)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume_extension:quota_classes:update"); err != nil {
		return reply{}, err
	}
	if err := nameLength("quota_class_name", name); err != nil {
		return reply{}, err
	}
	qs, err := s.vol.UpdateQuotaClass(r.Context(), name, set)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"quota_class_set", quotaSetView(qs, false, "")}}}, nil
}

// nameLength refuses a name of more than 255 characters, as
// validate_string_length.
func nameLength(what, name string) error {
	if n := len([]rune(name)); n > maxNameLen {
		return cinder.InvalidInput("%s has %d characters, more than %d.", what, n, maxNameLen)
	}
	return nil
}

// quotaSetBody reads {"quota_set": {resource: limit, …}} as Cinder's
// update_quota schema and quota_set format: at least one member; each of
// names an integer from -1 to 2^31-1, or a string of one; tenant_id and id
// skipped; other keys refused once the values are checked.
func quotaSetBody(r *http.Request, names []string) ([]volume.Quota, error) {
	body, set, err := quotaBody(r, "quota_set")
	if err != nil {
		return nil, err
	}
	keys := orderedKeys(body["quota_set"])
	if len(keys) == 0 {
		return nil, invalidField("quota_set", body["quota_set"], "%s does not have enough properties", pyRepr(body["quota_set"]))
	}
	var out []volume.Quota
	var bad []string
	for _, k := range keys {
		switch {
		case slices.Contains(nonQuotaKeys, k):
		case !slices.Contains(names, k):
			bad = append(bad, k)
		default:
			n, err := quotaInt(k, set[k])
			if err != nil {
				return nil, err
			}
			out = append(out, volume.Quota{Resource: k, Limit: n})
		}
	}
	if len(bad) > 0 {
		return nil, cinder.InvalidInput("Bad key(s) in quota set: %s", strings.Join(bad, ", "))
	}
	return out, body.only("", "quota_set")
}

// quotaClassBody reads {"quota_class_set": {resource: limit, …}} as
// Cinder's update_quota_class schema: keys of names (any other refused
// first), each an integer from -1 or a string of digits, at most 2^31-1.
func quotaClassBody(r *http.Request, names []string) ([]volume.Quota, error) {
	body, set, err := quotaBody(r, "quota_class_set")
	if err != nil {
		return nil, err
	}
	keys := orderedKeys(body["quota_class_set"])
	var bad []string
	for _, k := range keys {
		if !slices.Contains(names, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		return nil, cinder.InvalidInput("Bad key(s) in quota class set: %s", strings.Join(bad, ", "))
	}
	out := make([]volume.Quota, 0, len(keys))
	for _, k := range keys {
		n, err := classLimit(k, set[k])
		if err != nil {
			return nil, err
		}
		out = append(out, volume.Quota{Resource: k, Limit: n})
	}
	return out, body.only("", "quota_class_set")
}

// quotaBody reads a body {key: {…}}: the body and the object of key.
func quotaBody(r *http.Request, key string) (fields, fields, error) {
	body, err := readObject(r, key)
	if err != nil {
		return nil, nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, nil, newFault(http.StatusBadRequest, "'%s' is a required property", key)
	}
	set, err := objectOf(key, raw)
	return body, set, err
}

// orderedKeys returns the member names of raw, a JSON object, in order and
// each once, as Python's dict keeps them.
func orderedKeys(raw json.RawMessage) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil
	}
	var keys []string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		k, _ := tok.(string)
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	return keys
}

// pyInt matches what Python's int() takes of a string, once stripped.
var pyInt = regexp.MustCompile(`^[+-]?[0-9]+(_[0-9]+)*$`)

// quotaInt decodes the limit of resource name in a quota set as oslo's
// validate_integer(value, name, -1, 2^31-1): int(str(value)).
func quotaInt(name string, raw json.RawMessage) (int, error) {
	text := ""
	switch kind(raw) {
	case "number":
		text = string(bytes.TrimSpace(raw))
	case "string":
		text = strings.TrimSpace(pyStr(raw))
	}
	n, ok := new(big.Int).SetString(strings.ReplaceAll(text, "_", ""), 10)
	switch {
	case !ok || !pyInt.MatchString(text):
		return 0, newFault(http.StatusBadRequest, "%s must be an integer", name)
	case n.Cmp(big.NewInt(-1)) < 0:
		return 0, newFault(http.StatusBadRequest, "%s must be >= -1", name)
	case n.Cmp(big.NewInt(maxInt)) > 0:
		return 0, newFault(http.StatusBadRequest, "%s must be <= %d", name, maxInt)
	}
	return int(n.Int64()), nil
}

// classLimit decodes the limit of resource name in a quota class set as
// parameter_types.quota_class_set: an integer of at least -1, or a string
// of digits, at most 2^31-1.
func classLimit(name string, raw json.RawMessage) (int, error) {
	text := ""
	switch kind(raw) {
	case "number":
		text = string(bytes.TrimSpace(raw))
		if strings.ContainsAny(text, ".eE") {
			return 0, invalidField(name, raw, "%s is not of type 'integer', 'string'", pyRepr(raw))
		}
	case "string":
		text = pyStr(raw)
		if text == "" {
			return 0, invalidField(name, raw, "'' is too short")
		}
		if !digits.MatchString(text) {
			return 0, invalidField(name, raw, "%s does not match '^[0-9]*$'", pyRepr(raw))
		}
	default:
		return 0, invalidField(name, raw, "%s is not of type 'integer', 'string'", pyRepr(raw))
	}
	n, _ := new(big.Int).SetString(text, 10)
	switch {
	case n.Cmp(big.NewInt(-1)) < 0:
		return 0, invalidField(name, raw, "%s is less than the minimum of -1", n)
	case n.Cmp(big.NewInt(maxInt)) > 0:
		return 0, invalidField(name, raw, "%s is greater than the maximum of %d", n, maxInt)
	}
	return int(n.Int64()), nil
}
