package api

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/volume"
)

// object is a JSON object whose keys keep their order, as Cinder's views.
type object []member

// member is one key of an object.
type member struct {
	key   string
	value any
}

// MarshalJSON writes the members in order.
func (o object) MarshalJSON() ([]byte, error) { return appendJSON(nil, o) }

// appendJSON appends v's JSON to b. Views are trees of objects, lists and
// scalars: encoding them here, rather than through json.Marshal and each
// object's MarshalJSON, skips the re-validation and compaction
// encoding/json gives every nested Marshaler's output, which made large
// lists cost several times their size. Other values go to json.Marshal.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case object:
		o := jsonObject{b: append(b, '{')}
		for _, m := range v {
			o.key(m.key)
			var err error
			if o.b, err = appendJSON(o.b, m.value); err != nil {
				return nil, err
			}
		}
		return append(o.b, '}'), nil
	case []object:
		return appendList(b, v)
	case []string:
		return appendList(b, v)
	case string:
		return appendString(b, v), nil
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case itemLinks:
		return v.appendTo(b), nil
	case volumeView:
		return v.appendJSON(b), nil
	case []volumeView:
		return appendList(b, v)
	case map[string]string: // metadata: keys sorted, as encoding/json
		if len(v) == 0 {
			return append(b, "{}"...), nil
		}
		b = append(b, '{')
		for i, k := range slices.Sorted(maps.Keys(v)) {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(appendString(b, k), ": "...)
			b = appendString(b, v[k])
		}
		return append(b, '}'), nil
	case []any:
		return appendList(b, v)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}

// appendList appends items to b as a JSON array.
func appendList[T any](b []byte, items []T) ([]byte, error) {
	b = append(b, '[')
	for i, e := range items {
		if i > 0 {
			b = append(b, ", "...)
		}
		var err error
		if b, err = appendJSON(b, e); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// appendString appends s as a JSON string, escaped as encoding/json does.
func appendString(b []byte, s string) []byte {
	return append(appendEscaped(append(b, '"'), s), '"')
}

// appendEscaped appends s escaped as in a JSON string, without the quotes.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainJSON[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, `\u00`...)
				b = append(b, hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			if r == utf8.RuneError {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, `\u202`...)
				b = append(b, hexDigits[r&0xF])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

const hexDigits = "0123456789abcdef"

// plainJSON tells the bytes a JSON string holds as they are: ASCII from
// space on, but for the quote, the backslash and the HTML characters
// encoding/json escapes.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return t
}()

// orNull is s, or JSON null when empty.
func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeOrNull formats t, or JSON null when nil.
func timeOrNull(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(cinder.TimeLayout)
}

// apiPrefix is the URL of the API as requested: scheme://host/v3, plus the
// project id when the URL named one (links follow the form requested).
func apiPrefix(r *http.Request) string {
	return baseURL(r) + "/v3" + projectPath(r)
}

func projectPath(r *http.Request) string {
	if p := mux.Vars(r)["project_id"]; p != "" {
		return "/" + p
	}
	return ""
}

// links are an item's self and bookmark links; the bookmark has no version.
func links(r *http.Request, collection, id string) itemLinks {
	return itemLinks{base: baseURL(r), path: projectPath(r), collection: collection, id: id}
}

// itemLinks is the value of an item's "links", which appendJSON writes
// from its parts: a list of a hundred volumes would otherwise build six
// values and four strings for each.
type itemLinks struct {
	base, path, collection, id string // base URL, /project or "", collection, item id
}

// appendTo appends l to b as JSON.
func (l itemLinks) appendTo(b []byte) []byte {
	b = append(b, `[{"rel": "self", "href": "`...)
	b = l.appendHref(appendEscaped(b, l.base), "/v3")
	b = append(b, `"}, {"rel": "bookmark", "href": "`...)
	b = l.appendHref(appendEscaped(b, l.base), "")
	return append(b, `"}]`...)
}

// appendHref appends the escaped path of the item after the base URL:
// version, project, collection and id. Each part starts with '/', so
// escaping them one by one is escaping their concatenation.
func (l itemLinks) appendHref(b []byte, version string) []byte {
	b = appendEscaped(appendEscaped(b, version), l.path)
	b = appendEscaped(append(b, '/'), l.collection)
	return appendEscaped(append(b, '/'), l.id)
}

// nextLink is the link to the page after lastID: the request's query with
// marker set, as Cinder's _get_next_link.
func nextLink(r *http.Request, collection, lastID string) []object {
	var parts []string
	marked := false
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			key = k
		}
		if key == "marker" {
			if marked {
				continue
			}
			v, marked = url.QueryEscape(lastID), true
		}
		parts = append(parts, k+"="+v)
	}
	if !marked {
		parts = append(parts, "marker="+url.QueryEscape(lastID))
	}
	return []object{{{"rel", "next"}, {"href", apiPrefix(r) + "/" + collection + "?" + strings.Join(parts, "&")}}}
}

