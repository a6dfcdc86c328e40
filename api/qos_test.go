package api

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/cinder-go/cinder"
)

func TestQoSSpecs(t *testing.T) {
	e := newEnv(t)
	created := e.post("/v3/admin/qos-specs", `{"qos_specs": {"name": " q1 ", "consumer": "front-end", "read_iops_sec": "2000"}}`).
		expect(t, http.StatusOK)
	sameKeys(t, "create", created.keys(t), []string{"qos_specs", "links"})
	sameKeys(t, "QoS specs", created.keys(t, "qos_specs"), []string{"id", "name", "consumer", "specs"})
	q := created.obj(t, "qos_specs")
	id := q["id"].(string)
	if q["name"] != "q1" || q["consumer"] != "front-end" || !reflect.DeepEqual(q["specs"], map[string]any{"read_iops_sec": "2000"}) {
		t.Fatalf("created %s", created.raw)
	}
	if href := created.body["links"].([]any)[0].(map[string]any)["href"].(string); href != e.srv.URL+"/v3/admin/qos-specs/"+id {
		t.Fatalf("self link %s", href)
	}
	list := e.get("/v3/admin/qos-specs").expect(t, http.StatusOK).body["qos_specs"].([]any)
	if len(list) != 1 || !reflect.DeepEqual(list[0], q) {
		t.Fatalf("list %v, want %v", list, q)
	}
	if got := e.get("/v3/admin/qos-specs/"+id).expect(t, http.StatusOK).obj(t, "qos_specs"); !reflect.DeepEqual(got, q) {
		t.Fatalf("show %v", got)
	}
	back := e.post("/v3/admin/qos-specs", `{"qos_specs": {"name": "q2"}}`).expect(t, http.StatusOK).obj(t, "qos_specs")
	if back["consumer"] != "back-end" {
		t.Fatalf("consumer by default: %v", back)
	}
	if page := e.get("/v3/admin/qos-specs?limit=1&sort=name:asc").expect(t, http.StatusOK); len(page.body["qos_specs"].([]any)) != 1 ||
		page.obj(t, "qos_specs", "0")["name"] != "q1" || page.body["qos_specs_links"] == nil {
		t.Fatalf("first page %s", page.raw)
	}
	if n := len(e.get("/v3/admin/qos-specs?consumer=back-end").body["qos_specs"].([]any)); n != 1 {
		t.Fatalf("%d back-end specs", n)
	}

	for body, want := range map[string]struct {
		status int
		msg    string
	}{
		`{"qos_specs": {"name": "q1"}}`:                    {409, "QoS Specs q1 already exists."},
		`{"qos_specs": {"name": "  "}}`:                    {400, "An invalid 'name' value was provided. The 'name' can not be empty."},
		`{"qos_specs": {"name": ""}}`:                      {400, "An invalid 'name' value was provided. The 'name' can not be None."},
		`{"qos_specs": {"name": 5}}`:                       {400, "Invalid input for field/attribute name. Value: 5. 5 is not of type 'string'"},
		`{"qos_specs": {"name": "x", "consumer": "side"}}`: {400, "Invalid qos specs: Valid consumer of QoS specs are: QoSConsumerValues(default=<class 'oslo_versionedobjects.fields.UnspecifiedDefault'>,nullable=False,valid_values=('back-end', 'front-end', 'both'))"},
		`{"qos_specs": {"name": "x", "k": 5}}`:             {400, `Invalid input received: Value for key "k" is not a string or unicode`},
		`{"qos_specs": {"name": "x"}, "y": 1}`:             {400, "Additional properties are not allowed ('y' was unexpected)"},
	} {
		r := e.post("/v3/admin/qos-specs", body)
		kind := map[int]string{400: "badRequest", 409: "conflictingRequest"}[want.status]
		if msg := r.fault(t, want.status, kind); msg != want.msg {
			t.Errorf("%s: %q, want %q", body, msg, want.msg)
		}
	}

	// Keys set and unset.
	set := e.put("/v3/admin/qos-specs/"+id, `{"qos_specs": {"iops_bytes": "500"}}`).expect(t, http.StatusOK)
	if string(set.raw) != `{"qos_specs": {"iops_bytes":"500"}}` {
		t.Fatalf("set answered %s", set.raw)
	}
	if specs := e.get("/v3/admin/qos-specs/"+id).obj(t, "qos_specs", "specs"); specs["iops_bytes"] != "500" || specs["read_iops_sec"] != "2000" {
		t.Fatalf("specs after set %v", specs)
	}
	e.put("/v3/admin/qos-specs/"+id+"/delete_keys", `{"keys": ["iops_bytes"]}`).expect(t, http.StatusAccepted)
	if specs := e.get("/v3/admin/qos-specs/"+id).obj(t, "qos_specs", "specs"); len(specs) != 1 {
		t.Fatalf("specs after unset %v", specs)
	}
	msg := e.put("/v3/admin/qos-specs/"+id+"/delete_keys", `{"keys": ["iops_bytes"]}`).fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "QoS spec "+id+" has no spec with key iops_bytes." {
		t.Fatalf("unset of a missing key: %q", msg)
	}
	for _, body := range []string{`{"keys": ["a", "a"]}`, `{"keys": [""]}`, `{"keys": "a"}`, `{}`, `{"keys": [1]}`} {
		e.put("/v3/admin/qos-specs/"+id+"/delete_keys", body).fault(t, http.StatusBadRequest, "badRequest")
	}
	e.put("/v3/admin/qos-specs/"+id, `{"qos_specs": {"k": 1}}`).fault(t, http.StatusBadRequest, "badRequest")
	e.put("/v3/admin/qos-specs/"+cinder.FixedKeyID, `{"qos_specs": {"k": "v"}}`).fault(t, http.StatusNotFound, "itemNotFound")

	// Associations.
	gold := e.newType(`"name": "gold"`)
	e.get("/v3/admin/qos-specs/"+id+"/associate?vol_type_id="+gold).expect(t, http.StatusAccepted)
	assoc := e.get("/v3/admin/qos-specs/"+id+"/associations").expect(t, http.StatusOK)
	sameKeys(t, "association", assoc.keys(t, "qos_associations", "0"), []string{"association_type", "name", "id"})
	if a := assoc.obj(t, "qos_associations", "0"); a["association_type"] != "volume_type" || a["id"] != gold || a["name"] != "gold" {
		t.Fatalf("associations %s", assoc.raw)
	}
	if got := e.get("/v3/admin/types/"+gold).obj(t, "volume_type")["qos_specs_id"]; got != id {
		t.Fatalf("type's qos_specs_id %v", got)
	}
	other := back["id"].(string)
	msg = e.get("/v3/admin/qos-specs/"+other+"/associate?vol_type_id="+gold).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Invalid volume type: Type "+gold+" is already associated with another qos specs: "+id {
		t.Fatalf("second association: %q", msg)
	}
	msg = e.get("/v3/admin/qos-specs/"+id+"/associate").fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Volume Type id must not be None." {
		t.Fatalf("association without a type: %q", msg)
	}
	e.get("/v3/admin/qos-specs/"+id+"/associate?vol_type_id="+cinder.FixedKeyID).fault(t, http.StatusNotFound, "itemNotFound")
	e.get("/v3/admin/qos-specs/"+cinder.FixedKeyID+"/associations").fault(t, http.StatusNotFound, "itemNotFound")

	msg = e.del("/v3/admin/qos-specs/"+id).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Qos specs still in use." {
		t.Fatalf("delete in use: %q", msg)
	}
	e.get("/v3/admin/qos-specs/"+id+"/disassociate?vol_type_id="+gold).expect(t, http.StatusAccepted)
	if n := len(e.get("/v3/admin/qos-specs/" + id + "/associations").body["qos_associations"].([]any)); n != 0 {
		t.Fatalf("%d associations after disassociate", n)
	}
	e.get("/v3/admin/qos-specs/"+id+"/associate?vol_type_id="+gold).expect(t, http.StatusAccepted)
	e.get("/v3/admin/qos-specs/"+id+"/disassociate_all").expect(t, http.StatusAccepted)
	if got := e.get("/v3/admin/types/"+gold).obj(t, "volume_type")["qos_specs_id"]; got != nil {
		t.Fatalf("type's qos_specs_id after disassociate_all: %v", got)
	}
	e.get("/v3/admin/qos-specs/"+id+"/associate?vol_type_id="+gold).expect(t, http.StatusAccepted)
	e.del("/v3/admin/qos-specs/"+id+"?force=maybe").fault(t, http.StatusBadRequest, "badRequest")
	e.del("/v3/admin/qos-specs/"+id+"?force=true").expect(t, http.StatusAccepted)
	msg = e.get("/v3/admin/qos-specs/"+id).fault(t, http.StatusNotFound, "itemNotFound")
	if msg != "No such QoS spec "+id+"." {
		t.Fatalf("deleted specs: %q", msg)
	}
	if got := e.get("/v3/admin/types/"+gold).obj(t, "volume_type")["qos_specs_id"]; got != nil {
		t.Fatalf("type's qos_specs_id after a forced delete: %v", got)
	}
}

