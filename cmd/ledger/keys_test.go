package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/civicledger/civicledger/internal/keystore"
)

func init() {
	// Cheap scrypt for every test of this package that uses the file backend.
	keysScryptWorkFactor = 4
}

// runKeysCLI runs the ledger command with args and returns stdout, stderr
// and the error Execute returned.
func runKeysCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errb.String(), err
}

// mustKeysCLI is runKeysCLI failing the test on error.
func mustKeysCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := runKeysCLI(t, args...)
	if err != nil {
		t.Fatalf("ledger %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func decodeKeysJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	return v
}

func TestKeysAddListShow(t *testing.T) {
	home := t.TempDir()
	base := []string{"--home", home, "--keyring-backend", "test"}
	kc := func(args ...string) string { return mustKeysCLI(t, append(base, args...)...) }

	out := kc("keys", "add", "alice", "--agency", "agency-1")
	ks, err := keystore.Open(filepath.Join(home, "keys"), keystore.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := ks.Show("alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"alice", "agency-1", alice.PubKey, "unencrypted"} {
		if !strings.Contains(out, want) {
			t.Errorf("add output lacks %q:\n%s", want, out)
		}
	}
	if pub, err := base64.StdEncoding.DecodeString(alice.PubKey); err != nil || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("pub key %q: %v", alice.PubKey, err)
	}

	bob := decodeKeysJSON[keystore.Info](t, kc("-o", "json", "keys", "add", "bob"))
	if bob.Name != "bob" || bob.Algo != "ed25519" || bob.Backend != "test" || bob.Agency != "" {
		t.Fatalf("add -o json = %+v", bob)
	}

	out = kc("keys", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || strings.Fields(lines[0])[0] != "NAME" ||
		strings.Join(strings.Fields(lines[1]), " ") != "alice agency-1 "+alice.PubKey ||
		strings.Join(strings.Fields(lines[2]), " ") != "bob - "+bob.PubKey {
		t.Fatalf("list output:\n%s", out)
	}
	list := decodeKeysJSON[[]keystore.Info](t, kc("keys", "list", "-o", "json"))
	if len(list) != 2 || list[0] != alice || list[1] != bob {
		t.Fatalf("list -o json = %+v", list)
	}

	out = kc("keys", "show", "alice")
	for _, want := range []string{"alice", "agency-1", alice.PubKey, "ed25519", "test"} {
		if !strings.Contains(out, want) {
			t.Errorf("show output lacks %q:\n%s", want, out)
		}
	}
	if got := decodeKeysJSON[keystore.Info](t, kc("keys", "show", "alice", "-o", "json")); got != alice {
		t.Fatalf("show -o json = %+v, want %+v", got, alice)
	}
	if out := kc("keys", "show", "alice", "--pubkey"); out != alice.PubKey+"\n" {
		t.Fatalf("show --pubkey = %q", out)
	}
	// Both encodings, labelled: base64 as records show keys, hex as events
	// and rule errors do.
	pub, _ := base64.StdEncoding.DecodeString(alice.PubKey)
	if alice.PubHex != hex.EncodeToString(pub) {
		t.Errorf("pub_key_hex %q, want %x", alice.PubHex, pub)
	}
	contains(t, "show", kc("keys", "show", "alice"), "pubkey:", alice.PubKey+" (base64", "pubkey hex:", alice.PubHex)
	contains(t, "list", kc("keys", "list"), "PUBKEY (BASE64)")

	// The file backend holds no keys here, the test backend two: listing
	// the file backend says where the others are.
	out, errOut, code := run(t, "--home", home, "keys", "list")
	if code != 0 || !strings.Contains(out, "no keys (backend file)") ||
		!strings.Contains(errOut, "2 key(s) of the test backend") || !strings.Contains(errOut, "--keyring-backend test") {
		t.Errorf("file backend list: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if _, errOut, _ := run(t, append(base, "keys", "list")...); strings.Contains(errOut, "note:") {
		t.Errorf("a note with no keys in the other backend: %s", errOut)
	}
}

func TestKeysEmptyList(t *testing.T) {
	home := t.TempDir()
	if out := mustKeysCLI(t, "--home", home, "--keyring-backend", "test", "keys", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("empty list -o json = %q", out)
	}
	if out := mustKeysCLI(t, "--home", home, "--keyring-backend", "test", "keys", "list"); !strings.Contains(out, "no keys") {
		t.Fatalf("empty list = %q", out)
	}
}

func TestKeysExportImportTestBackend(t *testing.T) {
	home1, home2 := t.TempDir(), t.TempDir()
	mustKeysCLI(t, "--home", home1, "--keyring-backend", "test", "keys", "add", "alice", "--agency", "agency-1")

	file := filepath.Join(t.TempDir(), "alice.key")
	out := mustKeysCLI(t, "--home", home1, "--keyring-backend", "test", "keys", "export", "alice", "--out", file)
	if !strings.Contains(out, file) {
		t.Errorf("export --out output: %q", out)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", st.Mode().Perm())
	}
	// Never overwrite an existing file.
	if _, _, err := runKeysCLI(t, "--home", home1, "--keyring-backend", "test", "keys", "export", "alice", "--out", file); err == nil {
		t.Fatal("export overwrote an existing file")
	}
	stdout := mustKeysCLI(t, "--home", home1, "--keyring-backend", "test", "keys", "export", "alice")
	if !json.Valid([]byte(stdout)) {
		t.Fatalf("export to stdout is not the JSON document:\n%s", stdout)
	}

	got := decodeKeysJSON[keystore.Info](t, mustKeysCLI(t, "--home", home2, "--keyring-backend", "test", "-o", "json", "keys", "import", "officer", file))
	want := decodeKeysJSON[keystore.Info](t, mustKeysCLI(t, "--home", home1, "--keyring-backend", "test", "-o", "json", "keys", "show", "alice"))
	if got.Name != "officer" || got.PubKey != want.PubKey || got.Agency != "agency-1" {
		t.Fatalf("import = %+v, exported %+v", got, want)
	}

	k1, err := loadSigner(&globalOpts{Home: home1, KeyringBackend: "test"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := loadSigner(&globalOpts{Home: home2, KeyringBackend: "test"}, "officer")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("tx")
	if !bytes.Equal(ed25519.Sign(k1, msg), ed25519.Sign(k2, msg)) {
		t.Fatal("imported key signs differently")
	}
}

func TestKeysFileBackend(t *testing.T) {
	t.Setenv(keystore.PassphraseEnv, "s3cret passphrase")
	home1, home2 := t.TempDir(), t.TempDir()

	out := mustKeysCLI(t, "--home", home1, "keys", "add", "alice", "--agency", "agency-1")
	if !strings.Contains(out, "passphrase") || !strings.Contains(out, "alice") {
		t.Fatalf("add output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(home1, "keys", "alice.age")); err != nil {
		t.Fatal(err)
	}
	alice := decodeKeysJSON[keystore.Info](t, mustKeysCLI(t, "--home", home1, "-o", "json", "keys", "show", "alice"))
	if alice.Backend != "file" {
		t.Fatalf("show = %+v", alice)
	}

	export := mustKeysCLI(t, "--home", home1, "keys", "export", "alice")
	if !strings.HasPrefix(export, "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Fatalf("file export is not armored age:\n%s", export)
	}
	file := filepath.Join(t.TempDir(), "alice.age")
	if err := os.WriteFile(file, []byte(export), 0o600); err != nil {
		t.Fatal(err)
	}
	mustKeysCLI(t, "--home", home2, "keys", "import", "alice", file)
	imported := decodeKeysJSON[keystore.Info](t, mustKeysCLI(t, "--home", home2, "-o", "json", "keys", "show", "alice"))
	if imported != alice {
		t.Fatalf("imported %+v, want %+v", imported, alice)
	}

	g := &globalOpts{Home: home2, KeyringBackend: "file"}
	priv, err := loadSigner(g, "alice")
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString(alice.PubKey)
	if !ed25519.Verify(pub, []byte("m"), ed25519.Sign(priv, []byte("m"))) {
		t.Fatal("loadSigner key does not match the public key")
	}

	t.Setenv(keystore.PassphraseEnv, "wrong")
	if _, err := loadSigner(g, "alice"); !errors.Is(err, keystore.ErrBadPassphrase) {
		t.Fatalf("loadSigner with wrong passphrase: %v", err)
	}
	if _, _, err := runKeysCLI(t, "--home", home1, "keys", "export", "alice"); !errors.Is(err, keystore.ErrBadPassphrase) {
		t.Fatalf("export with wrong passphrase: %v", err)
	}
}

func TestKeysDelete(t *testing.T) {
	home := t.TempDir()
	base := []string{"--home", home, "--keyring-backend", "test"}
	mustKeysCLI(t, append(base, "keys", "add", "alice")...)

	_, _, err := runKeysCLI(t, append(base, "keys", "delete", "alice")...)
	if err == nil || exitCode(err) != 2 {
		t.Fatalf("delete without --yes: %v (exit %d), want usage error", err, exitCode(err))
	}
	mustKeysCLI(t, append(base, "keys", "show", "alice")...) // still there

	if out := mustKeysCLI(t, append(base, "keys", "delete", "alice", "--yes")...); !strings.Contains(out, "alice") {
		t.Fatalf("delete output %q", out)
	}
	if _, _, err := runKeysCLI(t, append(base, "keys", "show", "alice")...); !errors.Is(err, keystore.ErrNotFound) || exitCode(err) != 1 {
		t.Fatalf("show after delete: %v", err)
	}
}

func TestKeysErrors(t *testing.T) {
	home := t.TempDir()
	base := []string{"--home", home, "--keyring-backend", "test"}
	mustKeysCLI(t, append(base, "keys", "add", "alice")...)

	cases := []struct {
		args []string
		code int
		is   error
	}{
		{[]string{"keys", "add", "alice"}, 1, keystore.ErrExists},
		{[]string{"keys", "add", ".hidden"}, 2, keystore.ErrBadName},
		{[]string{"keys", "add", "a/b"}, 2, keystore.ErrBadName},
		{[]string{"keys", "show", "../x"}, 2, keystore.ErrBadName},
		{[]string{"keys", "show", "nobody"}, 1, keystore.ErrNotFound},
		{[]string{"keys", "export", "nobody"}, 1, keystore.ErrNotFound},
		{[]string{"keys", "delete", "nobody", "--yes"}, 1, keystore.ErrNotFound},
		{[]string{"keys", "add"}, 2, nil},
		{[]string{"keys", "add", "a", "b"}, 2, nil},
		{[]string{"keys", "import", "x"}, 2, nil},
		{[]string{"keys", "list", "extra"}, 2, nil},
		{[]string{"keys", "frobnicate"}, 2, nil},
		{[]string{"keys", "show", "alice", "--no-such-flag"}, 2, nil},
		{[]string{"keys", "import", "bob", filepath.Join(home, "missing")}, 1, nil},
	}
	for _, c := range cases {
		_, _, err := runKeysCLI(t, append(base, c.args...)...)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		if got := exitCode(err); got != c.code {
			t.Errorf("%v: exit %d (%v), want %d", c.args, got, err, c.code)
		}
		if c.is != nil && !errors.Is(err, c.is) {
			t.Errorf("%v: %v, want %v", c.args, err, c.is)
		}
	}
}
