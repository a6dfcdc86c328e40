package keystone

// These tests run the middleware against fakeKeystone, an httptest stand-in
// for Keystone's v3 token API that answers as Keystone does; the middleware
// is tested against a real Keystone separately, outside this package.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cinder-go/cinder/conf"
)

// clock is the tests' injectable time: it moves only when told to.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeKeystone answers POST and GET /v3/auth/tokens as Keystone does.
type fakeKeystone struct {
	t     *testing.T
	srv   *httptest.Server
	clock *clock

	mu     sync.Mutex
	tokens map[string]map[string]any // token → its body's "token"
	svc    string                    // the service token it accepts
	n      int                       // service tokens issued
	status int                       // if not 0, what every validation answers
	hang   chan struct{}             // if not nil, validations wait for it

	logins, validations atomic.Int32
	allowExpired        atomic.Bool // the last validation's allow_expired
}

func newFakeKeystone(t *testing.T, c *clock) *fakeKeystone {
	f := &fakeKeystone{t: t, clock: c, tokens: map[string]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeKeystone) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/identity/v3/auth/tokens" {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
		f.login(w, r)
	case http.MethodGet:
		f.validate(w, r)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (f *fakeKeystone) login(w http.ResponseWriter, r *http.Request) {
	f.logins.Add(1)
	var b struct {
		Auth struct {
			Identity struct {
				Methods  []string
				Password struct {
					User struct {
						Name, Password string
						Domain         struct{ Name string }
					}
				}
			}
			Scope struct {
				Project struct {
					Name   string
					Domain struct{ Name string }
				}
			}
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, p := b.Auth.Identity, b.Auth.Scope.Project
	if fmt.Sprint(id.Methods) != "[password]" || id.Password.User.Name != "cinder" ||
		id.Password.User.Password != "secret" || id.Password.User.Domain.Name != "Default" ||
		p.Name != "service" || p.Domain.Name != "Default" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	f.n++
	f.svc = fmt.Sprintf("svc-%d", f.n)
	w.Header().Set("X-Subject-Token", f.svc)
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
	writeJSON(w, map[string]any{"token": map[string]any{"expires_at": stamp(f.clock.now().Add(time.Hour))}})
}

func (f *fakeKeystone) validate(w http.ResponseWriter, r *http.Request) {
	f.validations.Add(1)
	if !r.URL.Query().Has("nocatalog") {
		f.t.Errorf("validation without ?nocatalog: %s", r.URL)
	}
	f.mu.Lock()
	hang, status, svc := f.hang, f.status, f.svc
	body, ok := f.tokens[r.Header.Get("X-Subject-Token")]
	f.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	}
	allowExpired := r.URL.Query().Get("allow_expired") == "1"
	f.allowExpired.Store(allowExpired)
	switch {
	case status != 0:
		w.WriteHeader(status)
	case r.Header.Get("X-Auth-Token") != svc:
		w.WriteHeader(http.StatusUnauthorized)
	case !ok || !allowExpired && body["expires_at"].(string) < stamp(f.clock.now()):
		w.WriteHeader(http.StatusNotFound)
	default:
		writeJSON(w, map[string]any{"token": body})
	}
}

// issue makes tok valid for user, with roles, until expires.
func (f *fakeKeystone) issue(tok, user string, expires time.Time, roles ...string) map[string]any {
	rs := []any{}
	for _, r := range roles {
		rs = append(rs, map[string]any{"id": r + "-id", "name": r})
	}
	body := map[string]any{
		"expires_at": stamp(expires),
		"user":       map[string]any{"id": user + "-id", "name": user, "domain": map[string]any{"id": "default", "name": "Default"}},
		"project":    map[string]any{"id": "p1", "name": "demo", "domain": map[string]any{"id": "default", "name": "Default"}},
		"roles":      rs,
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[tok] = body
	return body
}

func (f *fakeKeystone) revoke(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tokens, tok)
}

// set changes the fake's state under its lock.
func (f *fakeKeystone) set(fn func(f *fakeKeystone)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// stamp is Keystone's format of a time.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		panic(err)
	}
}

// env is a middleware in front of a recording handler, and its Keystone.
type env struct {
	ks    *fakeKeystone
	clock *clock
	m     *Middleware
	calls atomic.Int32
	mu    sync.Mutex
	seen  http.Header // the headers the next handler last saw
}

func newEnv(t *testing.T, cfg conf.Keystone) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}}
	e.ks = newFakeKeystone(t, e.clock)
	if cfg.AuthURL == "" {
		cfg.AuthURL = e.ks.srv.URL + "/identity"
	}
	cfg.WWWAuthenticateURI = "http://keystone.example/identity"
	cfg.Username, cfg.Password, cfg.UserDomainName = "cinder", "secret", "Default"
	cfg.ProjectName, cfg.ProjectDomainName = "service", "Default"
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		e.mu.Lock()
		e.seen = r.Header.Clone()
		e.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	m, err := New(cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	m.now = e.clock.now
	e.m = m
	return e
}

