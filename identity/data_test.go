package identity

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadSample(t *testing.T) {
	d, err := Load("../etc/cinder/identity.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := newDirectory(d)
	if err != nil {
		t.Fatal(err)
	}
	if dir.region != "RegionOne" || dir.expiration != time.Hour || len(dir.projects) != 4 || len(dir.users) != 4 {
		t.Errorf("sample: region %s, expiration %v, %d projects, %d users", dir.region, dir.expiration, len(dir.projects), len(dir.users))
	}
	for _, u := range dir.users {
		if u.defaultProject == nil || len(u.rolesOn(u.defaultProject)) == 0 {
			t.Errorf("user %s has no role on a default project", u.name)
		}
	}
}

func TestDefaults(t *testing.T) {
	d, err := Parse([]byte("projects: [{name: p}]\nusers: [{name: u, password: pw, roles: {p: [admin]}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := newDirectory(d)
	if err != nil {
		t.Fatal(err)
	}
	if dir.region != "RegionOne" || dir.expiration != time.Hour {
		t.Errorf("region %s, expiration %v", dir.region, dir.expiration)
	}
	if len(dir.domains) != 1 || dir.domains[0].id != "default" || dir.domains[0].name != "Default" {
		t.Errorf("domains %+v", dir.domains)
	}
	u, p := dir.users[0], dir.projects[0]
	var names []string
	for _, r := range u.rolesOn(p) {
		names = append(names, r.name)
	}
	if strings.Join(names, " ") != "admin member reader" {
		t.Errorf("bootstrap roles of an admin: %v", names)
	}
	// Ids derive from names: the same across loads, 32 hex digits.
	again, err := newDirectory(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.id) != 32 || again.projects[0].id != p.id || again.users[0].id != u.id || u.id == p.id {
		t.Errorf("ids: project %s then %s, user %s", p.id, again.projects[0].id, u.id)
	}
}

func TestInvalid(t *testing.T) {
	for _, c := range []struct{ name, data, want string }{
		{"empty", "", "no identity data"},
		{"unknown key", "userz: []", "field userz not found"},
		{"bad duration", "token_expiration: soon", "decode identity data"},
		{"negative duration", "token_expiration: -1h", "negative"},
		{"unnamed domain", "domains: [{id: x}]", "a domain has no name"},
		{"duplicate domain", "domains: [{name: a}, {name: a}]", `domain "a" is listed twice`},
		{"no Default", "domains: [{name: a}]\nprojects: [{name: p}]", `project "p": unknown domain "Default"`},
		{"unnamed project", "projects: [{description: x}]", "a project has no name"},
		{"duplicate project", "domains: [{name: Default}, {name: b}]\nprojects: [{name: p}, {name: p, domain: b}]", `project "p" is listed twice`},
		{"duplicate project id", "projects: [{name: p, id: x}, {name: q, id: x}]", `project id "x" is given twice`},
		{"unnamed role", "roles: [{implies: [a]}]", "a role has no name"},
		{"duplicate role", "roles: [{name: a}, {name: a}]", `role "a" is listed twice`},
		{"unknown implied role", "roles: [{name: a, implies: [b]}]", `role "a" implies unknown role "b"`},
		{"unnamed user", "users: [{password: x}]", "no name"},
		{"no password", "users: [{name: u}]", `user "u": no password`},
		{"duplicate user", "users: [{name: u, password: x}, {name: u, password: y}]", `user "u": listed twice in domain "Default"`},
		{"unknown user domain", "users: [{name: u, password: x, domain: z}]", `user "u": unknown domain "z"`},
		{"unknown project", "users: [{name: u, password: x, roles: {p: [admin]}}]", `user "u": role on unknown project "p"`},
		{"unknown role", "projects: [{name: p}]\nusers: [{name: u, password: x, roles: {p: [boss]}}]", `user "u": unknown role "boss" on project "p"`},
		{"unknown default project", "users: [{name: u, password: x, default_project: p}]", `user "u": unknown default project "p"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse: %v, want an error with %q", err, c.want)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "identity.yaml")
	if err := os.WriteFile(path, []byte("users: [{name: u}]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("Load: %v, want an error naming the file", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}
}
