package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gorilla/mux"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
	"github.com/cinder-go/cinder/volume"
)

// Volume transfers are served twice, as Cinder: the legacy extension
// /os-volume-transfer (its v2 controller: no no_snapshots, no paging) and
// /volume-transfers (its v3 controller, which Cinder serves at every
// microversion). Both answer links into os-volume-transfer.
const transferCollection = "os-volume-transfer"

// transferHistory appends what later microversions show of t: no_snapshots
// from 3.55, where it came from and went from 3.57.
func transferHistory(r *http.Request, o object, t *cinder.Transfer) object {
	if ver(r).atLeast(mvTransferSnapshots) {
		o = append(o, member{"no_snapshots", t.NoSnapshots})
	}
	if ver(r).atLeast(mvTransferHistory) {
		o = append(o, member{"destination_project_id", orNull(t.DestinationProjectID)},
			member{"source_project_id", orNull(t.SourceProjectID)}, member{"accepted", t.Accepted})
	}
	return o
}

// transferSummary is Cinder's summary view of t (cinder/api/views/transfers.py).
func transferSummary(r *http.Request, t *cinder.Transfer) object {
	return object{{"id", t.ID}, {"volume_id", t.VolumeID}, {"name", orNull(t.DisplayName)},
		{"links", links(r, transferCollection, t.ID)}}
}

// transferDetail is Cinder's detailed view of t.
func transferDetail(r *http.Request, t *cinder.Transfer) object {
	o := object{{"id", t.ID}, {"created_at", t.CreatedAt.UTC().Format(cinder.TimeLayout)}, {"name", orNull(t.DisplayName)},
		{"volume_id", t.VolumeID}, {"links", links(r, transferCollection, t.ID)}}
	return transferHistory(r, o, t)
}

// legacyTransfer reports whether r came through /os-volume-transfer.
func legacyTransfer(r *http.Request) bool {
	return strings.Contains(r.URL.Path, "/"+transferCollection)
}

func (s *server) listTransfers(r *http.Request) (reply, error) { return s.transferList(r, false) }
func (s *server) listTransfersDetail(r *http.Request) (reply, error) {
	return s.transferList(r, true)
}

// transferList answers GET of a transfers collection and its detail: the
// caller's project's transfers (every project's for an admin with
// all_tenants), filtered by the other query parameters; from 3.59 on
// /volume-transfers paged and sorted (created_at descending), before
// that, or on /os-volume-transfer, by creation.
func (s *server) transferList(r *http.Request, detailed bool) (reply, error) {
	if err := s.authorize(r, "volume:get_all_transfers"); err != nil {
		return reply{}, err
	}
	f, allTenants, limit, selects, err := transferFilter(r)
	if err != nil {
		return reply{}, err
	}
	transfers := []*cinder.Transfer{}
	if selects {
		if transfers, err = s.vol.ListTransfers(r.Context(), f, allTenants); err != nil {
			return reply{}, err
		}
	}
	view := transferSummary
	if detailed {
		view = transferDetail
	}
	items := make([]object, len(transfers))
	for i, t := range transfers {
		items[i] = view(r, t)
	}
	out := object{{"transfers", items}}
	if len(transfers) > 0 && limit <= len(transfers) {
		out = append(out, member{"transfers_links", nextLink(r, transferCollection, transfers[len(transfers)-1].ID)})
	}
	return reply{http.StatusOK, out}, nil
}

// transferFilter reads a transfer list's query: the filter, all_tenants,
// the page size for links, and whether the filters can select anything (a
// key that is no column of Cinder's Transfer model selects nothing).
func transferFilter(r *http.Request) (f db.TransferFilter, allTenants bool, limit int, selects bool, err error) {
	p, err := pageOf(r)
	if err != nil {
		return f, false, 0, false, err
	}
	limit = p.limit
	if allTenants, err = boolParam(r, "all_tenants", false); err != nil {
		return f, false, 0, false, err
	}
	q := r.URL.Query()
	q.Del("all_tenants")
	if !legacyTransfer(r) && ver(r).atLeast(mvTransferPaging) {
		f.Marker, f.Offset, f.Limit, f.SortKey, f.SortDescending = p.marker, p.offset, p.limit, p.sortKey, p.descending
		for _, k := range []string{"marker", "limit", "offset", "sort", "sort_key", "sort_dir"} {
			q.Del(k)
		}
	} else {
		// Before paging, Cinder passes every parameter as a filter (a page
		// selects nothing) and sorts by creation.
		f.Limit, f.SortKey = maxLimit, "created_at"
	}
	if q.Has("name") {
		q["display_name"] = q["name"]
		q.Del("name")
	}
	return f, allTenants, limit, selectTransfers(q, &f), nil
}

