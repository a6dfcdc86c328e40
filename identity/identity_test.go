package identity

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const testData = `
token_expiration: 1h
domains:
  - name: Default
  - name: other
projects:
  - name: admin
  - name: demo
  - name: elsewhere
    domain: other
users:
  - name: admin
    password: adminpw
    roles: {admin: [admin]}
  - name: demo
    id: u-demo
    password: demopw
    default_project: demo
    roles: {demo: [member]}
  - name: stranger
    password: strangerpw
    domain: other
    roles: {elsewhere: [reader]}
`

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is the handler mounted at /identity of a test server.
type env struct {
	srv   *httptest.Server
	clock *clock
}

func newEnv(t *testing.T, c Config) *env {
	t.Helper()
	d, err := Parse([]byte(testData))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{clock: &clock{now: time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.UTC)}}
	c.Now = e.clock.Now
	h, err := New(d, c)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = serve(t, h)
	return e
}

// serve serves h at /identity on a test server, as the embedded default.
func serve(t *testing.T, h *Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/identity/", http.StripPrefix("/identity", h))
	mux.Handle("/identity", http.StripPrefix("/identity", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// reply is an answer: status, headers and body.
type reply struct {
	code   int
	header http.Header
	body   []byte
}

// do sends a request to path under the server, with headers as name, value
// pairs.
func (e *env) do(t *testing.T, method, path, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }() // read: nothing to lose
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{code: resp.StatusCode, header: resp.Header, body: b}
}

// expect checks the status and decodes the body into v, if not nil.
func (r reply) expect(t *testing.T, code int, v any) reply {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d: %s", r.code, code, r.body)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
	return r
}

// keystoneError checks that r is Keystone's error body for code.
func (r reply) keystoneError(t *testing.T, code int, title string) string {
	t.Helper()
	var v struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Title   string `json:"title"`
		} `json:"error"`
	}
	r.expect(t, code, &v)
	if v.Error.Code != code || v.Error.Title != title || v.Error.Message == "" {
		t.Fatalf("error body %s, want code %d, title %q", r.body, code, title)
	}
	return v.Error.Message
}

type named struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Domain *named `json:"domain"`
}

// tokenBody is Keystone's token body, as a client reads it.
type tokenBody struct {
	Token struct {
		Methods []string `json:"methods"`
		User    struct {
			named
			PasswordExpiresAt *string `json:"password_expires_at"`
		} `json:"user"`
		Project  *named  `json:"project"`
		IsDomain *bool   `json:"is_domain"`
		Roles    []named `json:"roles"`
		Catalog  []struct {
			ID        string `json:"id"`
			Type      string `json:"type"`
			Name      string `json:"name"`
			Endpoints []struct {
				ID        string `json:"id"`
				Interface string `json:"interface"`
				Region    string `json:"region"`
				RegionID  string `json:"region_id"`
				URL       string `json:"url"`
			} `json:"endpoints"`
		} `json:"catalog"`
		ExpiresAt string   `json:"expires_at"`
		IssuedAt  string   `json:"issued_at"`
		AuditIDs  []string `json:"audit_ids"`
	} `json:"token"`
}