// volumeSummary is a volume in GET /volumes.
func volumeSummary(r *http.Request, v *cinder.Volume) object {
	return object{{"id", v.ID}, {"name", orNull(v.DisplayName)}, {"links", links(r, "volumes", v.ID)}}
}

// publicStatuses maps internal statuses to those Cinder shows.
var publicStatuses = map[string]string{
	"managing":                "creating",
	"error_managing":          "error",
	"error_managing_deleting": "deleting",
}

// viewScope is what a volume's view takes from its request, read once for
// a whole list: microversion, admin rights, whether the policy shows the
// owning project, and the parts of its links.
type viewScope struct {
	mv         version
	admin      bool
	imageMeta  bool   // the policy shows volume_image_metadata
	tenant     bool   // volume_extension:volume_tenant_attribute allows
	base, path string // base URL, /project or ""
}

// scope reads the view scope of r, with what the policy lets the caller see.
func (s *server) scope(r *http.Request) viewScope {
	rc := cinder.FromContext(r.Context())
	return viewScope{mv: ver(r), admin: rc.IsAdmin, base: baseURL(r), path: projectPath(r),
		tenant:    s.policy.Check(rc, "volume_extension:volume_tenant_attribute", nil),
		imageMeta: s.policy.Check(rc, "volume_extension:volume_image_metadata:show", nil)}
}

// visibleAdminMetadata are the admin metadata keys every user sees, in a
// volume's metadata (Cinder's _visible_admin_metadata_keys).
var visibleAdminMetadata = []string{"readonly", "attached_mode"}

// visibleMetadata is v's metadata with its visible admin metadata over it,
// as Cinder's add_visible_admin_metadata; v's own map when it has none.
func visibleMetadata(v *cinder.Volume) map[string]string {
	md, copied := v.Metadata, false
	for _, k := range visibleAdminMetadata {
		value, ok := v.AdminMetadata[k]
		if !ok {
			continue
		}
		if !copied {
			md, copied = make(map[string]string, len(v.Metadata)+1), true
			maps.Copy(md, v.Metadata)
		}
		md[k] = value
	}
	return md
}

// volumeView is a volume as create, show, update and detail answer it, per
// microversion and admin rights (cinder/api/v3/views/volumes.py); with
// adminAttrs, the admin extension attributes of show and detail too. It
// writes its JSON directly: a hundred volumes as ordered objects of boxed
// values made half the garbage of GET volumes/detail.
type volumeView struct {
	scope      *viewScope
	v          *cinder.Volume
	t          *cinder.VolumeType   // nil when the volume has none or it is gone
	atts       []*cinder.Attachment // the volume's attachments (not deleted)
	adminAttrs bool
}

// volumeDetail is v's view for the request r.
func (s *server) volumeDetail(r *http.Request, v *cinder.Volume, t *cinder.VolumeType, adminAttrs bool) volumeView {
	scope := s.scope(r)
	return volumeView{scope: &scope, v: v, t: t, adminAttrs: adminAttrs}
}

// MarshalJSON writes the view.
func (vv volumeView) MarshalJSON() ([]byte, error) { return vv.appendJSON(nil), nil }

// appendJSON appends the view's JSON to b, keys in Cinder's order.
func (vv volumeView) appendJSON(b []byte) []byte {
	v, mv, admin := vv.v, vv.scope.mv, vv.scope.admin
	status := v.Status
	if s, ok := publicStatuses[status]; ok {
		status = s
	}
	o := jsonObject{b: append(b, '{')}
	o.str("id", v.ID)
	o.str("status", status)
	o.int("size", v.Size)
	o.strOrNull("availability_zone", v.AvailabilityZone)
	o.time("created_at", &v.CreatedAt)
	o.time("updated_at", v.UpdatedAt)
	o.strOrNull("name", v.DisplayName)
	o.strOrNull("description", v.DisplayDescription)
	switch {
	case vv.t != nil:
		o.str("volume_type", vv.t.Name)
	case !mv.atLeast(mvTypeIDInDetail):
		o.strOrNull("volume_type", v.VolumeTypeID)
	default:
		o.null("volume_type")
	}
	o.strOrNull("snapshot_id", v.SnapshotID)
	o.strOrNull("source_volid", v.SourceVolID)
	o.key("metadata")
	o.b, _ = appendJSON(o.b, visibleMetadata(v)) // a map[string]string always encodes
	o.key("links")
	o.b = itemLinks{base: vv.scope.base, path: vv.scope.path, collection: "volumes", id: v.ID}.appendTo(o.b)
	o.strOrNull("user_id", v.UserID)
	o.str("bootable", strconv.FormatBool(v.Bootable))
	o.bool("encrypted", vv.t != nil && vv.t.Encrypted)
	o.strOrNull("replication_status", v.ReplicationStatus)
	o.null("consistencygroup_id")
	o.bool("multiattach", v.Multiattach)
	o.key("attachments")
	o.b = vv.appendAttachments(o.b)
	if admin {
		o.strOrNull("migration_status", v.MigrationStatus)
	}
	if mv.atLeast(mvGroupVolume) {
		o.strOrNull("group_id", v.GroupID)
	}
	if admin && mv.atLeast(mvProviderID) {
		o.null("provider_id")
	}
	if mv.atLeast(mvSharedTargets) {
		// shared_targets is known once a backend holds the volume; before
		// 3.69 an unknown value shows as true, as Cinder.
		switch {
		case v.Host != "":
			o.bool("shared_targets", false)
		case !mv.atLeast(mvSharedTargetsTristate):
			o.bool("shared_targets", true)
		default:
			o.null("shared_targets")
		}
		o.strOrNull("service_uuid", v.ServiceUUID)
	}
	if admin && mv.atLeast(mvClusterName) {
		o.strOrNull("cluster_name", v.ClusterName)
	}
	if mv.atLeast(mvTypeIDInDetail) {
		o.strOrNull("volume_type_id", v.VolumeTypeID)
	}
	if mv.atLeast(mvUseQuota) {
		o.bool("consumes_quota", v.UseQuota)
	}
	if vv.adminAttrs && vv.scope.tenant {
		o.str("os-vol-tenant-attr:tenant_id", v.ProjectID)
	}
	if vv.adminAttrs && admin {
		o.strOrNull("os-vol-mig-status-attr:migstat", v.MigrationStatus)
		o.strOrNull("os-vol-mig-status-attr:name_id", v.NameID)
		o.strOrNull("os-vol-host-attr:host", v.Host)
	}
	if vv.adminAttrs && vv.scope.imageMeta && len(v.GlanceMetadata) > 0 {
		o.key("volume_image_metadata")
		o.b, _ = appendJSON(o.b, v.GlanceMetadata)
	}
	return append(o.b, '}')
}

