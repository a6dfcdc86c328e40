package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cinder-go/cinder"
)

func newEnforcer(t *testing.T, path string) *Enforcer {
	t.Helper()
	e, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// writeFile writes a policy file into the test's directory.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// level is what a caller may do in a project, each level allowing the ones
// below it: Cinder's reader, member and admin personas.
type level int

const (
	nothing level = iota
	read
	write
	admin
)

// needs lists Cinder rules by the persona they need, as Cinder's policy
// matrix ("Policy personas and permissions") has them.
var needs = map[level][]string{
	read: {
		"volume:get", "volume:get_all", "volume_extension:volume_tenant_attribute",
		"volume:get_volume_metadata", "volume_extension:volume_image_metadata:show",
		"volume_extension:type_get", "volume_extension:type_get_all",
		"volume_extension:access_types_extra_specs",
		"volume_extension:types_extra_specs:index", "volume_extension:types_extra_specs:show",
		"volume:get_snapshot", "volume:get_all_snapshots", "volume:get_snapshot_metadata",
		"backup:get", "backup:get_all", "volume:get_transfer", "volume:get_all_transfers",
		"group:get", "group:get_all", "group:get_group_snapshot",
		"message:get", "message:get_all",
		"limits_extension:used_limits", "volume_extension:quotas:show",
	},
	write: {
		"volume:create", "volume:create_from_image", "volume:update", "volume:delete",
		"volume:extend", "volume:extend_attached_volume", "volume:retype",
		"volume:revert_to_snapshot", "volume:update_readonly_flag", "volume:multiattach",
		"volume_extension:volume_actions:initialize_connection",
		"volume_extension:volume_actions:terminate_connection",
		"volume_extension:volume_actions:attach", "volume_extension:volume_actions:detach",
		"volume_extension:volume_actions:reserve", "volume_extension:volume_actions:unreserve",
		"volume_extension:volume_actions:begin_detaching",
		"volume_extension:volume_actions:roll_detaching",
		"volume_extension:volume_actions:upload_image",
		"volume:update_volume_metadata", "volume:delete_volume_metadata",
		"volume:create_snapshot", "volume:delete_snapshot", "backup:create", "backup:restore",
		"volume:create_transfer", "volume:accept_transfer",
		"volume:attachment_create", "volume:attachment_complete",
		"group:create", "group:delete", "message:delete",
		"volume_extension:volume_type_access",
	},
	admin: {
		"admin_api", "context_is_admin",
		"volume_extension:volume_admin_actions:reset_status",
		"volume_extension:volume_admin_actions:force_delete",
		"volume_extension:volume_admin_actions:force_detach",
		"volume_extension:volume_admin_actions:migrate_volume",
		"volume_extension:volume_admin_actions:migrate_volume_completion",
		"volume_extension:volume_admin_actions:extend_volume_completion",
		"volume_extension:volume_actions:upload_public",
		"volume:force_delete",
		"volume_extension:volume_host_attribute", "volume_extension:volume_mig_status_attribute",
		"volume_extension:services:index", "volume_extension:services:update",
		"scheduler_extension:scheduler_stats:get_pools", "volume_extension:capabilities",
		"volume_extension:hosts", "clusters:get_all", "workers:cleanup",
		"volume_extension:type_create", "volume_extension:type_update", "volume_extension:type_delete",
		"volume_extension:types_extra_specs:create", "volume_extension:types_extra_specs:update",
		"volume_extension:types_extra_specs:delete", "volume_extension:types_extra_specs:read_sensitive",
		"volume_extension:access_types_qos_specs_id",
		"volume_extension:volume_type_access:addProjectAccess",
		"volume_extension:volume_type_encryption:create",
		"volume_extension:qos_specs_manage:get_all", "volume_extension:qos_specs_manage:create",
		"volume_extension:quotas:update", "volume_extension:quota_classes:get",
		"volume_extension:snapshot_admin_actions:reset_status",
		"volume_extension:backup_admin_actions:force_delete", "backup:backup-import",
		"group:reset_status", "group:group_types:create",
		"volume_extension:volume_manage", "volume_extension:volume_unmanage",
		"volume_extension:list_manageable", "snapshot_extension:snapshot_manage",
		"volume_extension:default_set_or_update",
	},
}

// TestPersonas authorizes each persona for each rule of needs, on a target
// in the caller's project and on one in another project.
func TestPersonas(t *testing.T) {
	e := newEnforcer(t, "")
	for _, p := range []struct {
		name       string
		rc         cinder.RequestContext
		own, other level
	}{
		{"admin", cinder.RequestContext{UserID: "ua", ProjectID: "pa", IsAdmin: true, Roles: []string{"admin"}}, admin, admin},
		{"noauth admin", cinder.RequestContext{UserID: "ua", ProjectID: "pa", IsAdmin: true}, admin, admin},
		{"admin role", cinder.RequestContext{UserID: "ua", ProjectID: "pa", Roles: []string{"Admin"}}, admin, admin},
		{"member", cinder.RequestContext{UserID: "um", ProjectID: "p1", Roles: []string{"member"}}, write, nothing},
		{"member and reader", cinder.RequestContext{UserID: "um", ProjectID: "p1", Roles: []string{"reader", "member"}}, write, nothing},
		{"reader", cinder.RequestContext{UserID: "ur", ProjectID: "p1", Roles: []string{"reader"}}, read, nothing},
		{"member of another project", cinder.RequestContext{UserID: "uo", ProjectID: "p2", Roles: []string{"MEMBER"}}, write, nothing},
		{"no roles", cinder.RequestContext{UserID: "un", ProjectID: "p1"}, nothing, nothing},
		{"unknown role", cinder.RequestContext{UserID: "un", ProjectID: "p1", Roles: []string{"observer"}}, nothing, nothing},
	} {
		for _, target := range []struct {
			project string
			has     level
		}{{p.rc.ProjectID, p.own}, {"elsewhere", p.other}} {
			for need, rules := range needs {
				for _, rule := range rules {
					err := e.Authorize(&p.rc, rule, map[string]string{"project_id": target.project, "user_id": "someone"})
					if allowed := err == nil; allowed != (target.has >= need) {
						t.Errorf("%s on project %s: %s allowed = %v (%v)", p.name, target.project, rule, allowed, err)
					}
					if err != nil && cinder.Code(err) != 403 {
						t.Errorf("%s: %s: %v, want a 403", p.name, rule, err)
					}
				}
			}
		}
	}
}

func TestAuthorize(t *testing.T) {
	e := newEnforcer(t, "")
	reader := &cinder.RequestContext{UserID: "u1", ProjectID: "p1", Roles: []string{"reader"}}

	err := e.Authorize(reader, "volume:create", nil)
	var ce *cinder.Error
	if !errors.As(err, &ce) || ce.Code != 403 || ce.Class != "PolicyNotAuthorized" ||
		ce.Message != "Policy doesn't allow volume:create to be performed." {
		t.Errorf("Authorize = %#v, want PolicyNotAuthorized", err)
	}
	// A nil target is the caller's own project.
	if err := e.Authorize(reader, "volume:get", nil); err != nil {
		t.Errorf("reader: volume:get on its own project: %v", err)
	}
	// A caller without a project matches no project, not an empty one.
	if e.Check(&cinder.RequestContext{Roles: []string{"reader"}}, "volume:get", map[string]string{"project_id": ""}) {
		t.Error("a caller without a project may get a volume without one")
	}

	// An unregistered rule is a programming error, not a 403; Check fails it.
	for _, rule := range []string{"volume:nonexistent", "volume_extension:types_manage"} {
		if err := e.Authorize(reader, rule, nil); err == nil || cinder.Code(err) != 500 {
			t.Errorf("Authorize(%s) = %v, want a not-registered error", rule, err)
		}
		if e.Check(cinder.AdminContext(), rule, nil) {
			t.Errorf("Check(%s) passed", rule)
		}
	}

	if !e.IsAdmin(&cinder.RequestContext{ProjectID: "p1", Roles: []string{"admin"}}) || e.IsAdmin(reader) {
		t.Error("IsAdmin does not follow context_is_admin")
	}
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		rc   cinder.RequestContext
		want []string
	}{
		{cinder.RequestContext{}, nil},
		{cinder.RequestContext{IsAdmin: true}, []string{"admin", "member", "reader"}},
		{cinder.RequestContext{Roles: []string{"admin"}}, []string{"admin", "member", "reader"}},
		{cinder.RequestContext{Roles: []string{"Member"}}, []string{"Member", "reader"}},
		{cinder.RequestContext{Roles: []string{"reader", "member"}}, []string{"reader", "member"}},
		{cinder.RequestContext{Roles: []string{"observer"}}, []string{"observer"}},
	} {
		if got := roles(&tc.rc); !slices.Equal(got, tc.want) {
			t.Errorf("roles(%+v) = %q, want %q", tc.rc, got, tc.want)
		}
	}
}

