package cinder

import "time"

// FixedKeyID is the id of the one key of Cinder's ConfKeyManager
// (cinder.keymgr.conf_key_mgr.ConfKeyManager, [key_manager] fixed_key),
// which every encrypted volume gets: this Cinder has no Barbican.
const FixedKeyID = "00000000-0000-0000-0000-000000000000"

// Encryption is a volume type's encryption, a row of Cinder's encryption
// table: who encrypts the volumes of the type (control_location front-end,
// the connector, or back-end, the backend) and how.
type Encryption struct {
	ID              string // encryption_id
	VolumeTypeID    string
	Provider        string
	Cipher          *string // nil when none was given
	KeySize         *int    // bits; nil when none was given
	ControlLocation string
	CreatedAt       time.Time
	UpdatedAt       *time.Time
}
