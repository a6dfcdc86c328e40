package volume

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"log/slog"

	"github.com/cinder-go/cinder"
	"github.com/cinder-go/cinder/db"
)

// Lengths of a transfer's salt and auth key, as Cinder's
// volume_transfer_salt_length and volume_transfer_key_length defaults.
const (
	transferSaltLength = 8
	transferKeyLength  = 16
)

// TransferRequest is a validated transfer create.
type TransferRequest struct {
	VolumeID       string
	Name           string
	NoSnapshots    bool // offer the volume without its snapshots (3.55)
	AllowEncrypted bool // an encrypted volume may be offered, with its snapshots (3.70)
}

// GetTransfer returns transfer id if the caller may see it: one of a volume
// of its own project, or any for an admin; otherwise TransferNotFound, as
// Cinder's transfer_get.
func (a *API) GetTransfer(ctx context.Context, id string) (*cinder.Transfer, error) {
	t, err := a.store.GetTransfer(ctx, id)
	if err != nil {
		return nil, err
	}
	if rc := cinder.FromContext(ctx); !rc.IsAdmin {
		v, err := a.store.GetVolume(ctx, t.VolumeID)
		if cinder.IsNotFound(err) || err == nil && v.ProjectID != rc.ProjectID {
			return nil, cinder.TransferNotFound(id)
		}
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// ListTransfers returns the transfers f selects among those of the caller's
// project, or among every project's for an admin asking allTenants.
func (a *API) ListTransfers(ctx context.Context, f db.TransferFilter, allTenants bool) ([]*cinder.Transfer, error) {
	if rc := cinder.FromContext(ctx); !rc.IsAdmin || !allTenants {
		f.ProjectID = rc.ProjectID
	}
	return a.store.ListTransfers(ctx, f)
}

// CreateTransfer offers volume req.VolumeID to another project, as
// transfer/api.py create: the volume must be available and, unless offered
// without them, so must its snapshots; it goes awaiting-transfer. It
// returns the transfer and its auth key, which is stored only as a salted
// HMAC and so is never shown again. An encrypted volume is offered only
// when req allows it, and with its snapshots; its key stays the fixed key
// of ConfKeyManager, whose transfers change no key id.
func (a *API) CreateTransfer(ctx context.Context, req TransferRequest) (*cinder.Transfer, string, error) {
	v, err := a.Get(ctx, req.VolumeID)
	if err != nil {
		return nil, "", err
	}
	ctx = context.WithoutCancel(ctx)
	if v.Status != cinder.StatusAvailable {
		return nil, "", cinder.InvalidVolume("status must be available")
	}
	keyID, _, err := a.encryption(ctx, v)
	switch {
	case err != nil:
		return nil, "", err
	case keyID != "" && !req.AllowEncrypted:
		return nil, "", cinder.InvalidVolume("transferring encrypted volume is not supported")
	case keyID != "" && req.NoSnapshots:
		return nil, "", cinder.InvalidVolume("transferring an encrypted volume without its snapshots is not supported")
	}
	if !req.NoSnapshots {
		snaps, err := a.store.ListSnapshots(ctx, db.SnapshotFilter{VolumeID: v.ID})
		if err != nil {
			return nil, "", err
		}
		for _, s := range snaps {
			if s.Status != cinder.SnapshotAvailable {
				return nil, "", cinder.Errorf("InvalidSnapshot", 400, "Invalid snapshot: snapshot: %s status must be available", s.ID)
			}
		}
	}
	salt, key := randomHex(transferSaltLength), randomHex(transferKeyLength)
	t := &cinder.Transfer{VolumeID: v.ID, DisplayName: req.Name, Salt: salt, CryptHash: cryptHash(salt, key),
		NoSnapshots: req.NoSnapshots, SourceProjectID: v.ProjectID}
	if err := a.store.CreateTransfer(ctx, t); err != nil {
		return nil, "", err
	}
	slog.Info("created transfer", "transfer_id", t.ID, "volume_id", v.ID, "request_id", cinder.FromContext(ctx).RequestID)
	return t, key, nil
}

// randomHex is n random hexadecimal digits: characters a recipient can
// type, as Cinder's _get_random_string.
func randomHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)[:n]
}

