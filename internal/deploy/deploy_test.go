package deploy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/cinder-go/cinder/conf"
)

func TestConfWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cinder.conf")
	err := Conf{
		StatePath:       dir,
		Transport:       "rabbit://guest:guest@127.0.0.1:5672/",
		Exchange:        "cinder-x",
		Port:            18776,
		Default:         "report_interval = 7\nquota_gigabytes = -1", // no final newline
		Database:        "postgresql://cinder@127.0.0.1/cinder",
		DatabaseOptions: "max_pool_size = 2\n",
		Backends: []Backend{
			{Name: "zeta", Options: "volume_driver = thick\nvolume_clear = none\n"},
			{Name: "alpha", Options: "backend_host = hostB\ntotal_capacity_gb = 500"},
		},
	}.Write(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"host", c.Host, "hostA"},
		{"state_path", c.StatePath, dir},
		{"transport_url", c.TransportURL, "rabbit://guest:guest@127.0.0.1:5672/"},
		{"control_exchange", c.ControlExchange, "cinder-x"},
		{"osapi_volume_listen", c.APIListen, "127.0.0.1"},
		{"auth_strategy", c.AuthStrategy, "noauth"},
		{"connection", c.DatabaseConnection, "postgresql://cinder@127.0.0.1/cinder"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
	if c.APIPort != 18776 || c.ReportInterval != 7*time.Second || c.QuotaGigabytes != -1 || c.DatabaseMaxPoolSize != 2 {
		t.Errorf("port %d, report_interval %s, quota_gigabytes %d, max_pool_size %d; want 18776, 7s, -1, 2",
			c.APIPort, c.ReportInterval, c.QuotaGigabytes, c.DatabaseMaxPoolSize)
	}
	if len(c.Backends) != 2 {
		t.Fatalf("backends %v, want zeta and alpha", c.EnabledBackends)
	}
	zeta, alpha := c.Backends[0], c.Backends[1]
	if zeta.Name != "zeta" || zeta.VolumeBackendName != "zeta" || zeta.VolumeDriver != "thick" || zeta.VolumeClear != "none" {
		t.Errorf("first backend %+v, want zeta, thick, volume_clear none", *zeta)
	}
	if alpha.Name != "alpha" || alpha.VolumeBackendName != "alpha" || alpha.BackendHost != "hostB" || alpha.TotalCapacityGB != 500 {
		t.Errorf("second backend %+v, want alpha on hostB with 500 GB", *alpha)
	}
}

func TestConfWithoutDatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cinder.conf")
	// DatabaseOptions without Database are not written: max_pool_size 0 would not load.
	if err := (Conf{StatePath: dir, Transport: "fake://", Exchange: "x", DatabaseOptions: "max_pool_size = 0\n"}).Write(path); err != nil {
		t.Fatal(err)
	}
	c, err := conf.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sqlite:///" + dir + "/cinder.sqlite"; c.DatabaseConnection != want {
		t.Errorf("connection = %q, want the default %q", c.DatabaseConnection, want)
	}
	if len(c.Backends) != 0 {
		t.Errorf("backends %v, want none", c.EnabledBackends)
	}
}

func TestRequest(t *testing.T) {
	type sent struct {
		method, path, token, version, accept, contentType, body string
	}
	var got sent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = sent{r.Method, r.URL.Path, r.Header.Get("X-Auth-Token"), r.Header.Get("OpenStack-API-Version"),
			r.Header.Get("Accept"), r.Header.Get("Content-Type"), string(b)}
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"answer":"`+r.Method+`"}`) // a failed write fails the client's read
	}))
	defer srv.Close()

	for _, tc := range []struct {
		method string
		body   any
		want   sent
	}{
		{"POST", map[string]any{"volume": map[string]any{"size": 1}},
			sent{"POST", "/v3/p/volumes", "u:p", "volume 3.64", "application/json", "application/json", `{"volume":{"size":1}}`}},
		{"GET", nil, sent{"GET", "/v3/p/volumes", "u:p", "volume 3.64", "application/json", "", ""}},
	} {
		status, raw, err := Request(context.Background(), srv.Client(), "u:p", tc.method, srv.URL+"/v3/p/volumes", tc.body)
		if err != nil {
			t.Fatalf("%s: %v", tc.method, err)
		}
		if got != tc.want {
			t.Errorf("%s sent %+v, want %+v", tc.method, got, tc.want)
		}
		if want := `{"answer":"` + tc.method + `"}`; status != http.StatusAccepted || string(raw) != want {
			t.Errorf("%s: got %d %s, want 202 %s", tc.method, status, raw, want)
		}
	}
}
