package cinder

import "time"

// Transfer is one row of the transfers table: an offer of a volume to
// whichever project accepts it with the auth key. The key itself is never
// stored, only Salt and CryptHash (HMAC-SHA1 of the key keyed by the salt),
// as Cinder's transfer API.
type Transfer struct {
	ID                   string
	VolumeID             string
	DisplayName          string
	Salt                 string
	CryptHash            string
	NoSnapshots          bool // the volume goes without its snapshots (3.55)
	SourceProjectID      string
	DestinationProjectID string // set once accepted
	Accepted             bool
	CreatedAt            time.Time
	UpdatedAt            *time.Time
	DeletedAt            *time.Time
	Deleted              bool
}

// TransferNotFound is TransferNotFound (404) for transfer id.
func TransferNotFound(id string) *Error {
	return Errorf("TransferNotFound", 404, "Transfer %s could not be found.", id)
}
