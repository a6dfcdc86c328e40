package api

import (
	"net/http"
	"testing"

	"github.com/cinder-go/cinder"
)

var typeKeys = []string{"id", "name", "is_public", "description", "extra_specs", "qos_specs_id", "os-volume-type-access:is_public"}

func TestVolumeTypes(t *testing.T) {
	e := newEnv(t)
	list := e.get("/v3/admin/types").expect(t, http.StatusOK)
	sameKeys(t, "type", list.keys(t, "volume_types", "0"), typeKeys)
	def := list.obj(t, "volume_types", "0")
	if def["name"] != cinder.DefaultVolumeType || def["description"] != "Default Volume Type" || def["is_public"] != true || def["qos_specs_id"] != nil {
		t.Fatalf("default type %v", def)
	}
	defID := def["id"].(string)
	if got := e.get("/v3/admin/types/default").expect(t, http.StatusOK).obj(t, "volume_type")["id"]; got != defID {
		t.Fatalf("types/default is %v", got)
	}

	created := e.post("/v3/admin/types", `{"volume_type": {"name": "gold", "description": "fast", "extra_specs": {"volume_backend_name": "fake1"}, "os-volume-type-access:is_public": "false"}}`)
	created.expect(t, http.StatusOK)
	sameKeys(t, "created type", created.keys(t, "volume_type"), []string{"id", "name", "is_public", "extra_specs", "description", "os-volume-type-access:is_public"})
	gold := created.obj(t, "volume_type")
	id := gold["id"].(string)
	if gold["name"] != "gold" || gold["is_public"] != false || gold["extra_specs"].(map[string]any)["volume_backend_name"] != "fake1" {
		t.Fatalf("created %v", gold)
	}
	msg := e.post("/v3/admin/types", `{"volume_type": {"name": "gold"}}`).fault(t, http.StatusConflict, "conflictingRequest")
	if msg != "Volume Type gold already exists." {
		t.Fatalf("duplicate message %q", msg)
	}
	// Private types are listed with is_public=false or none only.
	if n := len(e.get("/v3/admin/types").body["volume_types"].([]any)); n != 1 {
		t.Fatalf("%d public types", n)
	}
	if n := len(e.get("/v3/admin/types?is_public=none").body["volume_types"].([]any)); n != 2 {
		t.Fatalf("%d types in all", n)
	}
	e.get("/v3/admin/types?is_public=perhaps").fault(t, http.StatusBadRequest, "badRequest")

	upd := e.put("/v3/admin/types/"+id, `{"volume_type": {"name": "platinum", "is_public": true}}`).expect(t, http.StatusOK)
	if v := upd.obj(t, "volume_type"); v["name"] != "platinum" || v["is_public"] != true || v["description"] != "fast" {
		t.Fatalf("updated %v", v)
	}
	e.put("/v3/admin/types/"+id, `{"volume_type": {}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.put("/v3/admin/types/"+id, `{"volume_type": {"name": "  "}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.put("/v3/admin/types/"+id, `{"volume_type": {"name": "`+cinder.DefaultVolumeType+`"}}`).fault(t, http.StatusConflict, "conflictingRequest")
	e.put("/v3/admin/types/"+defID, `{"volume_type": {"name": "renamed"}}`).fault(t, http.StatusBadRequest, "badRequest")

	for _, body := range []string{`{"volume_type": {}}`, `{"volume_type": {"name": ""}}`, `{"volume_type": {"name": "x", "size": 1}}`,
		`{"volume_type": {"name": "x", "extra_specs": {"k": 1}}}`, `{}`} {
		e.post("/v3/admin/types", body).fault(t, http.StatusBadRequest, "badRequest")
	}
	e.get("/v3/admin/types/00000000-0000-0000-0000-000000000000").fault(t, http.StatusNotFound, "itemNotFound")

	// Deleting: not the default type, not one in use.
	e.del("/v3/admin/types/"+defID).fault(t, http.StatusBadRequest, "badRequest")
	e.createVolume(`{"volume": {"size": 1, "volume_type": "platinum"}}`)
	msg = e.del("/v3/admin/types/"+id).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Target volume type is still in use." {
		t.Fatalf("in use message %q", msg)
	}
	spare := e.post("/v3/admin/types", `{"volume_type": {"name": "spare"}}`).expect(t, http.StatusOK).obj(t, "volume_type")["id"].(string)
	e.del("/v3/admin/types/"+spare).expect(t, http.StatusAccepted)
	e.get("/v3/admin/types/"+spare).fault(t, http.StatusNotFound, "itemNotFound")
}

func TestExtraSpecs(t *testing.T) {
	e := newEnv(t)
	id := e.post("/v3/admin/types", `{"volume_type": {"name": "gold"}}`).expect(t, http.StatusOK).obj(t, "volume_type")["id"].(string)
	specs := "/v3/admin/types/" + id + "/extra_specs"

	r := e.post(specs, `{"extra_specs": {"volume_backend_name": "fake1", "thin": "<is> True"}}`).expect(t, http.StatusOK)
	if r.obj(t, "extra_specs")["volume_backend_name"] != "fake1" {
		t.Fatalf("create answered %s", r.raw)
	}
	got := e.get(specs).expect(t, http.StatusOK).obj(t, "extra_specs")
	if len(got) != 2 || got["thin"] != "<is> True" {
		t.Fatalf("extra specs %v", got)
	}
	if v := e.get(specs+"/thin").expect(t, http.StatusOK).body["thin"]; v != "<is> True" {
		t.Fatalf("one spec %v", v)
	}
	e.put(specs+"/thin", `{"thin": "<is> False"}`).expect(t, http.StatusOK)
	if v := e.get(specs + "/thin").body["thin"]; v != "<is> False" {
		t.Fatalf("after update %v", v)
	}
	msg := e.put(specs+"/thin", `{"thick": "x"}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Request body and URI mismatch" {
		t.Fatalf("mismatch message %q", msg)
	}
	e.put(specs+"/thin", `{"thin": "a", "b": "c"}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post(specs, `{"extra_specs": {"has space": "x"}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post(specs, `{"extra_specs": {"multiattach": "<is> True", "cacheable": "<is> True"}}`).fault(t, http.StatusBadRequest, "badRequest")

	e.del(specs+"/thin").expect(t, http.StatusAccepted)
	msg = e.get(specs+"/thin").fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Volume Type "+id+" has no extra specs with key thin." {
		t.Fatalf("missing spec message %q", msg)
	}
	e.del(specs+"/thin").fault(t, http.StatusNotFound, "itemNotFound")
	e.get("/v3/admin/types/00000000-0000-0000-0000-000000000000/extra_specs").fault(t, http.StatusNotFound, "itemNotFound")

	// A type in use keeps its specs.
	e.createVolume(`{"volume": {"size": 1, "volume_type": "gold"}}`)
	msg = e.post(specs, `{"extra_specs": {"a": "b"}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Volume Type is currently in use." {
		t.Fatalf("in use message %q", msg)
	}
	e.del(specs+"/volume_backend_name").fault(t, http.StatusBadRequest, "badRequest")
}

func TestExtraSpecsVisibleToNonAdmin(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = "keystone" })
	admin := []string{"X-Auth-Token", "", "X-User-Id", "a", "X-Project-Id", "p", "X-Roles", "admin"}
	user := []string{"X-Auth-Token", "", "X-User-Id", "u", "X-Project-Id", "p", "X-Roles", "reader"}
	id := e.post("/v3/p/types", `{"volume_type": {"name": "gold", "extra_specs": {"multiattach": "<is> True", "volume_backend_name": "secret"}}}`, admin...).
		expect(t, http.StatusOK).obj(t, "volume_type")["id"].(string)
	r := e.get("/v3/p/types/"+id, user...).expect(t, http.StatusOK)
	// A reader is no member: volume_extension:volume_type_access hides the access attribute.
	sameKeys(t, "non-admin type", r.keys(t, "volume_type"), []string{"id", "name", "is_public", "description", "extra_specs"})
	if specs := r.obj(t, "volume_type", "extra_specs"); len(specs) != 1 || specs["multiattach"] != "<is> True" {
		t.Fatalf("non-admin sees specs %v", specs)
	}
	e.post("/v3/p/types/"+id+"/extra_specs", `{"extra_specs": {"a": "b"}}`, user...).fault(t, http.StatusForbidden, "forbidden")
}
