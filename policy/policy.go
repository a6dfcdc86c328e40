// Package policy authorizes Cinder API requests as cinder.policy does with
// oslo.policy: Cinder's default rules, which a policy file may override, in
// oslo.policy's rule language, evaluated against the caller's credentials
// and the target of the request.
package policy

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/cinder-go/cinder"
	"go.yaml.in/yaml/v3"
)

// Enforcer holds the rules in force: Cinder's defaults and a policy file's
// overrides. It does not change once made, so requests may share it.
type Enforcer struct {
	rules      map[string]check
	registered map[string]bool // the names of Cinder's defaults
}

// New returns an Enforcer of Cinder's defaults overridden, rule by rule, by
// the policy file at path (YAML or JSON, as oslo.policy reads it); an empty
// path means the defaults alone. A rule that cannot be parsed or a cycle of
// rule references is an error, as is a missing file.
func New(path string) (*Enforcer, error) {
	e := &Enforcer{rules: make(map[string]check), registered: make(map[string]bool)}
	for _, d := range defaults {
		c, err := parse(d.check)
		if err != nil {
			return nil, fmt.Errorf("policy: default rule %q: %w", d.name, err)
		}
		e.rules[d.name] = c
		e.registered[d.name] = true
	}
	if path != "" {
		file, err := load(path)
		if err != nil {
			return nil, err
		}
		// An override of a rule's old name stands for it, unless the file
		// overrides the new name too or points the old one at it.
		for name, old := range renamed {
			c, ok := file[old]
			_, over := file[name]
			if ref, isRef := c.(ruleCheck); !ok || over || isRef && string(ref) == name {
				continue
			}
			e.rules[name] = c
		}
		maps.Copy(e.rules, file)
	}
	if err := findCycle(e.rules); err != nil {
		return nil, fmt.Errorf("policy: %s: %w", path, err)
	}
	return e, nil
}

// load reads the rules of a policy file: a map of rule names to rules, each
// a string in the policy language or the legacy list of lists.
func load(path string) (map[string]check, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var raw map[string]any
	if json.Unmarshal(data, &raw) != nil {
		if err := yaml.Unmarshal(data, &raw); err != nil {
			return nil, fmt.Errorf("policy: %s: %w", path, err)
		}
	}
	rules := make(map[string]check, len(raw))
	for name, v := range raw {
		var c check
		switch v := v.(type) {
		case string:
			c, err = parse(v)
		case []any:
			c, err = parseList(v)
		case nil: // an empty value, which oslo.policy reads as an empty list
			c = constCheck(true)
		default:
			err = fmt.Errorf("%v is neither a string nor a list", v)
		}
		if err != nil {
			return nil, fmt.Errorf("policy: %s: rule %q: %w", path, name, err)
		}
		rules[name] = c
	}
	return rules, nil
}

// findCycle reports a rule that refers to itself, directly or through other
// rules or the default rule, which evaluation would follow for ever.
func findCycle(rules map[string]check) error {
	done := make(map[string]bool)
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		if _, ok := rules[name]; !ok {
			name = defaultRule
		}
		c, ok := rules[name]
		if !ok || done[name] {
			return nil
		}
		if i := slices.Index(path, name); i >= 0 {
			return fmt.Errorf("rules refer to each other in a cycle: %s", strings.Join(append(path[i:], name), " -> "))
		}
		for _, ref := range refs(c, nil) {
			if err := visit(ref, append(path, name)); err != nil {
				return err
			}
		}
		done[name] = true
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(rules)) {
		if err := visit(name, nil); err != nil {
			return err
		}
	}
	return nil
}

// refs appends to names the rules c refers to.
func refs(c check, names []string) []string {
	switch c := c.(type) {
	case ruleCheck:
		return append(names, string(c))
	case notCheck:
		return refs(c.c, names)
	case andCheck:
		for _, c := range c {
			names = refs(c, names)
		}
	case orCheck:
		for _, c := range c {
			names = refs(c, names)
		}
	}
	return names
}

// Authorize returns nil if rc may do what rule governs on target, else a
// *cinder.Error 403 (PolicyNotAuthorized). A nil target means rc's own
// project and user, as Cinder's RequestContext.authorize. A rule Cinder does
// not register is a programming error, reported as a plain error (a 500),
// as oslo.policy's PolicyNotRegistered.
func (e *Enforcer) Authorize(rc *cinder.RequestContext, rule string, target map[string]string) error {
	if !e.registered[rule] {
		return fmt.Errorf("policy: rule %q is not registered", rule)
	}
	if !e.allows(rc, rule, target) {
		return cinder.Forbidden("Policy doesn't allow %s to be performed.", rule)
	}
	return nil
}

// Check reports whether rc may do what rule governs on target, for checks
// that shape a response rather than refuse it (say, which attributes to
// show). An unregistered rule is logged and fails closed.
func (e *Enforcer) Check(rc *cinder.RequestContext, rule string, target map[string]string) bool {
	if !e.registered[rule] {
		slog.Error("policy: check of a rule that is not registered", "rule", rule)
		return false
	}
	return e.allows(rc, rule, target)
}

// IsAdmin reports whether rc passes context_is_admin, the rule by which
// Cinder sets RequestContext.is_admin for a caller Keystone authenticated.
func (e *Enforcer) IsAdmin(rc *cinder.RequestContext) bool {
	return e.allows(rc, "context_is_admin", nil)
}

func (e *Enforcer) allows(rc *cinder.RequestContext, rule string, target map[string]string) bool {
	if target == nil {
		target = map[string]string{"project_id": rc.ProjectID, "user_id": rc.UserID}
	}
	return e.rules[rule].eval(&env{rules: e.rules, target: target, creds: credentials(rc)})
}

// credentials are rc's attributes as oslo.context's to_policy_values gives
// them, with Cinder's is_admin; an absent value is Python's None.
func credentials(rc *cinder.RequestContext) map[string]any {
	return map[string]any{
		"user_id":    none(rc.UserID),
		"project_id": none(rc.ProjectID),
		"roles":      roles(rc),
		"is_admin":   rc.IsAdmin,
		// keystonemiddleware's X-Is-Admin-Project defaults to True when
		// Keystone names no admin project, as it does here.
		"is_admin_project":          true,
		"system_scope":              nil,
		"domain_id":                 nil,
		"user_domain_id":            nil,
		"project_domain_id":         nil,
		"service_user_id":           nil,
		"service_user_domain_id":    nil,
		"service_project_id":        nil,
		"service_project_domain_id": nil,
		"service_roles":             []string{},
	}
}

// none returns s, or nil (Python's None) for the empty string.
func none(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// implied lists Keystone's bootstrap role implications, each implying role
// before the role it implies: admin implies member, member reader.
var implied = [][2]string{{"admin", "member"}, {"member", "reader"}}

// roles returns rc's roles with those they imply: Cinder's RequestContext
// adds admin to an is_admin context, and a Keystone token lists the roles
// its roles imply, which a caller may leave out (noauth sends none).
func roles(rc *cinder.RequestContext) []string {
	r := slices.Clone(rc.Roles)
	has := func(role string) bool {
		return slices.ContainsFunc(r, func(s string) bool { return strings.EqualFold(s, role) })
	}
	if rc.IsAdmin && !has("admin") {
		r = append(r, "admin")
	}
	for _, imp := range implied {
		if has(imp[0]) && !has(imp[1]) {
			r = append(r, imp[1])
		}
	}
	return r
}
