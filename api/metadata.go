package api

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"regexp"
	"slices"

	"github.com/gorilla/mux"
)

// mvETags is the microversion from which a volume's metadata carries an
// ETag and a change may be conditional on it (If-Match).
const mvETags = 15

// metadataAPI serves the user metadata of a resource's items,
// /{resource}/{id}/metadata[/{key}]: volumes' and snapshots'.
type metadataAPI struct {
	s        *server
	rules    metadataRules
	get      func(ctx context.Context, id string) (map[string]string, error)
	set      func(ctx context.Context, id string, md map[string]string, merge bool) (map[string]string, error)
	remove   func(ctx context.Context, id, key string) error
	notFound func(id, key string) error // an item's metadata lacks key
	strict   bool                       // Cinder's v3 schemas (one key in a PUT of a key) and ETags from 3.15
}

// metadataRules are the policy rules of reading, merging (POST), replacing
// or setting one key (PUT) and deleting metadata.
type metadataRules struct{ read, merge, update, remove string }

// metadataRoutes registers m under path, /{resource}/{id}/metadata.
func metadataRoutes(handle func(path string, h handler, methods ...string), path string, m metadataAPI) {
	handle(path, m.index, http.MethodGet)
	handle(path, m.merge, http.MethodPost)
	handle(path, m.replace, http.MethodPut)
	handle(path+"/{key}", m.show, http.MethodGet)
	handle(path+"/{key}", m.update, http.MethodPut)
	handle(path+"/{key}", m.delete, http.MethodDelete)
}

// index answers GET …/metadata: {"metadata": {…}}, with its ETag when strict from 3.15.
func (m metadataAPI) index(r *http.Request) (reply, error) {
	if err := m.s.authorize(r, m.rules.read); err != nil {
		return reply{}, err
	}
	md, err := m.get(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	body := object{{"metadata", metadataOf(md)}}
	if m.strict && ver(r).atLeast(mvETags) {
		return reply{http.StatusOK, headed{header: http.Header{"Etag": {etag(md)}}, body: body}}, nil
	}
	return reply{http.StatusOK, body}, nil
}

func (m metadataAPI) merge(r *http.Request) (reply, error)   { return m.setAll(r, true) }
func (m metadataAPI) replace(r *http.Request) (reply, error) { return m.setAll(r, false) }

// setAll answers POST (merge) and PUT (replace) …/metadata {"metadata":
// {…}} with the metadata as stored; a strict PUT from 3.15 answers 412
// when If-Match names no ETag of the metadata it would replace.
func (m metadataAPI) setAll(r *http.Request, merge bool) (reply, error) {
	md, err := metadataBody(r, "metadata", m.strict)
	if err != nil {
		return reply{}, err
	}
	rule := m.rules.update
	if merge {
		rule = m.rules.merge
	}
	if err := m.s.authorize(r, rule); err != nil {
		return reply{}, err
	}
	id := mux.Vars(r)["id"]
	if !merge {
		if ok, err := m.ifMatch(r, id); err != nil || !ok {
			return reply{status: http.StatusPreconditionFailed}, err
		}
	}
	all, err := m.set(r.Context(), id, md, merge)
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"metadata", all}}}, nil
}

// show answers GET …/metadata/{key}: {"meta": {key: value}}.
func (m metadataAPI) show(r *http.Request) (reply, error) {
	if err := m.s.authorize(r, m.rules.read); err != nil {
		return reply{}, err
	}
	id, key := mux.Vars(r)["id"], mux.Vars(r)["key"]
	md, err := m.get(r.Context(), id)
	if err != nil {
		return reply{}, err
	}
	value, ok := md[key]
	if !ok {
		return reply{}, m.notFound(id, key)
	}
	return reply{http.StatusOK, object{{"meta", map[string]string{key: value}}}}, nil
}

// update answers PUT …/metadata/{key} {"meta": {key: value}}: the body
// holds the URL's key and no other; a strict one from 3.15 answers 412
// when If-Match names no ETag of the metadata.
func (m metadataAPI) update(r *http.Request) (reply, error) {
	id, key := mux.Vars(r)["id"], mux.Vars(r)["key"]
	md, err := metadataBody(r, "meta", m.strict)
	if err != nil {
		return reply{}, err
	}
	if _, ok := md[key]; !ok {
		return reply{}, newFault(http.StatusBadRequest, "Request body and URI mismatch")
	}
	if len(md) > 1 {
		return reply{}, newFault(http.StatusBadRequest, "Request body contains too many items")
	}
	if err := m.s.authorize(r, m.rules.update); err != nil {
		return reply{}, err
	}
	if ok, err := m.ifMatch(r, id); err != nil || !ok {
		return reply{status: http.StatusPreconditionFailed}, err
	}
	if _, err := m.set(r.Context(), id, md, true); err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"meta", md}}}, nil
}

// delete answers DELETE …/metadata/{key}: 200, 404 when there is no such key.
func (m metadataAPI) delete(r *http.Request) (reply, error) {
	if err := m.s.authorize(r, m.rules.remove); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusOK}, m.remove(r.Context(), mux.Vars(r)["id"], mux.Vars(r)["key"])
}

// metadataBody reads a body {key: {metadata}}, as Cinder's metadata
// schemas; strict, as its v3 volume schemas, it has no other member and
// "meta" holds exactly one key.
func metadataBody(r *http.Request, key string, strict bool) (map[string]string, error) {
	body, err := readObject(r, key)
	if err != nil {
		return nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, missingElement(key)
	}
	if strict {
		if err := body.only("", key); err != nil {
			return nil, err
		}
		if obj, err := objectOf(key, raw); err == nil && key == "meta" && len(obj) != 1 {
			enough := map[bool]string{true: "does not have enough properties", false: "has too many properties"}[len(obj) == 0]
			return nil, invalidField(key, raw, "%s %s", pyRepr(raw), enough)
		}
	}
	return specsOf(key, raw, specKey, false)
}

// etag is the ETag of metadata md: the MD5 of its JSON {"metadata": md},
// as Cinder's.
func etag(md map[string]string) string {
	b, _ := appendJSON(nil, object{{"metadata", metadataOf(md)}}) // a map of strings always encodes
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// entityTag matches an entity tag of If-Match, as webob's.
var entityTag = regexp.MustCompile(`(?:^|\s)(W/)?"((?:\\"|.)*?)"`)

// ifMatch reports whether a strict change of item id's metadata may go on
// from 3.15: the request has no If-Match, or "*", or names the metadata's
// ETag. As webob, a value without quoted tags is one tag (as cinderclient
// sends it), and weak tags never match.
func (m metadataAPI) ifMatch(r *http.Request, id string) (bool, error) {
	match := r.Header.Get("If-Match")
	if !m.strict || !ver(r).atLeast(mvETags) || match == "" || match == "*" {
		return true, nil
	}
	md, err := m.get(r.Context(), id)
	if err != nil {
		return false, err
	}
	tags := entityTag.FindAllStringSubmatch(match, -1)
	if len(tags) == 0 {
		return match == etag(md), nil
	}
	return slices.ContainsFunc(tags, func(t []string) bool { return t[1] == "" && t[2] == etag(md) }), nil
}