// cryptHash is Cinder's _get_crypt_hash: HMAC-SHA1 of key keyed by salt, in hex.
func cryptHash(salt, key string) string {
	m := hmac.New(sha1.New, []byte(salt))
	m.Write([]byte(key))
	return hex.EncodeToString(m.Sum(nil))
}

// AcceptTransfer gives the volume of transfer id, of any project, to the
// caller's project when authKey is the transfer's, as transfer/api.py
// accept: the accepting project's quota must hold the volume (and its
// snapshots, when they go with it), the volume's backend is told of its new
// owner, and then one transaction moves the volume (available again) and
// its snapshots and ends the transfer; that write ends the quota hold,
// which a failure before it gives up. It returns the transfer as it was.
func (a *API) AcceptTransfer(ctx context.Context, id, authKey string) (_ *cinder.Transfer, err error) {
	t, err := a.store.GetTransfer(ctx, id)
	if err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	if !hmac.Equal([]byte(cryptHash(t.Salt, authKey)), []byte(t.CryptHash)) {
		slog.Warn("transfer accept with an invalid auth key", "transfer_id", id, "request_id", cinder.FromContext(ctx).RequestID)
		return nil, cinder.Errorf("InvalidAuthKey", 400, "Invalid auth key: Attempt to transfer %s with invalid auth key.", id)
	}
	v, err := a.store.GetVolume(ctx, t.VolumeID)
	if err != nil {
		return nil, err
	}
	rc := cinder.FromContext(ctx)
	if err := a.transferQuota(ctx, rc.ProjectID, v, t.NoSnapshots); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // the rows did not move, so their write ended no hold
			a.rollbackQuota(ctx, v.ID)
		}
	}()
	if v.Status == cinder.StatusMaintenance {
		return nil, cinder.InvalidVolume("The volume cannot accept transfer in maintenance mode.")
	}
	if err := a.backends.AcceptTransfer(ctx, v, rc.UserID, rc.ProjectID, t.NoSnapshots); err != nil {
		return nil, unreachable(err, "Could not ask cinder-volume to accept the transfer of volume %s", v.ID)
	}
	if _, _, err := a.store.AcceptTransfer(ctx, id, rc.UserID, rc.ProjectID); err != nil {
		return nil, err
	}
	slog.Info("volume transferred", "transfer_id", id, "volume_id", v.ID, "from", v.ProjectID, "to", rc.ProjectID, "request_id", rc.RequestID)
	return t, nil
}

// transferQuota holds room for v, and for v's snapshots unless
// noSnapshots, in project's quotas, as the reservations of transfer/api.py
// accept (VolumeLimitExceeded, VolumeSizeExceedsAvailableQuota, … 413).
// The rows' move ends the hold (followVolume) as it moves their usage
// from the donor to project; a failure before it must give it up.
func (a *API) transferQuota(ctx context.Context, project string, v *cinder.Volume, noSnapshots bool) error {
	limits, err := a.projectLimits(ctx, project)
	if err != nil {
		return err
	}
	deltas := map[string]int{db.QuotaVolumes: 1, db.QuotaGigabytes: v.Size}
	if !noSnapshots {
		snaps, err := a.store.ListSnapshots(ctx, db.SnapshotFilter{VolumeID: v.ID})
		if err != nil {
			return err
		}
		for _, s := range snaps {
			if s.UseQuota {
				deltas[db.QuotaSnapshots]++
				deltas[db.QuotaGigabytes] += s.VolumeSize
			}
		}
	}
	err = a.reserve(ctx, project, v.ID, v.VolumeTypeID, limits, deltas)
	return overQuota(err, db.QuotaVolumes, deltas[db.QuotaGigabytes])
}

// DeleteTransfer withdraws transfer id: its volume, if still
// awaiting-transfer, is available again.
func (a *API) DeleteTransfer(ctx context.Context, id string) error {
	t, err := a.GetTransfer(ctx, id)
	if err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	v, err := a.Get(ctx, t.VolumeID)
	if err != nil {
		return err
	}
	if v.Status != cinder.StatusAwaitingTransfer {
		slog.Error("volume of a transfer being deleted is not awaiting-transfer; leaving its status", "transfer_id", id,
			"volume_id", v.ID, "status", v.Status)
	}
	return a.store.DestroyTransfer(ctx, id)
}
