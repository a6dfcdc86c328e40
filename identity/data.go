package identity

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Data is the content of an identity file: the domains, projects, roles and
// users the endpoint knows, and how long its tokens live. Passwords are kept
// in plain text: the file is a development convenience, not a user store.
type Data struct {
	// Region names the catalog's region (Keystone's RegionOne if empty).
	Region string `yaml:"region"`
	// TokenExpiration is a token's lifetime (Keystone's one hour if zero).
	TokenExpiration time.Duration `yaml:"token_expiration"`
	// Domains: Keystone's Default domain (id "default") if empty.
	Domains  []Domain  `yaml:"domains"`
	Projects []Project `yaml:"projects"`
	// Roles: keystone-manage bootstrap's admin ⇒ member ⇒ reader if empty.
	Roles []Role `yaml:"roles"`
	Users []User `yaml:"users"`
}

// Domain is a Keystone domain. ID defaults to a hash of the name, except
// for the Default domain whose id is Keystone's "default".
type Domain struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// Project is a Keystone project, in the domain named Domain ("Default" if
// empty). ID defaults to a hash of the domain and name, so that it stays
// the same across restarts as the volumes that name it.
type Project struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Domain      string `yaml:"domain"`
	Description string `yaml:"description"`
}

// Role is a Keystone role; Implies names the roles it implies, as Keystone's
// implied roles (admin implies member, which implies reader).
type Role struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Implies     []string `yaml:"implies"`
}

// User is a Keystone user of domain Domain ("Default" if empty). Roles maps a
// project name to the names of the roles the user has on it; DefaultProject
// names the project an unscoped password authentication is scoped to.
type User struct {
	ID             string              `yaml:"id"`
	Name           string              `yaml:"name"`
	Domain         string              `yaml:"domain"`
	Password       string              `yaml:"password"`
	Email          string              `yaml:"email"`
	DefaultProject string              `yaml:"default_project"`
	Roles          map[string][]string `yaml:"roles"`
}

// defaultDomain is the domain of Keystone's bootstrap.
const defaultDomain = "Default"

// Load reads and checks the identity file at path.
func Load(path string) (*Data, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read identity data: %w", err)
	}
	d, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Parse decodes identity data in YAML, rejecting unknown keys, and checks it
// as New would.
func Parse(b []byte) (*Data, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var d Data
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("no identity data")
		}
		return nil, fmt.Errorf("decode identity data: %w", err)
	}
	if _, err := newDirectory(&d); err != nil {
		return nil, err
	}
	return &d, nil
}

