package tests

import (
	"bytes"
	"encoding/json"
	"github.com/cinder-go/cinder/internal/testfile"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Every bad request gets a Cinder fault with a 4xx code, and the service
// keeps serving.
func TestBadInputGetsCinderFaults(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, setup{})
	d.startAll()
	unknown := "4d1a6f1e-0000-4000-8000-000000000000"
	cases := []struct {
		name, method, path, version, body, ctype string
		code                                     int
		kind                                     string
	}{
		{"malformed JSON", "POST", "/admin/volumes", "", `{"volume": {"size": 1,`, "application/json", 400, "badRequest"},
		{"missing body", "POST", "/admin/volumes", "", "", "application/json", 400, "badRequest"},
		{"no volume key", "POST", "/admin/volumes", "", `{"size": 1}`, "application/json", 400, "badRequest"},
		{"size 0", "POST", "/admin/volumes", "", `{"volume": {"size": 0}}`, "application/json", 400, "badRequest"},
		{"size -1", "POST", "/admin/volumes", "", `{"volume": {"size": -1}}`, "application/json", 400, "badRequest"},
		{"size abc", "POST", "/admin/volumes", "", `{"volume": {"size": "abc"}}`, "application/json", 400, "badRequest"},
		{"size 10^9", "POST", "/admin/volumes", "", `{"volume": {"size": 1000000000}}`, "application/json", 413, "overLimit"},
		{"unknown volume", "GET", "/admin/volumes/" + unknown, "", "", "", 404, "itemNotFound"},
		{"not a uuid", "GET", "/admin/volumes/not-a-uuid", "", "", "", 404, "itemNotFound"},
		{"unknown action", "POST", "/admin/volumes/" + unknown + "/action", "", `{"os-frobnicate": {}}`, "application/json", 400, "badRequest"},
		{"unknown microversion", "GET", "/admin/volumes", "volume 3.99", "", "", 406, "computeFault"},
		{"bad microversion", "GET", "/admin/volumes", "volume x.y", "", "", 400, "badRequest"},
		{"wrong content type", "POST", "/admin/volumes", "", `{"volume": {"size": 1}}`, "text/plain", 415, "badMediaType"},
		{"quota set bad key", "PUT", "/admin/os-quota-sets/admin", "", `{"quota_set": {"volumez": 1}}`, "application/json", 400, "badRequest"},
		{"quota set below -1", "PUT", "/admin/os-quota-sets/admin", "", `{"quota_set": {"volumes": -2}}`, "application/json", 400, "badRequest"},
		{"quota set usage not a boolean", "GET", "/admin/os-quota-sets/admin?usage=perhaps", "", "", "", 400, "badRequest"},
		{"quota class not digits", "PUT", "/admin/os-quota-class-sets/default", "", `{"quota_class_set": {"volumes": "x"}}`, "application/json", 400, "badRequest"},
		{"quota class not an object", "PUT", "/admin/os-quota-class-sets/default", "", `{"quota_class_set": []}`, "application/json", 400, "badRequest"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, d.endpoint+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Auth-Token", "admin:admin")
			if c.version != "" {
				req.Header.Set("OpenStack-API-Version", c.version)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }() // read-only: nothing to lose
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.code, raw)
			}
			if resp.Header.Get("X-Openstack-Request-Id") == "" {
				t.Error("no X-Openstack-Request-Id")
			}
			var fault map[string]struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(raw, &fault); err != nil {
				t.Fatalf("fault is not JSON: %s", raw)
			}
			f, ok := fault[c.kind]
			if !ok || f.Code != c.code || f.Message == "" {
				t.Fatalf("fault %s, want kind %s code %d with a message", raw, c.kind, c.code)
			}
		})
	}
	// Still serving, and nothing was created by the refused requests.
	vols := d.do("GET", "/admin/volumes", nil, 200)["volumes"].([]any)
	if len(vols) != 0 {
		t.Fatalf("refused creates left volumes: %v", vols)
	}
	id := d.createVolume(1, nil)
	d.waitStatus(id, "available")
}

// The thick backend hands released storage to the next volume as it is:
// with volume_clear = none the old bytes show through; with zero they don't.
func TestThickHazardOverREST(t *testing.T) {
	t.Parallel()
	for _, clear := range []string{"none", "zero"} {
		t.Run("volume_clear="+clear, func(t *testing.T) {
			d := newDeployment(t, setup{backends: map[string]string{
				"thick": "volume_driver = thick\nvolume_clear = " + clear + "\n",
			}})
			d.startAll()
			id := d.createVolume(1, nil)
			d.waitStatus(id, "available")
			pattern := bytes.Repeat([]byte{0xAB}, 1<<20)
			testfile.WriteAt(t, devicePath(t, d, id), 0, pattern)
			d.do("DELETE", "/admin/volumes/"+id, nil, 202)
			d.waitStatus(id, "deleted")

			id = d.createVolume(1, nil)
			d.waitStatus(id, "available")
			got := testfile.ReadAt(t, devicePath(t, d, id), 0, len(pattern))
			stale := bytes.Equal(got, pattern)
			zero := bytes.Count(got, []byte{0}) == len(got)
			switch {
			case clear == "none" && !stale:
				t.Fatal("volume_clear = none: the new thick volume does not show the old bytes")
			case clear == "zero" && !zero:
				t.Fatal("volume_clear = zero: the new thick volume shows non-zero bytes")
			}
		})
	}
}