// do serves a GET with the given header pairs.
func (e *env) do(headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/v3/p1/volumes", nil)
	for i := 0; i < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.m.ServeHTTP(w, r)
	return w
}

func (e *env) lastHeaders() http.Header {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seen
}

// wantStatus checks an answer's status and, for the middleware's own
// errors, its headers and body.
func wantStatus(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	var message string
	switch status {
	case http.StatusUnauthorized:
		message = UnauthorizedMessage
		if got, want := w.Header().Get("WWW-Authenticate"), `Keystone uri="http://keystone.example/identity"`; got != want {
			t.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
	case http.StatusServiceUnavailable:
		message = UnavailableMessage
	default:
		return
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var b map[string]map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	got := b["error"]
	if got["code"] != float64(status) || got["title"] != http.StatusText(status) || got["message"] != message {
		t.Errorf("body %s", w.Body)
	}
}

func TestValidToken(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	e.ks.issue("tok", "alice", e.clock.now().Add(time.Hour), "member", "reader")
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusNoContent)
	want := map[string]string{
		"X-Identity-Status":      "Confirmed",
		"X-User-Id":              "alice-id",
		"X-User-Name":            "alice",
		"X-User-Domain-Id":       "default",
		"X-User-Domain-Name":     "Default",
		"X-Project-Id":           "p1",
		"X-Project-Name":         "demo",
		"X-Project-Domain-Id":    "default",
		"X-Project-Domain-Name":  "Default",
		"X-Roles":                "member,reader",
		"X-Is-Admin-Project":     "True",
		"X-Tenant-Id":            "p1",
		"X-Tenant-Name":          "demo",
		"X-Tenant":               "demo",
		"X-User":                 "alice",
		"X-Role":                 "member,reader",
		"X-Auth-Token":           "tok",
		"X-Domain-Id":            "",
		"X-Service-Catalog":      "",
		"OpenStack-System-Scope": "",
	}
	h := e.lastHeaders()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

func TestTokenBodyFields(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	body := e.ks.issue("tok", "alice", e.clock.now().Add(time.Hour), "admin")
	e.ks.set(func(*fakeKeystone) {
		body["is_admin_project"] = false
		delete(body, "project")
		body["domain"] = map[string]any{"id": "d1", "name": "dom"}
		body["system"] = map[string]any{"all": true}
	})
	// X-Storage-Token, padded: keystonemiddleware strips the spaces.
	wantStatus(t, e.do("X-Storage-Token", " tok "), http.StatusNoContent)
	h := e.lastHeaders()
	for k, v := range map[string]string{
		"X-Is-Admin-Project":     "False",
		"X-Domain-Id":            "d1",
		"X-Domain-Name":          "dom",
		"OpenStack-System-Scope": "all",
		"X-Project-Id":           "",
		"X-Tenant-Id":            "",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

func TestStripsClientHeaders(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	e.ks.issue("tok", "alice", e.clock.now().Add(time.Hour), "member")
	forged := []string{}
	for _, h := range identityHeaders {
		forged = append(forged, h, "forged")
	}

	wantStatus(t, e.do(append(forged, "X-Auth-Token", "tok")...), http.StatusNoContent)
	for k, vs := range e.lastHeaders() {
		for _, v := range vs {
			if v == "forged" {
				t.Errorf("%s: the client's value reached the API", k)
			}
		}
	}

	// A refused request reaches the fault writer stripped too.
	var failed http.Header
	e.m.Fail = func(w http.ResponseWriter, r *http.Request, status int, message string) {
		failed = r.Header
		WriteFault(w, r, status, message)
	}
	for _, tok := range []string{"", "bad"} {
		wantStatus(t, e.do(append(forged, "X-Auth-Token", tok)...), http.StatusUnauthorized)
		for _, h := range identityHeaders {
			if v, ok := failed[http.CanonicalHeaderKey(h)]; ok {
				t.Errorf("token %q: %s: %q left", tok, h, v)
			}
		}
	}
}

func TestMissingToken(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	wantStatus(t, e.do(), http.StatusUnauthorized)
	wantStatus(t, e.do("X-Auth-Token", "  "), http.StatusUnauthorized)
	if n := e.ks.logins.Load() + e.ks.validations.Load(); n != 0 {
		t.Errorf("%d calls to Keystone", n)
	}
	if n := e.calls.Load(); n != 0 {
		t.Errorf("next handler called %d times", n)
	}
}

func TestInvalidToken(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	wantStatus(t, e.do("X-Auth-Token", "bad"), http.StatusUnauthorized)
	// Not cached: Keystone is asked again.
	wantStatus(t, e.do("X-Auth-Token", "bad"), http.StatusUnauthorized)
	if n := e.ks.validations.Load(); n != 2 {
		t.Errorf("%d validations, want 2", n)
	}
	if n := e.calls.Load(); n != 0 {
		t.Errorf("next handler called %d times", n)
	}
}

func TestExpiredToken(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	// Keystone itself answers 404 for an expired token.
	e.ks.issue("old", "alice", e.clock.now().Add(-time.Minute), "member")
	wantStatus(t, e.do("X-Auth-Token", "old"), http.StatusUnauthorized)

	// A cached token is refused once its expires_at passes.
	e.ks.issue("tok", "alice", e.clock.now().Add(time.Minute), "member")
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusNoContent)
	e.clock.add(61 * time.Second)
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusUnauthorized)
}

func TestRevokedTokenCached(t *testing.T) {
	e := newEnv(t, conf.Keystone{TokenCacheTime: 300 * time.Second})
	e.ks.issue("tok", "alice", e.clock.now().Add(time.Hour), "member")
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusNoContent)
	e.ks.revoke("tok")
	e.clock.add(299 * time.Second)
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusNoContent)
	if n := e.ks.validations.Load(); n != 1 {
		t.Errorf("%d validations before the cache expired, want 1", n)
	}
	e.clock.add(time.Second)
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusUnauthorized)
}