// appendAttachments appends the volume's attachments that are attached, as
// Cinder's volume view lists them; the host only for an admin.
func (vv volumeView) appendAttachments(b []byte) []byte {
	b = append(b, '[')
	n := 0
	for _, a := range vv.atts {
		if a.AttachStatus != cinder.AttachAttached {
			continue
		}
		if n++; n > 1 {
			b = append(b, ", "...)
		}
		o := jsonObject{b: append(b, '{')}
		o.str("id", a.VolumeID)
		o.str("attachment_id", a.ID)
		o.str("volume_id", a.VolumeID)
		o.strOrNull("server_id", a.InstanceUUID)
		host := a.AttachedHost
		if !vv.scope.admin {
			host = ""
		}
		o.strOrNull("host_name", host)
		o.strOrNull("device", a.Mountpoint)
		o.time("attached_at", a.AttachTime)
		b = append(o.b, '}')
	}
	return append(b, ']')
}

// attachmentsOf reads the attachments of vols, by volume id, in one query;
// a volume detached has none to show, and is not asked about.
func (s *server) attachmentsOf(ctx context.Context, vols ...*cinder.Volume) (map[string][]*cinder.Attachment, error) {
	var ids []string
	for _, v := range vols {
		if v.AttachStatus != cinder.AttachDetached && v.AttachStatus != "" {
			ids = append(ids, v.ID)
		}
	}
	return s.store.VolumeAttachments(ctx, ids)
}

// jsonObject writes the members of a JSON object whose '{' is already in b.
type jsonObject struct {
	b []byte
	n int // members written
}

// key starts member k.
func (o *jsonObject) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ", "...)
	}
	o.n++
	o.b = append(appendString(o.b, k), ": "...)
}

func (o *jsonObject) str(k, s string) { o.key(k); o.b = appendString(o.b, s) }
func (o *jsonObject) null(k string)   { o.raw(k, "null") }
func (o *jsonObject) raw(k, json string) {
	o.key(k)
	o.b = append(o.b, json...)
}
func (o *jsonObject) int(k string, i int) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, int64(i), 10)
}
func (o *jsonObject) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// strOrNull writes s, or null when it is empty (orNull).
func (o *jsonObject) strOrNull(k, s string) {
	if s == "" {
		o.null(k)
		return
	}
	o.str(k, s)
}

// time writes t in Cinder's layout, or null when nil (timeOrNull).
func (o *jsonObject) time(k string, t *time.Time) {
	if t == nil {
		o.null(k)
		return
	}
	o.key(k)
	o.b = append(t.UTC().AppendFormat(append(o.b, '"'), cinder.TimeLayout), '"')
}

// visibleSpecs are the extra specs of t the caller may read, as Cinder's
// types view: every one with types_extra_specs:read_sensitive, else the
// user-visible ones with access_types_extra_specs, else none.
func (s *server) visibleSpecs(r *http.Request, t *cinder.VolumeType) map[string]string {
	rc := cinder.FromContext(r.Context())
	sensitive := s.policy.Check(rc, "volume_extension:types_extra_specs:read_sensitive", nil)
	if !sensitive && !s.policy.Check(rc, "volume_extension:access_types_extra_specs", nil) {
		return map[string]string{}
	}
	specs := map[string]string{}
	for k, v := range t.ExtraSpecs {
		if sensitive || volume.UserVisibleSpec(k) {
			specs[k] = v
		}
	}
	return specs
}
