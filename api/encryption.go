package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
)

// Cinder's policies guarding volume type encryption (all admin).
const (
	policyEncryptionCreate = "volume_extension:volume_type_encryption:create"
	policyEncryptionGet    = "volume_extension:volume_type_encryption:get"
	policyEncryptionUpdate = "volume_extension:volume_type_encryption:update"
	policyEncryptionDelete = "volume_extension:volume_type_encryption:delete"
)

// controlLocations are where a volume type's encryption may happen.
var controlLocations = []string{"front-end", "back-end"}

// encryptionView is a type's encryption as GET /types/{id}/encryption
// answers it: the columns of Cinder's encryption row, in its order.
func encryptionView(e *cinder.Encryption) object {
	var cipher, keySize any
	if e.Cipher != nil {
		cipher = *e.Cipher
	}
	if e.KeySize != nil {
		keySize = *e.KeySize
	}
	return object{
		{"created_at", e.CreatedAt.UTC().Format(cinder.TimeLayout)}, {"updated_at", timeOrNull(e.UpdatedAt)},
		{"deleted_at", nil}, {"deleted", false}, {"encryption_id", e.ID}, {"cipher", cipher}, {"key_size", keySize},
		{"provider", e.Provider}, {"control_location", e.ControlLocation}, {"volume_type_id", e.VolumeTypeID},
	}
}

// showTypeEncryption answers GET /types/{id}/encryption (admin): the
// type's encryption, {} when it has none.
func (s *server) showTypeEncryption(r *http.Request) (reply, error) {
	if err := s.authorize(r, policyEncryptionGet); err != nil {
		return reply{}, err
	}
	e, err := s.vol.TypeEncryption(r.Context(), mux.Vars(r)["id"])
	if err != nil || e == nil {
		return reply{http.StatusOK, object{}}, err
	}
	return reply{http.StatusOK, encryptionView(e)}, nil
}

// showTypeEncryptionItem answers GET /types/{id}/encryption/{key}
// (admin): {key: value} of the type's encryption.
func (s *server) showTypeEncryptionItem(r *http.Request) (reply, error) {
	if err := s.authorize(r, policyEncryptionGet); err != nil {
		return reply{}, err
	}
	id, key := mux.Vars(r)["id"], mux.Vars(r)["key"]
	e, err := s.vol.TypeEncryption(r.Context(), id)
	if err != nil {
		return reply{}, err
	}
	if e != nil {
		for _, m := range encryptionView(e) {
			if m.key == key {
				return reply{http.StatusOK, object{m}}, nil
			}
		}
	}
	return reply{}, cinder.Errorf("VolumeTypeEncryptionNotFound", http.StatusNotFound, "Volume type encryption for type %s does not exist.", id)
}

// createTypeEncryption answers POST /types/{id}/encryption (admin)
// {"encryption": {provider, control_location, cipher, key_size}}: the
// body, key_size a number, with the type's and the encryption's ids.
func (s *server) createTypeEncryption(r *http.Request) (reply, error) {
	spec, err := parseEncryption(r, "provider", "control_location")
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, policyEncryptionCreate); err != nil {
		return reply{}, err
	}
	e := &cinder.Encryption{VolumeTypeID: mux.Vars(r)["id"]}
	spec.apply(e)
	if err := s.vol.CreateEncryption(r.Context(), e); err != nil {
		return reply{}, err
	}
	body := append(spec.echo(), member{"volume_type_id", e.VolumeTypeID}, member{"encryption_id", e.ID})
	return reply{http.StatusOK, object{{"encryption", body}}}, nil
}

// updateTypeEncryption answers PUT /types/{id}/encryption/{spec_id}
// (admin) {"encryption": {…}}: the members given change; the body, key_size
// a number.
func (s *server) updateTypeEncryption(r *http.Request) (reply, error) {
	spec, err := parseEncryption(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, policyEncryptionUpdate); err != nil {
		return reply{}, err
	}
	if err := s.vol.UpdateEncryption(r.Context(), mux.Vars(r)["id"], spec.apply); err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"encryption", spec.echo()}}}, nil
}

// deleteTypeEncryption answers DELETE /types/{id}/encryption/{spec_id} (admin): 202.
func (s *server) deleteTypeEncryption(r *http.Request) (reply, error) {
	if err := s.authorize(r, policyEncryptionDelete); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.DeleteEncryption(r.Context(), mux.Vars(r)["id"])
}

// encryptionSpec is an encryption body as decoded: the members given.
type encryptionSpec struct {
	raw                   fields // every member as sent: Cinder takes (and ignores) others too
	provider, location    *string
	cipher                *string // nil for null, when hasCipher
	keySize               *int    // nil for null, when hasKeySize
	hasCipher, hasKeySize bool
}

