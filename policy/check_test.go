package policy

import (
	"strings"
	"testing"
)

// TestParse compares each parse with oslo.policy's own rendering of it, as
// str(_parser.parse_rule(rule)) printed it.
func TestParse(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{"@", "@"},
		{"!", "!"},
		{"", "@"},
		{"role:admin", "role:admin"},
		{"rule:admin_api", "rule:admin_api"},
		{"a:1 or b:2 and c:3", "(a:1 or (b:2 and c:3))"},
		{"a:1 and b:2 or c:3 and d:4", "((a:1 and b:2) or (c:3 and d:4))"},
		{"not a:1 and b:2", "(not a:1 and b:2)"},
		{"a:1 and not b:2 or c:3", "((a:1 and not b:2) or c:3)"},
		{"a:1 or not b:2 and c:3", "(a:1 or (not b:2 and c:3))"},
		{"not (a:1 or b:2)", "not (a:1 or b:2)"},
		{"((a:1))", "a:1"},
		{"(a:1 or b:2) and c:3", "((a:1 or b:2) and c:3)"},
		{"(a:1 and b:2) and c:3", "((a:1 and b:2) and c:3)"},
		{"a:1 or (b:2 or c:3) and d:4", "(a:1 or ((b:2 or c:3) and d:4))"},
		{"a:1 or b:2 or c:3", "(a:1 or b:2 or c:3)"},
		{"a:1 and b:2 and c:3", "(a:1 and b:2 and c:3)"},
		{"not not a:1", "not not a:1"},
		{"a:1 AND b:2 Or NOT c:3", "((a:1 and b:2) or not c:3)"},
		{"is_admin:True or (role:admin and is_admin_project:True)", "(is_admin:True or (role:admin and is_admin_project:True))"},
		{"(role:admin) or (role:reader and project_id:%(project_id)s)", "(role:admin or (role:reader and project_id:%(project_id)s))"},
	} {
		c, err := parse(tc.rule)
		if err != nil {
			t.Errorf("parse(%q): %v", tc.rule, err)
			continue
		}
		if got := c.String(); got != tc.want {
			t.Errorf("parse(%q) = %s, want %s", tc.rule, got, tc.want)
		}
	}
}

// TestParseErrors covers what oslo.policy logs and fails closed, and what
// it would raise on at every evaluation.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{"   ", "unexpected end"},
		{"role:admin or", "unexpected end"},
		{"(role:admin", "unexpected end"},
		{"role:admin)", `unexpected ")"`},
		{"role:admin role:member", `unexpected "role:member"`},
		{"and role:admin", `unexpected "and"`},
		{"()", `unexpected ")"`},
		{"foo:(bar)", `unexpected ")"`},
		{`"quoted" or @`, `unexpected "\"quoted\""`},
		{"admin", "not of the form kind:match"},
		{":x", "not of the form kind:match"},
		{"project_id:%(project_id)d", "bad substitution"},
		{"project_id:%s", "bad substitution"},
		{"role:%(r", "bad substitution"},
		{"http:https://example.com/check", "remote checks"},
	} {
		_, err := parse(tc.rule)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%q) = %v, want an error with %q", tc.rule, err, tc.want)
		}
	}
}

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		rule []any
		want string
	}{
		{[]any{}, "@"},
		{[]any{[]any{}}, "!"},
		{[]any{"", []any{}}, "!"},
		{[]any{"role:admin"}, "role:admin"},
		{[]any{[]any{"role:admin"}, []any{"role:member", "project_id:%(project_id)s"}}, "(role:admin or (role:member and project_id:%(project_id)s))"},
		// Each element is one check: the words "or" and "and" are no operators.
		{[]any{[]any{"a:x or y"}}, "a:x or y"},
	} {
		c, err := parseList(tc.rule)
		if err != nil {
			t.Errorf("parseList(%v): %v", tc.rule, err)
			continue
		}
		if got := c.String(); got != tc.want {
			t.Errorf("parseList(%v) = %s, want %s", tc.rule, got, tc.want)
		}
	}
	for _, bad := range [][]any{{1}, {[]any{true}}, {[]any{"admin"}}} {
		if _, err := parseList(bad); err == nil {
			t.Errorf("parseList(%v) succeeded", bad)
		}
	}
}