func TestNoCache(t *testing.T) {
	e := newEnv(t, conf.Keystone{TokenCacheTime: -1})
	e.ks.issue("tok", "alice", e.clock.now().Add(time.Hour), "member")
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusNoContent)
	e.ks.revoke("tok")
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusUnauthorized)
}

func TestCacheHit(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	e.ks.issue("tok", "alice", e.clock.now().Add(time.Hour), "member")
	for range 3 {
		wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusNoContent)
	}
	if v, l := e.ks.validations.Load(), e.ks.logins.Load(); v != 1 || l != 1 {
		t.Errorf("%d validations and %d logins, want 1 and 1", v, l)
	}
	if n := e.calls.Load(); n != 3 {
		t.Errorf("next handler called %d times, want 3", n)
	}
}

func TestKeystoneDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	e := newEnv(t, conf.Keystone{AuthURL: url, Timeout: time.Second})
	start := time.Now()
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusServiceUnavailable)
	if d := time.Since(start); d > time.Second {
		t.Errorf("answered after %v", d)
	}
}

func TestKeystoneHangs(t *testing.T) {
	e := newEnv(t, conf.Keystone{Timeout: 100 * time.Millisecond})
	hang := make(chan struct{})
	defer close(hang)
	e.ks.set(func(f *fakeKeystone) { f.hang = hang })
	start := time.Now()
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusServiceUnavailable)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %v", d)
	}
}

func TestKeystoneErrors(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusForbidden} {
		e := newEnv(t, conf.Keystone{})
		e.ks.set(func(f *fakeKeystone) { f.status = status })
		wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusServiceUnavailable)
	}
	// A service user Keystone refuses cannot validate anything.
	e := newEnv(t, conf.Keystone{})
	e.m.ks.cfg.Password = "wrong"
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusServiceUnavailable)
}