// stableID derives a Keystone-like id (32 hex digits) from the names that
// identify an object, so that ids left out of the file do not change.
func stableID(kind string, names ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, n := range names {
		h.Write([]byte{0})
		h.Write([]byte(n))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// bootstrapRoles are the roles keystone-manage bootstrap creates.
var bootstrapRoles = []Role{
	{Name: "admin", Implies: []string{"member"}},
	{Name: "member", Implies: []string{"reader"}},
	{Name: "reader"},
}

// directory is Data checked and indexed. Projects may be created and
// deleted through the API: mu guards them and the users' assignments.
type directory struct {
	region     string
	expiration time.Duration
	domains    []*domain
	roles      []*role

	mu       sync.RWMutex
	projects []*project
	users    []*user
}

type domain struct{ id, name, description string }

type project struct {
	id, name, description string
	domain                *domain
}

type role struct {
	id, name, description string
	implies               []*role
}

type user struct {
	id, name, email, password string
	domain                    *domain
	defaultProject            *project
	roles                     map[*project][]*role // direct assignments
}

// newDirectory checks d, filling in its defaults.
func newDirectory(d *Data) (*directory, error) {
	dir := &directory{region: d.Region, expiration: d.TokenExpiration}
	if dir.region == "" {
		dir.region = "RegionOne"
	}
	if dir.expiration == 0 {
		dir.expiration = time.Hour
	}
	if dir.expiration < 0 {
		return nil, fmt.Errorf("token_expiration %v is negative", dir.expiration)
	}
	domains := d.Domains
	if len(domains) == 0 {
		domains = []Domain{{Name: defaultDomain}}
	}
	for _, x := range domains {
		id := x.ID
		switch {
		case x.Name == "":
			return nil, errors.New("a domain has no name")
		case dir.domain(x.Name) != nil:
			return nil, fmt.Errorf("domain %q is listed twice", x.Name)
		case id == "" && x.Name == defaultDomain:
			id = "default"
		case id == "":
			id = stableID("domain", x.Name)
		}
		dir.domains = append(dir.domains, &domain{id: id, name: x.Name, description: x.Description})
	}
	if err := dir.addRoles(d.Roles); err != nil {
		return nil, err
	}
	for _, x := range d.Projects {
		if x.Name == "" {
			return nil, errors.New("a project has no name")
		}
		dom, err := dir.domainNamed(x.Domain)
		if err != nil {
			return nil, fmt.Errorf("project %q: %w", x.Name, err)
		}
		// Users name projects alone: names are unique across domains.
		if dir.projectNamed(x.Name, nil) != nil {
			return nil, fmt.Errorf("project %q is listed twice", x.Name)
		}
		id := x.ID
		if id == "" {
			id = stableID("project", dom.name, x.Name)
		}
		dir.projects = append(dir.projects, &project{id: id, name: x.Name, description: x.Description, domain: dom})
	}
	for _, x := range d.Users {
		u, err := dir.newUser(x)
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", x.Name, err)
		}
		dir.users = append(dir.users, u)
	}
	return dir, dir.checkIDs()
}

// addRoles adds rs, or the bootstrap roles if rs is empty, resolving
// implications.
func (dir *directory) addRoles(rs []Role) error {
	if len(rs) == 0 {
		rs = bootstrapRoles
	}
	for _, x := range rs {
		if x.Name == "" {
			return errors.New("a role has no name")
		}
		if dir.role(x.Name) != nil {
			return fmt.Errorf("role %q is listed twice", x.Name)
		}
		id := x.ID
		if id == "" {
			id = stableID("role", x.Name)
		}
		dir.roles = append(dir.roles, &role{id: id, name: x.Name, description: x.Description})
	}
	for _, x := range rs {
		r := dir.role(x.Name)
		for _, name := range x.Implies {
			implied := dir.role(name)
			if implied == nil {
				return fmt.Errorf("role %q implies unknown role %q", x.Name, name)
			}
			r.implies = append(r.implies, implied)
		}
	}
	return nil
}

func (dir *directory) newUser(x User) (*user, error) {
	if x.Name == "" {
		return nil, errors.New("no name")
	}
	if x.Password == "" {
		return nil, errors.New("no password")
	}
	dom, err := dir.domainNamed(x.Domain)
	if err != nil {
		return nil, err
	}
	if dir.userNamed(x.Name, dom) != nil {
		return nil, fmt.Errorf("listed twice in domain %q", dom.name)
	}
	id := x.ID
	if id == "" {
		id = stableID("user", dom.name, x.Name)
	}
	u := &user{id: id, name: x.Name, email: x.Email, password: x.Password, domain: dom, roles: map[*project][]*role{}}
	for pname, rnames := range x.Roles {
		p := dir.projectNamed(pname, nil)
		if p == nil {
			return nil, fmt.Errorf("role on unknown project %q", pname)
		}
		for _, rname := range rnames {
			r := dir.role(rname)
			if r == nil {
				return nil, fmt.Errorf("unknown role %q on project %q", rname, pname)
			}
			if !slices.Contains(u.roles[p], r) {
				u.roles[p] = append(u.roles[p], r)
			}
		}
	}
	if x.DefaultProject != "" {
		if u.defaultProject = dir.projectNamed(x.DefaultProject, nil); u.defaultProject == nil {
			return nil, fmt.Errorf("unknown default project %q", x.DefaultProject)
		}
	}
	return u, nil
}

// checkIDs reports an id given to two objects of a kind.
func (dir *directory) checkIDs() error {
	seen := map[string]bool{}
	dup := func(kind, id string) error {
		if seen[kind+" "+id] {
			return fmt.Errorf("%s id %q is given twice", kind, id)
		}
		seen[kind+" "+id] = true
		return nil
	}
	var errs []error
	for _, x := range dir.domains {
		errs = append(errs, dup("domain", x.id))
	}
	for _, x := range dir.roles {
		errs = append(errs, dup("role", x.id))
	}
	for _, x := range dir.projects {
		errs = append(errs, dup("project", x.id))
	}
	for _, x := range dir.users {
		errs = append(errs, dup("user", x.id))
	}
	return errors.Join(errs...)
}

// domainNamed returns the domain named name, Default if name is empty.
func (dir *directory) domainNamed(name string) (*domain, error) {
	if name == "" {
		name = defaultDomain
	}
	if d := dir.domain(name); d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("unknown domain %q", name)
}

// domain returns the domain whose id or name is key, or nil.
func (dir *directory) domain(key string) *domain {
	for _, d := range dir.domains {
		if d.id == key || d.name == key {
			return d
		}
	}
	return nil
}

// domainByID returns the domain whose id is id, or nil.
func (dir *directory) domainByID(id string) *domain {
	for _, d := range dir.domains {
		if d.id == id {
			return d
		}
	}
	return nil
}

// role returns the role whose id or name is key, or nil.
func (dir *directory) role(key string) *role {
	for _, r := range dir.roles {
		if r.id == key || r.name == key {
			return r
		}
	}
	return nil
}

// projectNamed returns the project named name in dom (any domain if nil).
// The caller holds mu.
func (dir *directory) projectNamed(name string, dom *domain) *project {
	for _, p := range dir.projects {
		if p.name == name && (dom == nil || p.domain == dom) {
			return p
		}
	}
	return nil
}

// userNamed returns the user named name in dom. The caller holds mu.
func (dir *directory) userNamed(name string, dom *domain) *user {
	for _, u := range dir.users {
		if u.name == name && u.domain == dom {
			return u
		}
	}
	return nil
}

// rolesOn returns u's roles on p, those assigned first, then those they
// imply, as Keystone lists them in a token. The caller holds mu.
func (u *user) rolesOn(p *project) []*role {
	rs := slices.Clone(u.roles[p])
	for i := 0; i < len(rs); i++ {
		for _, r := range rs[i].implies {
			if !slices.Contains(rs, r) {
				rs = append(rs, r)
			}
		}
	}
	return rs
}