// TestEval evaluates single checks and their combinations against one set of
// credentials and one target.
func TestEval(t *testing.T) {
	e := &env{
		rules: map[string]check{
			"yes": constCheck(true),
			"no":  constCheck(false),
		},
		target: map[string]string{"project_id": "p1", "user_id": "u1", "role": "Member", "pct": "50%"},
		creds: map[string]any{
			"project_id":   "p1",
			"user_id":      "u1",
			"roles":        []string{"Member", "reader"},
			"is_admin":     false,
			"system_scope": nil,
			"token":        map[string]any{"tags": []string{"a", "b"}},
		},
	}
	for _, tc := range []struct {
		rule string
		want bool
	}{
		{"@", true},
		{"!", false},
		{"", true},
		{"rule:yes", true},
		{"rule:no", false},
		{"rule:undefined", false},
		{"role:member", true},
		{"role:READER", true},
		{"role:admin", false},
		{"role:%(role)s", true},
		{"role:%(missing)s", false},
		{"project_id:%(project_id)s", true},
		{"project_id:p1", true},
		{"project_id:p2", false},
		{"user_id:%(user_id)s", true},
		{"project_id:%(missing)s", false},
		{"missing:%(project_id)s", false},
		{"is_admin:True", false},
		{"is_admin:False", true},
		{"system_scope:all", false},
		{"system_scope:None", true},
		{"roles:reader", true},
		{"token.tags:b", true},
		{"token.tags:c", false},
		{"token.missing:b", false},
		{"user_id.x:u1", false},
		{"True:True", true},
		{"False:True", false},
		{"'Member':%(role)s", true},
		{`"member":%(role)s`, false},
		{"None:None", true},
		{"'50%':%(pct)s", true},
		{"'50%':50%%", true},
		{"not rule:no", true},
		{"rule:yes and rule:no", false},
		{"rule:no or rule:yes", true},
		{"rule:yes or rule:yes and rule:no", true},
		{"(rule:yes or rule:yes) and rule:no", false},
		{"not rule:yes or rule:yes", true},
		{"not (rule:yes or rule:yes)", false},
	} {
		c, err := parse(tc.rule)
		if err != nil {
			t.Errorf("parse(%q): %v", tc.rule, err)
			continue
		}
		if got := c.eval(e); got != tc.want {
			t.Errorf("%q = %v, want %v", tc.rule, got, tc.want)
		}
	}
}

// TestDefaultRule checks that a reference to an undefined rule falls back
// to the rule named "default" when there is one.
func TestDefaultRule(t *testing.T) {
	e := &env{rules: map[string]check{"default": constCheck(true)}}
	if !ruleCheck("undefined").eval(e) {
		t.Error("rule:undefined failed with a default rule that passes")
	}
}

func TestFindCycle(t *testing.T) {
	for _, tc := range []struct {
		rules map[string]string
		want  string // "" for no cycle
	}{
		{map[string]string{"a": "rule:b or rule:c", "b": "rule:c", "c": "@"}, ""},
		{map[string]string{"a": "rule:undefined"}, ""},
		{map[string]string{"a": "rule:a"}, "a -> a"},
		{map[string]string{"a": "@ and not rule:b", "b": "(rule:c)", "c": "rule:a or !"}, "a -> b -> c -> a"},
		{map[string]string{"a": "rule:undefined", "default": "rule:a"}, "a -> default -> a"},
		{map[string]string{"default": "rule:undefined"}, "default -> default"},
	} {
		rules := make(map[string]check)
		for name, s := range tc.rules {
			c, err := parse(s)
			if err != nil {
				t.Fatal(err)
			}
			rules[name] = c
		}
		err := findCycle(rules)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("findCycle(%v): %v", tc.rules, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("findCycle(%v) = %v, want a cycle %s", tc.rules, err, tc.want)
		}
	}
}
