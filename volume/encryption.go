package volume

import (
	"context"

	"github.com/cinder-go/cinder"
)

// A volume type's encryption says who encrypts its volumes: the connector
// (front-end: os-brick's LUKS on the compute host) or the backend
// (back-end). Neither happens here, as in Cinder for front-end: the
// volumes hold what the connector writes. Keys come from Cinder's
// ConfKeyManager ([key_manager] backend =
// cinder.keymgr.conf_key_mgr.ConfKeyManager): one fixed key, whose id
// (cinder.FixedKeyID) every volume of an encrypted type gets, so a
// volume's encryption_key_id follows from its type and is not stored.
// Cinder's default key manager, Barbican, does not exist here.

// TypeEncryption returns the encryption of volume type typeID, which the
// caller must see: nil when it has none.
func (a *API) TypeEncryption(ctx context.Context, typeID string) (*cinder.Encryption, error) {
	if _, err := a.typeByID(ctx, typeID); err != nil {
		return nil, err
	}
	e, err := a.store.GetEncryption(ctx, typeID)
	if cinder.IsNotFound(err) {
		return nil, nil
	}
	return e, err
}

// CreateEncryption gives volume type e.VolumeTypeID encryption e, while no
// volume has the type, as Cinder checks it.
func (a *API) CreateEncryption(ctx context.Context, e *cinder.Encryption) error {
	if err := a.typeUnused(ctx, e.VolumeTypeID, "Cannot create encryption specs. Volume type in use."); err != nil {
		return err
	}
	if _, err := a.typeByID(ctx, e.VolumeTypeID); err != nil {
		return err
	}
	return a.store.CreateEncryption(ctx, e)
}

// UpdateEncryption lets change set the encryption of volume type typeID
// while no volume has the type.
func (a *API) UpdateEncryption(ctx context.Context, typeID string, change func(e *cinder.Encryption)) error {
	if _, err := a.typeByID(ctx, typeID); err != nil {
		return err
	}
	if err := a.typeUnused(ctx, typeID, "Cannot update encryption specs. Volume type in use."); err != nil {
		return err
	}
	_, err := a.store.UpdateEncryption(ctx, typeID, func(e *cinder.Encryption) error {
		change(e)
		return nil
	})
	return err
}

// DeleteEncryption deletes the encryption of volume type typeID while no
// volume has the type.
func (a *API) DeleteEncryption(ctx context.Context, typeID string) error {
	if err := a.typeUnused(ctx, typeID, "Cannot delete encryption specs. Volume type in use."); err != nil {
		return err
	}
	return a.store.DeleteEncryption(ctx, typeID)
}

// VolumeEncryption returns the encryption key id of volume id, which the
// caller must see, and its type's encryption: "" and nil when it is not
// encrypted.
func (a *API) VolumeEncryption(ctx context.Context, id string) (string, *cinder.Encryption, error) {
	v, err := a.Get(ctx, id)
	if err != nil {
		return "", nil, err
	}
	return a.encryption(ctx, v)
}

// encryption returns the encryption key id of v and its type's
// encryption: "" and nil when it is not encrypted.
func (a *API) encryption(ctx context.Context, v *cinder.Volume) (string, *cinder.Encryption, error) {
	if v.VolumeTypeID == "" {
		return "", nil, nil
	}
	e, err := a.store.GetEncryption(ctx, v.VolumeTypeID)
	switch {
	case cinder.IsNotFound(err):
		return "", nil, nil
	case err != nil:
		return "", nil, err
	}
	return cinder.FixedKeyID, e, nil
}

// checkEncryption refuses a new volume of encrypted type t whose
// encryption names no cipher, or which is multiattach too, as Cinder's
// create flow.
func (a *API) checkEncryption(ctx context.Context, t *cinder.VolumeType) error {
	if !t.Encrypted {
		return nil
	}
	e, err := a.store.GetEncryption(ctx, t.ID)
	switch {
	case cinder.IsNotFound(err): // deleted since t was read
		return nil
	case err != nil:
		return err
	case e.Cipher == nil || *e.Cipher == "":
		return cinder.Errorf("InvalidVolumeType", 400, "Invalid encryption spec")
	case t.Multiattach():
		return cinder.InvalidVolume("Multiattach cannot be used with encrypted volumes.")
	}
	return nil
}