// parseEncryption reads {"encryption": {…}} as Cinder's schema, which
// requires the members required.
func parseEncryption(r *http.Request, required ...string) (*encryptionSpec, error) {
	enc, err := readMember(r, "encryption")
	if err != nil {
		return nil, err
	}
	for _, k := range required {
		if err := enc.required("encryption", k); err != nil {
			return nil, err
		}
	}
	spec := &encryptionSpec{raw: enc}
	if raw, ok := enc["provider"]; ok {
		p, err := stringOf("provider", raw, false, maxNameLen)
		if err != nil {
			return nil, err
		}
		spec.provider = &p
	}
	if raw, ok := enc["control_location"]; ok {
		loc, _ := stringOf("control_location", raw, false, 0)
		if kind(raw) != "string" || !slices.Contains(controlLocations, loc) {
			return nil, invalidField("control_location", raw, "%s is not one of ['front-end', 'back-end']", pyRepr(raw))
		}
		spec.location = &loc
	}
	if raw, ok := enc["cipher"]; ok {
		c, err := stringOf("cipher", raw, true, maxNameLen)
		if err != nil {
			return nil, err
		}
		if kind(raw) == "string" {
			spec.cipher = &c
		}
		spec.hasCipher = true
	}
	if raw, ok := enc["key_size"]; ok {
		if spec.keySize, err = keySizeOf(raw); err != nil {
			return nil, err
		}
		spec.hasKeySize = true
	}
	return spec, nil
}

// keySizeOf decodes parameter_types.key_size: an integer from 0 to 2^31-1,
// or a string of one, or null.
func keySizeOf(raw json.RawMessage) (*int, error) {
	text := strings.TrimSpace(string(raw))
	switch kind(raw) {
	case "null":
		return nil, nil
	case "string":
		text = pyStr(raw)
	case "number":
		if strings.ContainsAny(text, ".eE") {
			return nil, invalidField("key_size", raw, "%s is not of type 'string', 'integer', 'null'", pyRepr(raw))
		}
	default:
		return nil, invalidField("key_size", raw, "%s is not of type 'string', 'integer', 'null'", pyRepr(raw))
	}
	n, err := strconv.ParseInt(text, 10, 64)
	switch {
	case err != nil && digits.MatchString(strings.TrimPrefix(text, "-")): // out of int64's range
		if strings.HasPrefix(text, "-") {
			return nil, invalidField("key_size", raw, "%s is less than the minimum of 0", text)
		}
		return nil, invalidField("key_size", raw, "%s is greater than the maximum of %d", text, maxInt)
	case err != nil || strconv.FormatInt(n, 10) != text:
		return nil, cinder.InvalidInput("key_size must be an integer.")
	case n < 0:
		return nil, invalidField("key_size", raw, "%s is less than the minimum of 0", text)
	case n > maxInt:
		return nil, invalidField("key_size", raw, "%s is greater than the maximum of %d", text, maxInt)
	}
	size := int(n)
	return &size, nil
}

// apply sets the members of spec on e.
func (spec *encryptionSpec) apply(e *cinder.Encryption) {
	if spec.provider != nil {
		e.Provider = *spec.provider
	}
	if spec.location != nil {
		e.ControlLocation = *spec.location
	}
	if spec.hasCipher {
		e.Cipher = spec.cipher
	}
	if spec.hasKeySize {
		e.KeySize = spec.keySize
	}
}

// echo is the body as Cinder answers it back: the members as sent, by
// name, key_size as a number.
func (spec *encryptionSpec) echo() object {
	o := object{}
	for _, k := range slices.Sorted(maps.Keys(spec.raw)) {
		var v any = spec.raw[k]
		if k == "key_size" && spec.keySize != nil {
			v = *spec.keySize
		}
		o = append(o, member{k, v})
	}
	return o
}

// showVolumeEncryption answers GET /volumes/{id}/encryption: the volume's
// encryption key id (null when not encrypted) and its type's encryption.
func (s *server) showVolumeEncryption(r *http.Request) (reply, error) {
	o, err := s.volumeEncryption(r)
	return reply{http.StatusOK, o}, err
}

// showVolumeEncryptionItem answers GET /volumes/{id}/encryption/{key}: one
// value of showVolumeEncryption, bare.
func (s *server) showVolumeEncryptionItem(r *http.Request) (reply, error) {
	o, err := s.volumeEncryption(r)
	if err != nil {
		return reply{}, err
	}
	key := mux.Vars(r)["key"]
	for _, m := range o {
		if m.key == key && m.value == nil {
			return reply{http.StatusOK, json.RawMessage("null")}, nil
		}
		if m.key == key {
			return reply{http.StatusOK, m.value}, nil
		}
	}
	return reply{}, cinder.NotFound("Volume %s has no encryption metadata %s.", mux.Vars(r)["id"], key)
}

// volumeEncryption is the encryption metadata of the URL's volume, as
// Cinder's volume_encryption_metadata_get.
func (s *server) volumeEncryption(r *http.Request) (object, error) {
	keyID, e, err := s.vol.VolumeEncryption(r.Context(), mux.Vars(r)["id"]) // the volume is found first, as Cinder
	if err == nil {
		err = s.authorize(r, "volume_extension:volume_encryption_metadata")
	}
	if err != nil {
		return nil, err
	}
	o := object{{"encryption_key_id", orNull(keyID)}}
	if e != nil {
		for _, m := range encryptionView(e) {
			switch m.key {
			case "control_location", "cipher", "key_size", "provider":
				o = append(o, m)
			}
		}
	}
	return o, nil
}
