package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A check is a parsed rule or part of one, as oslo.policy's Check classes;
// String gives oslo.policy's own rendering of it.
type check interface {
	eval(e *env) bool
	String() string
}

// env is what a check is evaluated against: every rule by name, the target
// of the request and the caller's credentials.
type env struct {
	rules  map[string]check
	target map[string]string
	creds  map[string]any
}

// defaultRule is the rule a reference to an undefined rule falls back to,
// when a policy file defines it: oslo.policy's policy_default_rule.
const defaultRule = "default"

// lookup returns the rule named name, or the default rule in its stead.
func (e *env) lookup(name string) (check, bool) {
	if c, ok := e.rules[name]; ok {
		return c, true
	}
	c, ok := e.rules[defaultRule]
	return c, ok
}

// constCheck is "@" (and the empty rule), which always passes, or "!".
type constCheck bool

func (c constCheck) eval(*env) bool { return bool(c) }

func (c constCheck) String() string {
	if c {
		return "@"
	}
	return "!"
}

type notCheck struct{ c check }

func (n notCheck) eval(e *env) bool { return !n.c.eval(e) }
func (n notCheck) String() string   { return "not " + n.c.String() }

type andCheck []check

func (a andCheck) eval(e *env) bool {
	return !slices.ContainsFunc(a, func(c check) bool { return !c.eval(e) })
}
func (a andCheck) String() string { return join(a, " and ") }

type orCheck []check

func (o orCheck) eval(e *env) bool {
	return slices.ContainsFunc(o, func(c check) bool { return c.eval(e) })
}
func (o orCheck) String() string { return join(o, " or ") }

func join(cs []check, op string) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.String()
	}
	return "(" + strings.Join(s, op) + ")"
}

// ruleCheck is rule:<name>: the named rule passes. An undefined rule fails.
type ruleCheck string

func (r ruleCheck) eval(e *env) bool {
	c, ok := e.lookup(string(r))
	return ok && c.eval(e)
}
func (r ruleCheck) String() string { return "rule:" + string(r) }

// roleCheck is role:<match>: the caller has the role, whatever its case.
type roleCheck string

func (r roleCheck) eval(e *env) bool {
	role, ok, _ := expand(string(r), e.target)
	if !ok {
		return false
	}
	roles, _ := e.creds["roles"].([]string)
	return slices.ContainsFunc(roles, func(s string) bool { return strings.EqualFold(s, role) })
}
func (r roleCheck) String() string { return "role:" + string(r) }

// genericCheck is <kind>:<match>, match expanded from the target: a kind
// that Python reads as a constant (True, 'x') must equal it, any other
// names a credential, a dotted path into them, which must equal it.
type genericCheck struct {
	kind, match string
	lit         string // the constant kind as Python's str() prints it
	isLit       bool
}

func (g genericCheck) eval(e *env) bool {
	match, ok, _ := expand(g.match, e.target)
	if !ok {
		return false
	}
	if g.isLit {
		return match == g.lit
	}
	return find(e.creds, strings.Split(g.kind, "."), match)
}
func (g genericCheck) String() string { return g.kind + ":" + g.match }

// find reports whether the credential at path below v equals match, any
// element of a list matching, as oslo.policy's GenericCheck._find_in_dict.
func find(v any, path []string, match string) bool {
	if l, ok := v.([]string); ok {
		return slices.ContainsFunc(l, func(s string) bool { return find(s, path, match) })
	}
	if len(path) == 0 {
		return match == pyStr(v)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	next, ok := m[path[0]]
	return ok && find(next, path[1:], match)
}

// pyStr prints a credential as Python's str() does.
func pyStr(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	default:
		return fmt.Sprint(v)
	}
}

// literal returns the constants a check's kind can be, as ast.literal_eval
// reads them and str() prints them: True, False, None and quoted strings.
func literal(kind string) (string, bool) {
	switch kind {
	case "True", "False", "None":
		return kind, true
	}
	if n := len(kind); n >= 2 && (kind[0] == '\'' || kind[0] == '"') && kind[n-1] == kind[0] {
		return kind[1 : n-1], true
	}
	return "", false
}

// expand substitutes the target's values for the %(key)s in s, as Python's
// "s % target"; ok is false when target lacks a key, err reports any other
// conversion than %(key)s and %%, which parseCheck rejects.
func expand(s string, target map[string]string) (out string, ok bool, err error) {
	var b strings.Builder
	ok = true
	for {
		i := strings.IndexByte(s, '%')
		if i < 0 {
			b.WriteString(s)
			return b.String(), ok, nil
		}
		b.WriteString(s[:i])
		s = s[i+1:]
		if strings.HasPrefix(s, "%") {
			b.WriteByte('%')
			s = s[1:]
			continue
		}
		key, rest, found := strings.Cut(strings.TrimPrefix(s, "("), ")")
		if !strings.HasPrefix(s, "(") || !found || !strings.HasPrefix(rest, "s") {
			return "", false, fmt.Errorf("bad substitution %q: only %%(key)s and %%%% are supported", "%"+s)
		}
		v, has := target[key]
		ok = ok && has
		b.WriteString(v)
		s = rest[1:]
	}
}

// token is one token of a rule: "(", ")", "and", "or", "not", "string" (a
// quoted string, which no rule may hold), or "check" with its text.
type token struct{ kind, text string }