func TestTypeAvailabilityZonesAPI(t *testing.T) {
	e := newEnv(t)
	e.addService("hostA@fake1", cinder.BinaryVolume, 0, false)
	e.newType(`"name": "far", "extra_specs": {"RESKEY:availability_zones": "az2,az3"}`)
	e.newType(`"name": "near", "extra_specs": {"RESKEY:availability_zones": "nova"}`)
	msg := e.post("/v3/admin/volumes", `{"volume": {"size": 1, "volume_type": "far"}}`).fault(t, http.StatusBadRequest, "badRequest")
	if msg != "Volume type is only supported in these availability zones: ['az2', 'az3']" {
		t.Fatalf("create in the type's zones without backends: %q", msg)
	}
	e.createVolume(`{"volume": {"size": 1, "volume_type": "near"}}`)
	for filter, want := range map[string][]string{
		`{"RESKEY:availability_zones":"az3"}`:   {"far"},
		`{'RESKEY:availability_zones': 'nova'}`: {"near"}, // as cinderclient sends it
	} {
		list := e.get("/v3/admin/types?extra_specs="+url.QueryEscape(filter), "OpenStack-API-Version", "volume 3.52").
			expect(t, http.StatusOK).body["volume_types"].([]any)
		var got []string
		for _, vt := range list {
			got = append(got, vt.(map[string]any)["name"].(string))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("types with %s: %v, want %v", filter, got, want)
		}
	}
	e.get("/v3/admin/types?extra_specs=nonsense").fault(t, http.StatusBadRequest, "badRequest")
}