func TestServiceTokenReauth(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	e.ks.issue("a", "alice", e.clock.now().Add(3*time.Hour), "member")
	e.ks.issue("b", "bob", e.clock.now().Add(3*time.Hour), "member")
	wantStatus(t, e.do("X-Auth-Token", "a"), http.StatusNoContent)

	// Keystone forgets the service token: 401, a new login, a retry.
	e.ks.set(func(f *fakeKeystone) { f.svc = "" })
	wantStatus(t, e.do("X-Auth-Token", "b"), http.StatusNoContent)
	if l, v := e.ks.logins.Load(), e.ks.validations.Load(); l != 2 || v != 3 {
		t.Errorf("%d logins and %d validations, want 2 and 3", l, v)
	}

	// A service token near its expiry is renewed before use.
	e.clock.add(59 * time.Minute)
	e.ks.issue("c", "carol", e.clock.now().Add(time.Hour), "member")
	wantStatus(t, e.do("X-Auth-Token", "c"), http.StatusNoContent)
	if l, v := e.ks.logins.Load(), e.ks.validations.Load(); l != 3 || v != 4 {
		t.Errorf("%d logins and %d validations, want 3 and 4", l, v)
	}

	// Still 401 after a new login: Keystone is broken, not the user's token.
	e.ks.set(func(f *fakeKeystone) { f.status = http.StatusUnauthorized })
	e.ks.issue("d", "dave", e.clock.now().Add(time.Hour), "member")
	wantStatus(t, e.do("X-Auth-Token", "d"), http.StatusServiceUnavailable)
}

func TestServiceTokenHeader(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	e.ks.issue("old", "alice", e.clock.now().Add(-time.Minute), "member")
	e.ks.issue("nova", "nova", e.clock.now().Add(time.Hour), "service")
	e.ks.issue("other", "bob", e.clock.now().Add(time.Hour), "member")

	// A service token with a service role lets an expired token through.
	wantStatus(t, e.do("X-Auth-Token", "old", "X-Service-Token", "nova"), http.StatusNoContent)
	if !e.ks.allowExpired.Load() {
		t.Error("validation without allow_expired=1")
	}
	h := e.lastHeaders()
	for k, v := range map[string]string{
		"X-User-Name":               "alice",
		"X-Roles":                   "member",
		"X-Service-Identity-Status": "Confirmed",
		"X-Service-User-Name":       "nova",
		"X-Service-Project-Id":      "p1",
		"X-Service-Roles":           "service",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}

	// Without the role, or with an invalid service token, it is refused.
	wantStatus(t, e.do("X-Auth-Token", "old", "X-Service-Token", "other"), http.StatusUnauthorized)
	wantStatus(t, e.do("X-Auth-Token", "other", "X-Service-Token", "bad"), http.StatusUnauthorized)
}

func TestConcurrentRequests(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	e.ks.issue("tok", "alice", e.clock.now().Add(time.Hour), "member")
	var wg sync.WaitGroup
	codes := make([]int, 50)
	for i := range codes {
		wg.Go(func() { codes[i] = e.do("X-Auth-Token", "tok").Code })
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusNoContent {
			t.Errorf("request %d: status %d", i, c)
		}
	}
	if v, l := e.ks.validations.Load(), e.ks.logins.Load(); v != 1 || l != 1 {
		t.Errorf("%d validations and %d logins, want 1 and 1", v, l)
	}
}

func TestNext401(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	e.ks.issue("tok", "alice", e.clock.now().Add(time.Hour), "member")
	e.m.next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteFault(w, r, http.StatusUnauthorized, UnauthorizedMessage)
	})
	wantStatus(t, e.do("X-Auth-Token", "tok"), http.StatusUnauthorized)
}

func TestFailHook(t *testing.T) {
	e := newEnv(t, conf.Keystone{})
	e.m.Fail = func(w http.ResponseWriter, r *http.Request, status int, message string) {
		w.WriteHeader(status)
		if _, err := fmt.Fprintf(w, "%d %s", status, message); err != nil {
			t.Error(err)
		}
	}
	w := e.do()
	if w.Code != http.StatusUnauthorized || w.Body.String() != "401 "+UnauthorizedMessage || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("got %d %q %v", w.Code, w.Body, w.Header())
	}
}

func TestCacheBound(t *testing.T) {
	c := newCache(2)
	now := time.Now()
	for i := range 5 {
		c.put(cacheKey(fmt.Sprint(i)), &token{}, now.Add(time.Minute))
	}
	if n := len(c.entries); n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
	if c.get(cacheKey("4"), now) == nil {
		t.Error("the last entry put is not cached")
	}
	if c.get(cacheKey("4"), now.Add(time.Minute)) != nil {
		t.Error("a stale entry is returned")
	}
}

func TestNewNeedsAuthURL(t *testing.T) {
	if _, err := New(conf.Keystone{}, http.NotFoundHandler()); err == nil {
		t.Error("New without auth_url succeeded")
	}
}