// tokenize splits a rule as oslo.policy's _parse_tokenize: on white space,
// with the parentheses that lead or trail a word taken apart from it.
func tokenize(rule string) []token {
	var toks []token
	for _, word := range strings.Fields(rule) {
		clean := strings.TrimLeft(word, "(")
		for range len(word) - len(clean) {
			toks = append(toks, token{"(", "("})
		}
		word = clean
		clean = strings.TrimRight(word, ")")
		switch lower := strings.ToLower(clean); {
		case lower == "and" || lower == "or" || lower == "not":
			toks = append(toks, token{lower, clean})
		case clean == "":
		case len(word) >= 2 && (word[0] == '"' || word[0] == '\'') && word[len(word)-1] == word[0]:
			toks = append(toks, token{"string", word})
		default:
			toks = append(toks, token{"check", clean})
		}
		for range len(word) - len(clean) {
			toks = append(toks, token{")", ")"})
		}
	}
	return toks
}

// parse parses a rule in oslo.policy's language: checks joined by "or" and
// "and", negated by "not", "not" binding tighter than "and" and "and" than
// "or", and parentheses. The empty rule always passes. Where oslo.policy logs a rule it cannot read and
// fails it closed, parse returns an error.
func parse(rule string) (check, error) {
	if rule == "" {
		return constCheck(true), nil
	}
	p := parser{toks: tokenize(rule)}
	c, err := p.or()
	if err == nil && p.pos < len(p.toks) {
		err = p.unexpected()
	}
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", rule, err)
	}
	return c, nil
}

type parser struct {
	toks []token
	pos  int
}

// accept consumes the next token if it is of kind.
func (p *parser) accept(kind string) bool {
	if p.pos < len(p.toks) && p.toks[p.pos].kind == kind {
		p.pos++
		return true
	}
	return false
}

func (p *parser) unexpected() error {
	if p.pos == len(p.toks) {
		return errors.New("unexpected end of rule")
	}
	return fmt.Errorf("unexpected %q", p.toks[p.pos].text)
}

// or parses and-expressions joined by "or".
func (p *parser) or() (check, error) {
	return p.list("or", p.and, func(cs []check) check { return orCheck(cs) })
}

// and parses unary expressions joined by "and".
func (p *parser) and() (check, error) {
	return p.list("and", p.unary, func(cs []check) check { return andCheck(cs) })
}

// list parses one or more terms joined by op, combined by mk if several.
func (p *parser) list(op string, term func() (check, error), mk func([]check) check) (check, error) {
	var cs []check
	for {
		c, err := term()
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
		if !p.accept(op) {
			break
		}
	}
	if len(cs) == 1 {
		return cs[0], nil
	}
	return mk(cs), nil
}

// unary parses "not" expressions, parenthesized ones and single checks.
func (p *parser) unary() (check, error) {
	switch {
	case p.accept("not"):
		c, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notCheck{c}, nil
	case p.accept("("):
		c, err := p.or()
		if err == nil && !p.accept(")") {
			err = p.unexpected()
		}
		return c, err
	case p.pos < len(p.toks) && p.toks[p.pos].kind == "check":
		p.pos++
		return parseCheck(p.toks[p.pos-1].text)
	}
	return nil, p.unexpected()
}

// parseCheck parses one check: "@", "!", rule:, role:, or a generic one.
func parseCheck(s string) (check, error) {
	switch s {
	case "@":
		return constCheck(true), nil
	case "!":
		return constCheck(false), nil
	}
	kind, match, ok := strings.Cut(s, ":")
	if !ok || kind == "" {
		return nil, fmt.Errorf("check %q is not of the form kind:match", s)
	}
	switch kind {
	case "rule":
		return ruleCheck(match), nil
	case "http", "https":
		return nil, fmt.Errorf("check %q: remote checks are not supported", s)
	}
	if _, _, err := expand(match, nil); err != nil {
		return nil, fmt.Errorf("check %q: %w", s, err)
	}
	if kind == "role" {
		return roleCheck(match), nil
	}
	lit, isLit := literal(kind)
	return genericCheck{kind: kind, match: match, lit: lit, isLit: isLit}, nil
}

// parseList parses the legacy list-of-lists form of a rule: the inner lists'
// checks are and-ed, the outer list's or-ed; an empty list always passes.
func parseList(rule []any) (check, error) {
	if len(rule) == 0 {
		return constCheck(true), nil
	}
	var alts orCheck
	for _, inner := range rule {
		var items []any
		switch v := inner.(type) {
		case string:
			items = []any{v}
		case []any:
			items = v
		default:
			return nil, fmt.Errorf("%v is neither a check nor a list of checks", inner)
		}
		if len(items) == 0 || inner == "" {
			continue
		}
		var all andCheck
		for _, it := range items {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("%v is not a check", it)
			}
			c, err := parseCheck(s)
			if err != nil {
				return nil, err
			}
			all = append(all, c)
		}
		if len(all) == 1 {
			alts = append(alts, all[0])
		} else {
			alts = append(alts, all)
		}
	}
	switch len(alts) {
	case 0:
		return constCheck(false), nil
	case 1:
		return alts[0], nil
	}
	return alts, nil
}
