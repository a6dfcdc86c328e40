package api

import (
	"net/http"
	"slices"
	"testing"

	"github.com/cinder-go/cinder/conf"
)

func TestGroupTypes(t *testing.T) {
	e := newEnv(t)
	e.get("/v3/admin/group_types", "OpenStack-API-Version", "volume 3.10").fault(t, http.StatusNotFound, "itemNotFound")

	created := e.post("/v3/admin/group_types", `{"group_type": {"name": "a-gold", "description": "fast", "is_public": "True", "group_specs": {"consistent_group_snapshot_enabled": "<is> True"}}}`)
	created.expect(t, http.StatusAccepted)
	sameKeys(t, "group type", created.keys(t, "group_type"), []string{"id", "name", "description", "is_public", "group_specs"})
	gold := created.obj(t, "group_type")
	id := gold["id"].(string)
	if gold["name"] != "a-gold" || gold["description"] != "fast" || gold["is_public"] != true ||
		gold["group_specs"].(map[string]any)["consistent_group_snapshot_enabled"] != "<is> True" {
		t.Fatalf("created %v", gold)
	}
	msg := e.post("/v3/admin/group_types", `{"group_type": {"name": "a-gold"}}`).fault(t, http.StatusConflict, "conflictingRequest")
	if msg != "Group Type a-gold already exists." {
		t.Fatalf("duplicate message %q", msg)
	}
	private := e.post("/v3/admin/group_types", `{"group_type": {"name": "b-secret", "is_public": false, "group_specs": null}}`).
		expect(t, http.StatusAccepted).obj(t, "group_type")
	if private["description"] != nil || len(private["group_specs"].(map[string]any)) != 0 {
		t.Fatalf("created %v", private)
	}

	names := func(path string, headers ...string) []string {
		t.Helper()
		var out []string
		for _, g := range e.get(path, headers...).expect(t, http.StatusOK).body["group_types"].([]any) {
			out = append(out, g.(map[string]any)["name"].(string))
		}
		return out
	}
	for path, want := range map[string][]string{
		"/v3/admin/group_types?is_public=None&sort=name:asc":  {"a-gold", "b-secret"},
		"/v3/admin/group_types?is_public=none&sort=name:desc": {"b-secret", "a-gold"},
		"/v3/admin/group_types?is_public=false":               {"b-secret"},
		"/v3/admin/group_types":                               {"a-gold"},
	} {
		if got := names(path); !slices.Equal(got, want) {
			t.Errorf("GET %s: %v; want %v", path, got, want)
		}
	}
	e.get("/v3/admin/group_types/default").fault(t, http.StatusNotFound, "itemNotFound")

	upd := e.put("/v3/admin/group_types/"+id, `{"group_type": {"name": "a-platinum", "description": "faster"}}`).expect(t, http.StatusOK)
	if v := upd.obj(t, "group_type"); v["name"] != "a-platinum" || v["description"] != "faster" || v["is_public"] != true {
		t.Fatalf("updated %v", v)
	}
	if v := e.get("/v3/admin/group_types/"+id).expect(t, http.StatusOK).obj(t, "group_type"); v["name"] != "a-platinum" {
		t.Fatalf("shown %v", v)
	}
	e.put("/v3/admin/group_types/"+id, `{"group_type": {"name": "b-secret"}}`).fault(t, http.StatusConflict, "conflictingRequest")
	for _, body := range []string{`{"group_type": {}}`, `{"group_type": {"name": "  "}}`, `{"group_type": {"name": null}}`,
		`{"group_type": {"is_public": "perhaps"}}`, `{"group_type": {"size": 1}}`} {
		e.put("/v3/admin/group_types/"+id, body).fault(t, http.StatusBadRequest, "badRequest")
	}
	for _, body := range []string{`{"group_type": {}}`, `{"group_type": {"name": ""}}`, `{"group_type": {"name": " "}}`,
		`{"group_type": {"name": "x", "size": 1}}`, `{"group_type": {"name": "x", "group_specs": {"k": 1}}}`,
		`{"group_type": {"name": "x", "group_specs": {"k": null}}}`, `{"group_type": "x"}`, `{}`, `[]`} {
		e.post("/v3/admin/group_types", body).fault(t, http.StatusBadRequest, "badRequest")
	}
	e.get("/v3/admin/group_types?sort=size").fault(t, http.StatusBadRequest, "badRequest")
	e.get("/v3/admin/group_types/00000000-0000-0000-0000-000000000000").fault(t, http.StatusNotFound, "itemNotFound")

	e.del("/v3/admin/group_types/"+id).expect(t, http.StatusAccepted)
	e.get("/v3/admin/group_types/"+id).fault(t, http.StatusNotFound, "itemNotFound")
	e.del("/v3/admin/group_types/"+id).fault(t, http.StatusNotFound, "itemNotFound")
}

