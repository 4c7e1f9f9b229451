package keystore_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/civicledger/civicledger/internal/keystore"
)

func TestSealUnseal(t *testing.T) {
	secret := []byte(`{"salt":"00","identity":{"name":"Jane Example"}}`)
	s, err := keystore.Open(t.TempDir(), keystore.BackendFile, fixedPass("right"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetScryptWorkFactor(10); err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal(secret, "p")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("Jane")) || s.SealedExt() != ".age" {
		t.Fatalf("sealed %q (%s)", sealed, s.SealedExt())
	}
	plain, err := s.Unseal(sealed, "p", "doc")
	if err != nil || !bytes.Equal(plain, secret) {
		t.Fatalf("unseal: %q %v", plain, err)
	}
	wrong, _ := keystore.Open(s.Dir(), keystore.BackendFile, fixedPass("wrong"))
	if _, err := wrong.Unseal(sealed, "p", "doc"); !errors.Is(err, keystore.ErrBadPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	plainStore, _ := keystore.Open(t.TempDir(), keystore.BackendTest, nil)
	if b, err := plainStore.Seal(secret, "p"); err != nil || !bytes.Equal(b, secret) || plainStore.SealedExt() != ".json" {
		t.Fatalf("test backend: %q %v", b, err)
	}
}