// TestDefaults checks that every default parses, once, and refers only to
// defined rules.
func TestDefaults(t *testing.T) {
	e := newEnforcer(t, "")
	if len(e.rules) != len(defaults) {
		t.Errorf("%d rules from %d defaults: a name is repeated", len(e.rules), len(defaults))
	}
	for name, c := range e.rules {
		for _, ref := range refs(c, nil) {
			if _, ok := e.rules[ref]; !ok {
				t.Errorf("%s refers to undefined rule %s", name, ref)
			}
		}
	}
	for name := range renamed {
		if !e.registered[name] {
			t.Errorf("renamed rule %s is not registered", name)
		}
	}
}

func TestOverrides(t *testing.T) {
	member := &cinder.RequestContext{UserID: "u1", ProjectID: "p1", Roles: []string{"member"}}
	reader := &cinder.RequestContext{UserID: "u2", ProjectID: "p1", Roles: []string{"reader"}}
	own := map[string]string{"project_id": "p1"}
	for _, tc := range []struct {
		name, file string
		rc         *cinder.RequestContext
		rule       string
		want       bool
	}{
		{"yaml", `"volume:create": "rule:admin_api"`, member, "volume:create", false},
		{"yaml keeps the others", `"volume:create": "rule:admin_api"`, member, "volume:delete", true},
		{"json", `{"volume:get": "!"}`, reader, "volume:get", false},
		{"custom rule", "owner: project_id:%(project_id)s\nvolume_extension:services:index: rule:owner\n", reader, "volume_extension:services:index", true},
		{"base rule", `"xena_system_admin_or_project_member": "role:reader and project_id:%(project_id)s"`, reader, "volume:extend", true},
		{"list of lists", `"volume_extension:capabilities": [["role:member", "project_id:%(project_id)s"]]`, member, "volume_extension:capabilities", true},
		{"empty value", `"volume:create":`, reader, "volume:create", true},
		{"empty string", `"volume:create": ""`, reader, "volume:create", true},
		{"empty file", "", member, "volume:create", true},
		{"comments only", "# nothing\n", reader, "volume:create", false},
		{"old name", `"volume_extension:types_manage": "role:member"`, member, "volume_extension:type_create", true},
		{"old name and new", "volume_extension:types_manage: role:member\nvolume_extension:type_create: '!'\n", member, "volume_extension:type_create", false},
		{"old name to new", `"volume_extension:types_manage": "rule:volume_extension:type_create"`, member, "volume_extension:type_create", false},
		{"default rule", "default: role:member\nvolume:create: rule:undefined\n", member, "volume:create", true},
		{"no default rule", "volume:create: rule:undefined\n", member, "volume:create", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnforcer(t, writeFile(t, "policy.yaml", tc.file))
			if got := e.Check(tc.rc, tc.rule, own); got != tc.want {
				t.Errorf("%s = %v, want %v", tc.rule, got, tc.want)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, tc := range []struct{ name, file, want string }{
		{"yaml", "volume:create: [unclosed\n", "policy.yaml"},
		{"not a map", "- role:admin\n", "policy.yaml"},
		{"bad rule", "volume:create: role:admin or\n", `rule "volume:create": parse "role:admin or": unexpected end`},
		{"bad check", `"volume:get": "admin"`, `rule "volume:get"`},
		{"bad list", `"volume:get": [[1]]`, `rule "volume:get"`},
		{"bad value", `"volume:get": 3`, `rule "volume:get"`},
		{"cycle", "a: rule:b\nb: rule:a or role:admin\n", "a -> b -> a"},
		{"cycle through defaults", `{"admin_api": "rule:context_is_admin", "context_is_admin": "rule:admin_api"}`, "admin_api -> context_is_admin -> admin_api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(writeFile(t, "policy.yaml", tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := New(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New(missing file) = %v, want ErrNotExist", err)
	}
}