// roleNames lists the token's role names, sorted.
func (b tokenBody) roleNames() []string {
	var out []string
	for _, r := range b.Token.Roles {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

// urls maps each catalog type to its endpoints' URLs by interface.
func (b tokenBody) urls() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, s := range b.Token.Catalog {
		out[s.Type] = map[string]string{}
		for _, e := range s.Endpoints {
			out[s.Type][e.Interface] = e.URL
		}
	}
	return out
}

// password is an auth request body for the password method: user is the
// user object less its password and closing brace.
func password(user, pw, scope string) string {
	body := `{"auth": {"identity": {"methods": ["password"], "password": {"user": ` + user + `, "password": "` + pw + `"}}}`
	if scope != "" {
		body += `, "scope": ` + scope
	}
	return body + "}}"
}

// issue authenticates with body, expecting a token.
func (e *env) issue(t *testing.T, body string, headers ...string) (string, tokenBody) {
	t.Helper()
	var b tokenBody
	r := e.do(t, "POST", "/identity/v3/auth/tokens", body, headers...).expect(t, http.StatusCreated, &b)
	id := r.header.Get("X-Subject-Token")
	if len(id) != 43 {
		t.Fatalf("X-Subject-Token %q, want 43 characters", id)
	}
	return id, b
}

const (
	adminByName = `{"name": "admin", "domain": {"name": "Default"}`
	adminScope  = `{"project": {"name": "admin", "domain": {"id": "default"}}}`
)

func TestPasswordByName(t *testing.T) {
	e := newEnv(t, Config{})
	_, b := e.issue(t, password(adminByName, "adminpw", adminScope))
	tok := b.Token
	if !slices.Equal(tok.Methods, []string{"password"}) {
		t.Errorf("methods %v", tok.Methods)
	}
	if u := tok.User; u.Name != "admin" || u.ID == "" || u.Domain == nil || u.Domain.ID != "default" || u.Domain.Name != "Default" {
		t.Errorf("user %+v", u)
	}
	if p := tok.Project; p == nil || p.Name != "admin" || p.ID == "" || p.Domain == nil || p.Domain.ID != "default" {
		t.Errorf("project %+v", p)
	}
	if tok.IsDomain == nil || *tok.IsDomain {
		t.Errorf("is_domain %v", tok.IsDomain)
	}
	// Implied roles: admin ⇒ member ⇒ reader.
	if got := b.roleNames(); !slices.Equal(got, []string{"admin", "member", "reader"}) {
		t.Errorf("roles %v", got)
	}
	if tok.IssuedAt != "2025-01-02T03:04:05.678901Z" || tok.ExpiresAt != "2025-01-02T04:04:05.678901Z" {
		t.Errorf("issued_at %s, expires_at %s", tok.IssuedAt, tok.ExpiresAt)
	}
	if len(tok.AuditIDs) != 1 || len(tok.AuditIDs[0]) != 22 {
		t.Errorf("audit_ids %v", tok.AuditIDs)
	}
}

func TestPasswordByID(t *testing.T) {
	e := newEnv(t, Config{})
	_, b := e.issue(t, password(`{"name": "demo", "domain": {"id": "default"}`, "demopw", `{"project": {"name": "demo", "domain": {"name": "Default"}}}`))
	pid := b.Token.Project.ID
	_, b = e.issue(t, password(`{"id": "u-demo"`, "demopw", `{"project": {"id": "`+pid+`"}}`))
	if b.Token.User.Name != "demo" || b.Token.Project.ID != pid || b.Token.Project.Name != "demo" {
		t.Errorf("token %+v", b.Token)
	}
	if got := b.roleNames(); !slices.Equal(got, []string{"member", "reader"}) {
		t.Errorf("roles %v", got)
	}
}

func TestWrongCredentials(t *testing.T) {
	e := newEnv(t, Config{})
	for name, body := range map[string]string{
		"wrong password":  password(adminByName, "nope", adminScope),
		"unknown user":    password(`{"name": "nobody", "domain": {"name": "Default"}`, "adminpw", ""),
		"wrong domain":    password(`{"name": "admin", "domain": {"name": "other"}`, "adminpw", ""),
		"unknown domain":  password(`{"name": "admin", "domain": {"id": "nowhere"}`, "adminpw", ""),
		"unknown user id": password(`{"id": "nobody"`, "adminpw", ""),
		"no role":         password(`{"id": "u-demo"`, "demopw", adminScope),
		"unknown project": password(`{"id": "u-demo"`, "demopw", `{"project": {"id": "nowhere"}}`),
		"domain scope":    password(`{"id": "u-demo"`, "demopw", `{"domain": {"id": "default"}}`),
		"system scope":    password(`{"id": "u-demo"`, "demopw", `{"system": {"all": true}}`),
		"bad token":       `{"auth": {"identity": {"methods": ["token"], "token": {"id": "nope"}}}}`,
		"unknown method":  `{"auth": {"identity": {"methods": ["totp"], "totp": {}}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do(t, "POST", "/identity/v3/auth/tokens", body)
			msg := r.keystoneError(t, http.StatusUnauthorized, "Unauthorized")
			if strings.HasSuffix(name, "scope") {
				if !strings.Contains(msg, "not supported") {
					t.Errorf("message %q", msg)
				}
			} else if msg != "The request you have made requires authentication." {
				t.Errorf("message %q", msg)
			}
			if r.header.Get("X-Subject-Token") != "" || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("headers %v", r.header)
			}
		})
	}
	for name, body := range map[string]string{
		"not JSON":    `{"auth":`,
		"no methods":  `{"auth": {"identity": {}}}`,
		"no password": `{"auth": {"identity": {"methods": ["password"]}}}`,
		"two scopes":  password(`{"id": "u-demo"`, "demopw", `{"project": {"name": "demo", "domain": {"id": "default"}}, "system": {"all": true}}`),
		"bad scope":   password(`{"id": "u-demo"`, "demopw", `"everything"`),
	} {
		t.Run(name, func(t *testing.T) {
			e.do(t, "POST", "/identity/v3/auth/tokens", body).keystoneError(t, http.StatusBadRequest, "Bad Request")
		})
	}
}

func TestNoDomain(t *testing.T) {
	e := newEnv(t, Config{})
	// Names without a domain are Default's.
	_, b := e.issue(t, password(`{"name": "admin"`, "adminpw", `{"project": {"name": "admin"}}`))
	if b.Token.User.Name != "admin" || b.Token.Project == nil || b.Token.Project.Name != "admin" {
		t.Errorf("token %+v", b.Token)
	}
	e.do(t, "POST", "/identity/v3/auth/tokens", password(`{"name": "stranger"`, "strangerpw", "")).
		keystoneError(t, http.StatusUnauthorized, "Unauthorized")
}

func TestUnscoped(t *testing.T) {
	e := newEnv(t, Config{})
	// No default project: unscoped.
	_, b := e.issue(t, password(adminByName, "adminpw", ""))
	if b.Token.Project != nil || b.Token.Roles != nil || b.Token.Catalog != nil || b.Token.IsDomain != nil {
		t.Errorf("unscoped token %+v", b.Token)
	}
	// A default project scopes a request for no scope, as Keystone...
	_, b = e.issue(t, password(`{"id": "u-demo"`, "demopw", ""))
	if b.Token.Project == nil || b.Token.Project.Name != "demo" || len(b.Token.Catalog) == 0 {
		t.Errorf("token of the default project %+v", b.Token)
	}
	// ... unless the request asks for none.
	_, b = e.issue(t, password(`{"id": "u-demo"`, "demopw", `"unscoped"`))
	if b.Token.Project != nil {
		t.Errorf("explicitly unscoped token %+v", b.Token)
	}
}

func TestRescope(t *testing.T) {
	e := newEnv(t, Config{})
	unscoped, first := e.issue(t, password(adminByName, "adminpw", ""))
	e.clock.advance(10 * time.Minute)
	_, b := e.issue(t, `{"auth": {"identity": {"methods": ["token"], "token": {"id": "`+unscoped+`"}}, "scope": `+adminScope+`}}`)
	tok := b.Token
	if tok.Project == nil || tok.Project.Name != "admin" || tok.User.Name != "admin" {
		t.Fatalf("rescoped token %+v", tok)
	}
	if !slices.Equal(tok.Methods, []string{"password", "token"}) {
		t.Errorf("methods %v", tok.Methods)
	}
	// Keystone: a rescoped token expires with its parent and joins its audit chain.
	if tok.ExpiresAt != first.Token.ExpiresAt || tok.IssuedAt == first.Token.IssuedAt {
		t.Errorf("expires_at %s (parent %s), issued_at %s", tok.ExpiresAt, first.Token.ExpiresAt, tok.IssuedAt)
	}
	if len(tok.AuditIDs) != 2 || tok.AuditIDs[1] != first.Token.AuditIDs[0] {
		t.Errorf("audit_ids %v, parent's %v", tok.AuditIDs, first.Token.AuditIDs)
	}
	// Both methods at once must name the same user.
	both := `{"auth": {"identity": {"methods": ["password", "token"], "token": {"id": "` + unscoped +
		`"}, "password": {"user": {"name": "admin", "password": "adminpw"}}}}}`
	_, b = e.issue(t, both)
	if !slices.Equal(b.Token.Methods, []string{"password", "token"}) {
		t.Errorf("methods %v", b.Token.Methods)
	}
	other := strings.Replace(both, `"name": "admin", "password": "adminpw"`, `"id": "u-demo", "password": "demopw"`, 1)
	e.do(t, "POST", "/identity/v3/auth/tokens", other).keystoneError(t, http.StatusUnauthorized, "Unauthorized")
}

func TestCatalog(t *testing.T) {
	e := newEnv(t, Config{})
	_, b := e.issue(t, password(adminByName, "adminpw", adminScope), "Host", "cinder.example:8776")
	pid := b.Token.Project.ID
	want := map[string]map[string]string{}
	for _, typ := range []string{"block-storage", "volumev3"} {
		want[typ] = map[string]string{}
		for _, i := range []string{"public", "internal", "admin"} {
			want[typ][i] = "http://cinder.example:8776/v3/" + pid
		}
	}
	want["identity"] = map[string]string{
		"public": "http://cinder.example:8776/identity", "internal": "http://cinder.example:8776/identity", "admin": "http://cinder.example:8776/identity",
	}
	// The placeholder openstackclient's volume create asks for.
	want["image"] = map[string]string{
		"public": "http://cinder.example:8776/image", "internal": "http://cinder.example:8776/image", "admin": "http://cinder.example:8776/image",
	}
	got := b.urls()
	for typ, urls := range want {
		for i, u := range urls {
			if got[typ][i] != u {
				t.Errorf("%s %s endpoint %q, want %q", typ, i, got[typ][i], u)
			}
		}
	}
	names := map[string]string{}
	for _, s := range b.Token.Catalog {
		names[s.Type] = s.Name
		for _, ep := range s.Endpoints {
			if ep.Region != "RegionOne" || ep.RegionID != "RegionOne" || ep.ID == "" {
				t.Errorf("%s endpoint %+v", s.Type, ep)
			}
		}
	}
	if names["volumev3"] != "cinderv3" || names["block-storage"] != "cinder" || names["identity"] != "keystone" || names["image"] != "glance" {
		t.Errorf("service names %v", names)
	}
	// ?nocatalog leaves it out.
	var nc tokenBody
	e.do(t, "POST", "/identity/v3/auth/tokens?nocatalog", password(adminByName, "adminpw", adminScope)).expect(t, http.StatusCreated, &nc)
	if nc.Token.Catalog != nil || nc.Token.Project == nil {
		t.Errorf("nocatalog token %+v", nc.Token)
	}
}

func TestCatalogConfigured(t *testing.T) {
	e := newEnv(t, Config{
		URL:            "https://keystone.example/identity/",
		VolumeEndpoint: "https://cinder.example/volume/v3/$(project_id)s",
	})
	_, b := e.issue(t, password(adminByName, "adminpw", adminScope))
	got := b.urls()
	if u := got["volumev3"]["public"]; u != "https://cinder.example/volume/v3/"+b.Token.Project.ID {
		t.Errorf("volumev3 %q", u)
	}
	if u := got["identity"]["internal"]; u != "https://keystone.example/identity" {
		t.Errorf("identity %q", u)
	}
}

func TestVersions(t *testing.T) {
	e := newEnv(t, Config{})
	type version struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Links  []struct {
			Rel  string `json:"rel"`
			Href string `json:"href"`
		} `json:"links"`
		MediaTypes []struct {
			Base string `json:"base"`
			Type string `json:"type"`
		} `json:"media-types"`
	}
	check := func(v version) {
		t.Helper()
		if v.ID != "v3.14" || v.Status != "stable" || len(v.Links) != 1 || v.Links[0].Rel != "self" ||
			v.Links[0].Href != e.srv.URL+"/identity/v3/" || len(v.MediaTypes) != 1 {
			t.Errorf("version %+v", v)
		}
	}
	for _, path := range []string{"/identity", "/identity/"} {
		var root struct {
			Versions struct {
				Values []version `json:"values"`
			} `json:"versions"`
		}
		e.do(t, "GET", path, "").expect(t, http.StatusMultipleChoices, &root)
		if len(root.Versions.Values) != 1 {
			t.Fatalf("GET %s: %+v", path, root)
		}
		check(root.Versions.Values[0])
	}
	for _, path := range []string{"/identity/v3", "/identity/v3/"} {
		var v struct {
			Version version `json:"version"`
		}
		e.do(t, "GET", path, "").expect(t, http.StatusOK, &v)
		check(v.Version)
	}
	e.do(t, "GET", "/identity/v2.0/tenants", "").keystoneError(t, http.StatusNotFound, "Not Found")
}

func TestValidate(t *testing.T) {
	e := newEnv(t, Config{})
	caller, _ := e.issue(t, password(`{"id": "u-demo"`, "demopw", ""))
	subject, issued := e.issue(t, password(adminByName, "adminpw", adminScope))
	var b tokenBody
	r := e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Auth-Token", caller, "X-Subject-Token", subject).expect(t, http.StatusOK, &b)
	if r.header.Get("X-Subject-Token") != subject {
		t.Errorf("X-Subject-Token %q", r.header.Get("X-Subject-Token"))
	}
	if b.Token.Project.Name != "admin" || b.Token.ExpiresAt != issued.Token.ExpiresAt || !slices.Equal(b.roleNames(), issued.roleNames()) || len(b.Token.Catalog) != 4 {
		t.Errorf("validated %+v, issued %+v", b.Token, issued.Token)
	}
	r = e.do(t, "HEAD", "/identity/v3/auth/tokens", "", "X-Auth-Token", caller, "X-Subject-Token", subject).expect(t, http.StatusOK, nil)
	if len(r.body) != 0 {
		t.Errorf("HEAD answered %q", r.body)
	}
	e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Auth-Token", caller, "X-Subject-Token", "nope").keystoneError(t, http.StatusNotFound, "Not Found")
	e.do(t, "HEAD", "/identity/v3/auth/tokens", "", "X-Auth-Token", caller, "X-Subject-Token", "nope").expect(t, http.StatusNotFound, nil)
	e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Auth-Token", "nope", "X-Subject-Token", subject).keystoneError(t, http.StatusUnauthorized, "Unauthorized")
	e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Subject-Token", subject).keystoneError(t, http.StatusUnauthorized, "Unauthorized")
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, Config{})
	caller, _ := e.issue(t, password(adminByName, "adminpw", adminScope))
	subject, _ := e.issue(t, password(`{"id": "u-demo"`, "demopw", ""))
	e.do(t, "DELETE", "/identity/v3/auth/tokens", "", "X-Auth-Token", caller, "X-Subject-Token", subject).expect(t, http.StatusNoContent, nil)
	e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Auth-Token", caller, "X-Subject-Token", subject).keystoneError(t, http.StatusNotFound, "Not Found")
	e.do(t, "DELETE", "/identity/v3/auth/tokens", "", "X-Auth-Token", caller, "X-Subject-Token", subject).keystoneError(t, http.StatusNotFound, "Not Found")
	// A revoked token authenticates nothing.
	e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Auth-Token", subject, "X-Subject-Token", caller).keystoneError(t, http.StatusUnauthorized, "Unauthorized")
	// A token may revoke itself.
	e.do(t, "DELETE", "/identity/v3/auth/tokens", "", "X-Auth-Token", caller, "X-Subject-Token", caller).expect(t, http.StatusNoContent, nil)
	e.do(t, "GET", "/identity/v3/auth/projects", "", "X-Auth-Token", caller).keystoneError(t, http.StatusUnauthorized, "Unauthorized")
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, Config{})
	early, _ := e.issue(t, password(adminByName, "adminpw", adminScope))
	e.clock.advance(30 * time.Minute)
	late, _ := e.issue(t, password(adminByName, "adminpw", adminScope))
	e.clock.advance(30*time.Minute - time.Nanosecond)
	e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Auth-Token", late, "X-Subject-Token", early).expect(t, http.StatusOK, nil)
	e.clock.advance(time.Nanosecond)
	e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Auth-Token", late, "X-Subject-Token", early).keystoneError(t, http.StatusNotFound, "Not Found")
	e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Auth-Token", early, "X-Subject-Token", late).keystoneError(t, http.StatusUnauthorized, "Unauthorized")
	e.do(t, "POST", "/identity/v3/auth/tokens", `{"auth": {"identity": {"methods": ["token"], "token": {"id": "`+early+`"}}}}`).
		keystoneError(t, http.StatusUnauthorized, "Unauthorized")
}

func TestMaxTokens(t *testing.T) {
	e := newEnv(t, Config{MaxTokens: 2})
	first, _ := e.issue(t, password(adminByName, "adminpw", adminScope))
	second, _ := e.issue(t, password(adminByName, "adminpw", adminScope))
	third, _ := e.issue(t, password(adminByName, "adminpw", adminScope))
	e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Auth-Token", third, "X-Subject-Token", first).expect(t, http.StatusNotFound, nil)
	e.do(t, "GET", "/identity/v3/auth/tokens", "", "X-Auth-Token", third, "X-Subject-Token", second).expect(t, http.StatusOK, nil)
}

// get reads a resource as the holder of tok.
func (e *env) get(t *testing.T, tok, path string, code int, v any) {
	t.Helper()
	e.do(t, "GET", "/identity/v3/"+path, "", "X-Auth-Token", tok).expect(t, code, v)
}

type listed struct {
	Projects []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		DomainID string `json:"domain_id"`
	} `json:"projects"`
	Users []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"users"`
	Roles   []named `json:"roles"`
	Domains []named `json:"domains"`
	Links   struct {
		Self string `json:"self"`
	} `json:"links"`
}

func TestResources(t *testing.T) {
	e := newEnv(t, Config{})
	admin, ab := e.issue(t, password(adminByName, "adminpw", adminScope))
	demo, db := e.issue(t, password(`{"id": "u-demo"`, "demopw", ""))
	adminProject, demoProject := ab.Token.Project.ID, db.Token.Project.ID

	var l listed
	e.get(t, admin, "projects?name=demo", http.StatusOK, &l)
	if len(l.Projects) != 1 || l.Projects[0].ID != demoProject || l.Projects[0].DomainID != "default" {
		t.Errorf("projects named demo: %+v", l.Projects)
	}
	if l.Links.Self != e.srv.URL+"/identity/v3/projects" {
		t.Errorf("links %+v", l.Links)
	}
	l = listed{}
	e.get(t, admin, "users?name=demo&domain_id=default", http.StatusOK, &l)
	if len(l.Users) != 1 || l.Users[0].ID != "u-demo" {
		t.Errorf("users named demo: %+v", l.Users)
	}
	l = listed{}
	e.get(t, demo, "roles", http.StatusOK, &l)
	if len(l.Roles) != 3 {
		t.Errorf("roles %+v", l.Roles)
	}
	l = listed{}
	e.get(t, demo, "domains?name=Default", http.StatusOK, &l)
	if len(l.Domains) != 1 || l.Domains[0].ID != "default" {
		t.Errorf("domains named Default: %+v", l.Domains)
	}
	l = listed{}
	e.get(t, demo, "auth/projects", http.StatusOK, &l)
	if len(l.Projects) != 1 || l.Projects[0].Name != "demo" {
		t.Errorf("demo's projects %+v", l.Projects)
	}

	var one struct {
		Project *named `json:"project"`
		User    *named `json:"user"`
		Role    *named `json:"role"`
		Domain  *named `json:"domain"`
	}
	e.get(t, demo, "projects/"+demoProject, http.StatusOK, &one)
	e.get(t, demo, "users/u-demo", http.StatusOK, &one)
	e.get(t, demo, "domains/default", http.StatusOK, &one)
	e.get(t, demo, "roles/"+ab.Token.Roles[0].ID, http.StatusOK, &one)
	if one.Project.Name != "demo" || one.User.Name != "demo" || one.Domain.Name != "Default" || one.Role.Name == "" {
		t.Errorf("shown %+v %+v %+v %+v", one.Project, one.User, one.Domain, one.Role)
	}
	e.get(t, admin, "users/"+ab.Token.User.ID, http.StatusOK, nil)
	e.get(t, admin, "projects/nope", http.StatusNotFound, nil)
	e.get(t, admin, "users/nope", http.StatusNotFound, nil)
	e.get(t, admin, "roles/nope", http.StatusNotFound, nil)
	e.get(t, admin, "domains/nope", http.StatusNotFound, nil)
	// Policy: a member reads its own user and project only.
	e.get(t, demo, "projects/"+adminProject, http.StatusForbidden, nil)
	e.get(t, demo, "users/"+ab.Token.User.ID, http.StatusForbidden, nil)
	e.get(t, demo, "projects", http.StatusForbidden, nil)
	e.get(t, demo, "users", http.StatusForbidden, nil)
	e.get(t, demo, "role_assignments", http.StatusForbidden, nil)
	e.get(t, "", "roles", http.StatusUnauthorized, nil)

	var ra struct {
		RoleAssignments []struct {
			Role  named `json:"role"`
			User  named `json:"user"`
			Scope struct {
				Project named `json:"project"`
			} `json:"scope"`
			Links struct {
				Assignment string `json:"assignment"`
			} `json:"links"`
		} `json:"role_assignments"`
	}
	e.get(t, admin, "role_assignments?user.id=u-demo&effective&include_names", http.StatusOK, &ra)
	var got []string
	for _, a := range ra.RoleAssignments {
		got = append(got, a.User.Name+"/"+a.Scope.Project.Name+"/"+a.Role.Name)
		if a.User.ID != "u-demo" || a.Scope.Project.ID != demoProject || !strings.HasPrefix(a.Links.Assignment, e.srv.URL+"/identity/v3/projects/") {
			t.Errorf("assignment %+v", a)
		}
	}
	if !slices.Equal(got, []string{"demo/demo/member", "demo/demo/reader"}) {
		t.Errorf("demo's effective assignments %v", got)
	}
	ra.RoleAssignments = nil
	e.get(t, admin, "role_assignments?scope.project.id="+adminProject, http.StatusOK, &ra)
	if len(ra.RoleAssignments) != 1 || ra.RoleAssignments[0].Role.Name != "" || ra.RoleAssignments[0].Role.ID != ab.Token.Roles[0].ID {
		t.Errorf("assignments on admin %+v", ra.RoleAssignments)
	}
}

func TestCreateDeleteProject(t *testing.T) {
	e := newEnv(t, Config{})
	admin, _ := e.issue(t, password(adminByName, "adminpw", adminScope))
	demo, db := e.issue(t, password(`{"id": "u-demo"`, "demopw", ""))
	var created struct {
		Project struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			DomainID string `json:"domain_id"`
		} `json:"project"`
	}
	body := `{"project": {"name": "quota_class_tenant", "description": "d", "domain_id": "default"}}`
	e.do(t, "POST", "/identity/v3/projects", body, "X-Auth-Token", admin).expect(t, http.StatusCreated, &created)
	if p := created.Project; len(p.ID) != 32 || p.Name != "quota_class_tenant" || p.DomainID != "default" {
		t.Errorf("created %+v", p)
	}
	e.get(t, admin, "projects/"+created.Project.ID, http.StatusOK, nil)
	e.do(t, "POST", "/identity/v3/projects", body, "X-Auth-Token", admin).keystoneError(t, http.StatusConflict, "Conflict")
	e.do(t, "POST", "/identity/v3/projects", body, "X-Auth-Token", demo).keystoneError(t, http.StatusForbidden, "Forbidden")
	e.do(t, "POST", "/identity/v3/projects", `{"project": {}}`, "X-Auth-Token", admin).keystoneError(t, http.StatusBadRequest, "Bad Request")
	e.do(t, "POST", "/identity/v3/projects", `{"project": {"name": "x", "domain_id": "nope"}}`, "X-Auth-Token", admin).keystoneError(t, http.StatusBadRequest, "Bad Request")

	e.do(t, "DELETE", "/identity/v3/projects/"+created.Project.ID, "", "X-Auth-Token", admin).expect(t, http.StatusNoContent, nil)
	e.get(t, admin, "projects/"+created.Project.ID, http.StatusNotFound, nil)
	// Deleting a project ends its tokens and assignments.
	e.do(t, "DELETE", "/identity/v3/projects/"+db.Token.Project.ID, "", "X-Auth-Token", demo).keystoneError(t, http.StatusForbidden, "Forbidden")
	e.do(t, "DELETE", "/identity/v3/projects/"+db.Token.Project.ID, "", "X-Auth-Token", admin).expect(t, http.StatusNoContent, nil)
	e.get(t, demo, "roles", http.StatusUnauthorized, nil)
	_, b := e.issue(t, password(`{"id": "u-demo"`, "demopw", ""))
	if b.Token.Project != nil {
		t.Errorf("token of a deleted default project: %+v", b.Token.Project)
	}
}