func TestGroupSpecs(t *testing.T) {
	e := newEnv(t)
	id := e.post("/v3/admin/group_types", `{"group_type": {"name": "g"}}`).expect(t, http.StatusAccepted).obj(t, "group_type")["id"].(string)
	specs := "/v3/admin/group_types/" + id + "/group_specs"

	r := e.post(specs, `{"group_specs": {"key1": "value1", "key2": "value2"}}`).expect(t, http.StatusAccepted)
	if v := r.obj(t, "group_specs"); len(v) != 2 || v["key1"] != "value1" {
		t.Fatalf("create answered %s", r.raw)
	}
	e.post(specs, `{"group_specs": {"key2": "value2-updated", "key3": "value3"}}`).expect(t, http.StatusAccepted)
	if v := e.get(specs+"/key2").expect(t, http.StatusOK).body; v["key2"] != "value2-updated" || len(v) != 1 {
		t.Fatalf("show answered %v", v)
	}
	if v := e.put(specs+"/key3", `{"key3": "value3-updated"}`).expect(t, http.StatusOK).body; v["key3"] != "value3-updated" {
		t.Fatalf("update answered %v", v)
	}
	all := e.get(specs).expect(t, http.StatusOK).obj(t, "group_specs")
	if len(all) != 3 || all["key1"] != "value1" || all["key2"] != "value2-updated" || all["key3"] != "value3-updated" {
		t.Fatalf("list answered %v", all)
	}
	if v := e.get("/v3/admin/group_types/"+id).obj(t, "group_type", "group_specs"); len(v) != 3 {
		t.Fatalf("group type shows specs %v", v)
	}

	e.put(specs+"/key3", `{"key4": "v"}`).fault(t, http.StatusBadRequest, "badRequest")
	e.put(specs+"/key3", `{"key3": "v", "key4": "v"}`).fault(t, http.StatusBadRequest, "badRequest")
	e.put(specs+"/key3", `{"key3": 3}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post(specs, `{"group_specs": {"bad key": "v"}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post(specs, `{"extra_specs": {"k": "v"}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.post(specs, `{}`).fault(t, http.StatusBadRequest, "badRequest")

	e.del(specs+"/key1").expect(t, http.StatusAccepted)
	msg := e.get(specs+"/key1").fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "Group Type "+id+" has no extra spec with key key1." {
		t.Fatalf("missing key message %q", msg)
	}
	e.del(specs+"/key1").fault(t, http.StatusNotFound, "itemNotFound")
	missing := "/v3/admin/group_types/00000000-0000-0000-0000-000000000000/group_specs"
	e.get(missing).fault(t, http.StatusNotFound, "itemNotFound")
	e.post(missing, `{"group_specs": {"k": "v"}}`).fault(t, http.StatusNotFound, "itemNotFound")
}

// TestGroupTypesOfMember: one who is no admin sees the public group types
// only, whatever is_public asks, and never their specs.
func TestGroupTypesOfMember(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.AuthStrategy = conf.AuthNoAuthRoles })
	create := func(body string) string {
		return e.as(adminP, req{method: "POST", path: "/v3/{p}/group_types", body: body}).
			expect(t, http.StatusAccepted).obj(t, "group_type")["id"].(string)
	}
	public := create(`{"group_type": {"name": "pub", "group_specs": {"k": "v"}}}`)
	private := create(`{"group_type": {"name": "priv", "is_public": false}}`)
	list := e.as(memberP, req{method: "GET", path: "/v3/{p}/group_types?is_public=false"}).expect(t, http.StatusOK)
	if items := list.body["group_types"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != public {
		t.Fatalf("a member lists %s", list.raw)
	}
	shown := e.as(memberP, req{method: "GET", path: "/v3/{p}/group_types/" + public}).expect(t, http.StatusOK)
	sameKeys(t, "member's group type", shown.keys(t, "group_type"), []string{"id", "name", "description", "is_public"})
	e.as(memberP, req{method: "GET", path: "/v3/{p}/group_types/" + private}).fault(t, http.StatusNotFound, "itemNotFound")
	e.as(adminP, req{method: "GET", path: "/v3/{p}/group_types/" + private}).expect(t, http.StatusOK)
}