// selectTransfers sets f's equality filters from the query q and reports
// whether they can select anything. Cinder filters on project_id (its
// volume's, for an admin listing all_tenants) and any column of its
// Transfer model, and selects nothing for another key
// (is_valid_model_filters): here the ids, name and projects filter, and
// any other key selects nothing.
func selectTransfers(q url.Values, f *db.TransferFilter) bool {
	dst := map[string]*string{"id": &f.ID, "volume_id": &f.VolumeID, "display_name": &f.Name,
		"source_project_id": &f.Source, "destination_project_id": &f.Destination, "project_id": &f.ProjectID}
	for k := range q {
		p, ok := dst[k]
		if !ok {
			return false
		}
		*p = q.Get(k)
	}
	return true
}

// showTransfer answers GET /{transfers}/{id}.
func (s *server) showTransfer(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume:get_transfer"); err != nil {
		return reply{}, err
	}
	t, err := s.vol.GetTransfer(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusOK, object{{"transfer", transferDetail(r, t)}}}, nil
}

// createTransfer answers POST /{transfers}: 202 with the transfer and its
// auth key, shown this once.
func (s *server) createTransfer(r *http.Request) (reply, error) {
	req, err := parseTransferCreate(r)
	if err != nil {
		return reply{}, err
	}
	if err := s.authorize(r, "volume:create_transfer"); err != nil {
		return reply{}, err
	}
	t, key, err := s.vol.CreateTransfer(r.Context(), req)
	if err != nil {
		return reply{}, err
	}
	o := object{{"id", t.ID}, {"created_at", t.CreatedAt.UTC().Format(cinder.TimeLayout)}, {"name", orNull(t.DisplayName)},
		{"volume_id", t.VolumeID}, {"auth_key", key}, {"links", links(r, transferCollection, t.ID)}}
	return reply{http.StatusAccepted, object{{"transfer", transferHistory(r, o, t)}}}, nil
}

// parseTransferCreate validates a transfer create body as Cinder's schemas:
// no_snapshots only on /volume-transfers from 3.55; a name is trimmed.
// Encrypted volumes may be offered on /volume-transfers from 3.70.
func parseTransferCreate(r *http.Request) (volume.TransferRequest, error) {
	var req volume.TransferRequest
	t, err := readMember(r, "transfer")
	if err != nil {
		return req, err
	}
	allowed := []string{"volume_id", "name"}
	req.AllowEncrypted = !legacyTransfer(r) && ver(r).atLeast(mvTransferEncrypted)
	if !legacyTransfer(r) && ver(r).atLeast(mvTransferSnapshots) {
		allowed = append(allowed, "no_snapshots")
	}
	if err := t.only("transfer", allowed...); err != nil {
		return req, err
	}
	if err := t.required("transfer", "volume_id"); err != nil {
		return req, err
	}
	if req.VolumeID, err = uuidOf("volume_id", t["volume_id"], false); err != nil {
		return req, err
	}
	if raw, ok := t["name"]; ok && kind(raw) != "null" {
		name, err := stringOf("name", raw, false, 0)
		if err != nil || strings.TrimSpace(name) == "" || len([]rune(strings.TrimSpace(name))) > maxNameLen {
			return req, invalidField("name", raw, "%s is not valid under any of the given schemas", pyRepr(raw))
		}
		req.Name = strings.TrimSpace(name)
	}
	if raw, ok := t["no_snapshots"]; ok {
		if req.NoSnapshots, err = boolOf("no_snapshots", raw); err != nil {
			return req, err
		}
	}
	return req, nil
}

// acceptTransfer answers POST /{transfers}/{id}/accept {"accept":
// {"auth_key"}}: 202 with the transfer's summary once the volume is the
// caller's project's. A quota that cannot hold it is 413, Cinder's words
// without the exception's name.
func (s *server) acceptTransfer(r *http.Request) (reply, error) {
	a, err := readMember(r, "accept")
	if err != nil {
		return reply{}, err
	}
	if err := a.only("accept", "auth_key"); err != nil {
		return reply{}, err
	}
	if err := a.required("accept", "auth_key"); err != nil {
		return reply{}, err
	}
	key := a["auth_key"]
	if k := kind(key); k != "string" && (k != "number" || strings.ContainsAny(string(key), ".eE")) {
		return reply{}, invalidField("auth_key", key, "%s is not of type 'string', 'integer'", pyRepr(key))
	}
	if err := s.authorize(r, "volume:accept_transfer"); err != nil {
		return reply{}, err
	}
	t, err := s.vol.AcceptTransfer(r.Context(), mux.Vars(r)["id"], pyStr(key))
	var ce *cinder.Error
	if errors.As(err, &ce) && ce.Code == http.StatusRequestEntityTooLarge {
		return reply{}, &fault{code: ce.Code, message: ce.Message, retryAfter: "0"}
	}
	if err != nil {
		return reply{}, err
	}
	return reply{http.StatusAccepted, object{{"transfer", transferSummary(r, t)}}}, nil
}

// deleteTransfer answers DELETE /{transfers}/{id}: 202, the volume
// available again.
func (s *server) deleteTransfer(r *http.Request) (reply, error) {
	if err := s.authorize(r, "volume:delete_transfer"); err != nil {
		return reply{}, err
	}
	return reply{status: http.StatusAccepted}, s.vol.DeleteTransfer(r.Context(), mux.Vars(r)["id"])
}
