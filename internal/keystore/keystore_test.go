package keystore_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age/armor"

	"github.com/civicledger/civicledger/internal/keystore"
)

const testWorkFactor = 4 // keep scrypt cheap in tests

// fixedPass always returns p.
func fixedPass(p string) keystore.PassphraseFunc {
	return func(string, bool) ([]byte, error) { return []byte(p), nil }
}

// scriptedPass returns the passphrases in order and records the confirm flags.
type scriptedPass struct {
	mu       sync.Mutex
	answers  []string
	prompts  []string
	confirms []bool
}

func (s *scriptedPass) fn(prompt string, confirm bool) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prompts = append(s.prompts, prompt)
	s.confirms = append(s.confirms, confirm)
	if len(s.answers) == 0 {
		return nil, errors.New("unexpected passphrase request: " + prompt)
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return []byte(a), nil
}

func open(t *testing.T, dir string, b keystore.Backend, pass keystore.PassphraseFunc) *keystore.Store {
	t.Helper()
	s, err := keystore.Open(dir, b, pass)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetScryptWorkFactor(testWorkFactor); err != nil {
		t.Fatal(err)
	}
	return s
}

var backends = []keystore.Backend{keystore.BackendFile, keystore.BackendTest}

func keyFile(dir string, b keystore.Backend, name string) string {
	if b == keystore.BackendTest {
		return filepath.Join(dir, name+".json")
	}
	return filepath.Join(dir, name+".age")
}

func pubOf(t *testing.T, info keystore.Info) ed25519.PublicKey {
	t.Helper()
	pub, err := info.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestRoundTrip(t *testing.T) {
	for _, b := range backends {
		t.Run(string(b), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "home", "keys")
			s := open(t, dir, b, fixedPass("correct horse"))
			if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("key dir: %v, %v; want mode 0700", st.Mode(), err)
			}

			info, err := s.Add("alice", "agency-1")
			if err != nil {
				t.Fatal(err)
			}
			want := keystore.Info{Name: "alice", Algo: "ed25519", PubKey: info.PubKey, PubHex: hexOf(t, info.PubKey), Agency: "agency-1", Backend: string(b)}
			if info != want {
				t.Fatalf("Add = %+v, want %+v", info, want)
			}
			pub := pubOf(t, info)

			if _, err := s.Add("bob", ""); err != nil {
				t.Fatal(err)
			}
			list, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0] != info || list[1].Name != "bob" || list[1].Agency != "" {
				t.Fatalf("List = %+v", list)
			}

			shown, err := s.Show("alice")
			if err != nil || shown != info {
				t.Fatalf("Show = %+v, %v; want %+v", shown, err, info)
			}

			priv, err := s.PrivKey("alice")
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("award grant G-1")
			if !ed25519.Verify(pub, msg, ed25519.Sign(priv, msg)) {
				t.Fatal("signature by PrivKey does not verify with Info.PubKey")
			}

			for _, p := range []string{keyFile(dir, b, "alice"), filepath.Join(dir, "alice.pub.json")} {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v, want 0600", p, st.Mode().Perm())
				}
			}
			// No leftover temporary files.
			ents, _ := os.ReadDir(dir)
			if len(ents) != 4 {
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				t.Errorf("dir holds %v, want 2 keys + 2 sidecars", names)
			}

			// A store reopened on the same directory sees the same keys.
			s2 := open(t, dir, b, fixedPass("correct horse"))
			priv2, err := s2.PrivKey("alice")
			if err != nil || !bytes.Equal(priv, priv2) {
				t.Fatalf("reopened PrivKey: %v", err)
			}
		})
	}
}

func TestListAndShowNeedNoPassphrase(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, keystore.BackendFile, fixedPass("pw"))
	for _, n := range []string{"carol", "alice", "bob"} {
		if _, err := s.Add(n, ""); err != nil {
			t.Fatal(err)
		}
	}
	// A store that cannot ask for a passphrase can still list and show.
	ro := open(t, dir, keystore.BackendFile, nil)
	list, err := ro.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list {
		names = append(names, i.Name)
	}
	if strings.Join(names, ",") != "alice,bob,carol" {
		t.Fatalf("List names = %v, want sorted", names)
	}
	if _, err := ro.Show("bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := ro.PrivKey("bob"); err == nil {
		t.Fatal("PrivKey without a PassphraseFunc succeeded")
	}
}

func TestEmptyStore(t *testing.T) {
	s := open(t, t.TempDir(), keystore.BackendTest, nil)
	list, err := s.List()
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("List = %#v, %v; want empty non-nil", list, err)
	}
}

func TestWrongPassphrase(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, keystore.BackendFile, fixedPass("right"))
	if _, err := s.Add("alice", ""); err != nil {
		t.Fatal(err)
	}
	bad := open(t, dir, keystore.BackendFile, fixedPass("wrong"))
	if _, err := bad.PrivKey("alice"); !errors.Is(err, keystore.ErrBadPassphrase) {
		t.Fatalf("PrivKey with wrong passphrase: %v, want ErrBadPassphrase", err)
	}
	if _, err := bad.Export("alice"); !errors.Is(err, keystore.ErrBadPassphrase) {
		t.Fatalf("Export with wrong passphrase: %v, want ErrBadPassphrase", err)
	}
	if _, err := s.PrivKey("alice"); err != nil {
		t.Fatalf("right passphrase: %v", err)
	}
}

func TestEmptyPassphraseRefused(t *testing.T) {
	s := open(t, t.TempDir(), keystore.BackendFile, fixedPass(""))
	if _, err := s.Add("alice", ""); err == nil {
		t.Fatal("Add with empty passphrase succeeded")
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Fatalf("failed Add left a key: %+v", list)
	}
	failing := open(t, t.TempDir(), keystore.BackendFile, func(string, bool) ([]byte, error) {
		return nil, errors.New("no tty")
	})
	if _, err := failing.Add("alice", ""); err == nil || !strings.Contains(err.Error(), "no tty") {
		t.Fatalf("Add with failing PassphraseFunc: %v", err)
	}
}

func TestExportImport(t *testing.T) {
	for _, from := range backends {
		for _, to := range backends {
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				src := open(t, t.TempDir(), from, fixedPass("src-pass"))
				info, err := src.Add("alice", "agency-1")
				if err != nil {
					t.Fatal(err)
				}
				var exportPass *scriptedPass
				if from == keystore.BackendFile {
					// key passphrase, then a new passphrase for the export
					exportPass = &scriptedPass{answers: []string{"src-pass", "export-pass"}}
					src = open(t, src.Dir(), from, exportPass.fn)
				}
				data, err := src.Export("alice")
				if err != nil {
					t.Fatal(err)
				}
				if from == keystore.BackendFile {
					if got := exportPass.confirms; len(got) != 2 || got[0] || !got[1] {
						t.Fatalf("export confirm flags = %v, want [false true]", got)
					}
					if !bytes.HasPrefix(data, []byte(armor.Header)) {
						t.Fatalf("file export is not armored age:\n%s", data)
					}
				} else if !json.Valid(data) {
					t.Fatalf("test export is not JSON:\n%s", data)
				}

				var answers []string
				if from == keystore.BackendFile {
					answers = append(answers, "export-pass") // decrypt the export
				}
				if to == keystore.BackendFile {
					answers = append(answers, "dst-pass") // encrypt in the new store
				}
				importPass := &scriptedPass{answers: answers}
				dst := open(t, t.TempDir(), to, importPass.fn)
				got, err := dst.Import("alice2", data)
				if err != nil {
					t.Fatal(err)
				}
				if len(importPass.answers) != 0 {
					t.Fatalf("import asked %d passphrases, want %d", len(answers)-len(importPass.answers), len(answers))
				}
				want := keystore.Info{Name: "alice2", Algo: "ed25519", PubKey: info.PubKey, PubHex: hexOf(t, info.PubKey), Agency: "agency-1", Backend: string(to)}
				if got != want {
					t.Fatalf("Import = %+v, want %+v", got, want)
				}

				src = open(t, src.Dir(), from, fixedPass("src-pass"))
				dst = open(t, dst.Dir(), to, fixedPass("dst-pass"))
				p1, err := src.PrivKey("alice")
				if err != nil {
					t.Fatal(err)
				}
				p2, err := dst.PrivKey("alice2")
				if err != nil {
					t.Fatal(err)
				}
				msg := []byte("pay P-7")
				if !bytes.Equal(ed25519.Sign(p1, msg), ed25519.Sign(p2, msg)) {
					t.Fatal("imported key signs differently")
				}
				if shown, _ := dst.Show("alice2"); shown != want {
					t.Fatalf("Show after import = %+v", shown)
				}
			})
		}
	}
}

func TestImportWrongPassphrase(t *testing.T) {
	src := open(t, t.TempDir(), keystore.BackendFile, fixedPass("pw"))
	if _, err := src.Add("alice", ""); err != nil {
		t.Fatal(err)
	}
	data, err := src.Export("alice")
	if err != nil {
		t.Fatal(err)
	}
	dst := open(t, t.TempDir(), keystore.BackendFile, fixedPass("other"))
	if _, err := dst.Import("alice", data); !errors.Is(err, keystore.ErrBadPassphrase) {
		t.Fatalf("Import with wrong passphrase: %v, want ErrBadPassphrase", err)
	}
	if _, err := dst.Show("alice"); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("failed import left a key: %v", err)
	}
}

func TestImportRejectsBadData(t *testing.T) {
	src := open(t, t.TempDir(), keystore.BackendTest, nil)
	if _, err := src.Add("alice", ""); err != nil {
		t.Fatal(err)
	}
	good, err := src.Export("alice")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(good, &doc); err != nil {
		t.Fatal(err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	mutate := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range doc {
			m[kk] = vv
		}
		m[k] = v
		b, _ := json.Marshal(m)
		return b
	}
	cases := map[string][]byte{
		"empty":        nil,
		"garbage":      []byte("hello"),
		"bad json":     []byte("{"),
		"pub mismatch": mutate("pub_key", base64.StdEncoding.EncodeToString(other)),
		"short priv":   mutate("priv_key", base64.StdEncoding.EncodeToString(make([]byte, 32))),
		"bad algo":     mutate("algo", "secp256k1"),
		"bad created":  mutate("created", "yesterday"),
		"bad armor":    []byte(armor.Header + "\n!!!\n" + armor.Footer + "\n"),
	}
	dst := open(t, t.TempDir(), keystore.BackendTest, fixedPass("pw"))
	for name, data := range cases {
		if _, err := dst.Import("k", data); err == nil {
			t.Errorf("%s: Import succeeded", name)
		}
	}
	if list, _ := dst.List(); len(list) != 0 {
		t.Fatalf("failed imports left keys: %+v", list)
	}
}

func TestDuplicate(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, keystore.BackendFile, fixedPass("pw"))
	first, err := s.Add("alice", "a1")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "alice.age"))
	if _, err := s.Add("alice", "a2"); !errors.Is(err, keystore.ErrExists) {
		t.Fatalf("second Add: %v, want ErrExists", err)
	}
	data, err := s.Export("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import("alice", data); !errors.Is(err, keystore.ErrExists) {
		t.Fatalf("Import onto existing: %v, want ErrExists", err)
	}
	// A name is unique across backends sharing the directory.
	ts := open(t, dir, keystore.BackendTest, nil)
	if _, err := ts.Add("alice", ""); !errors.Is(err, keystore.ErrExists) {
		t.Fatalf("test-backend Add of a file-backend name: %v, want ErrExists", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "alice.age"))
	if !bytes.Equal(before, after) {
		t.Fatal("existing key file was modified")
	}
	if got, _ := s.Show("alice"); got != first {
		t.Fatalf("existing key changed: %+v", got)
	}
	// Each backend sees only its own keys.
	if list, _ := ts.List(); len(list) != 0 {
		t.Fatalf("test backend lists file-backend keys: %+v", list)
	}
}

func TestConcurrentAdd(t *testing.T) {
	s := open(t, t.TempDir(), keystore.BackendTest, nil)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Add("alice", "")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, keystore.ErrExists):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent Adds succeeded, want 1", ok)
	}
}

func TestBadNames(t *testing.T) {
	s := open(t, t.TempDir(), keystore.BackendTest, nil)
	bad := []string{
		"", ".hidden", ".", "..", "../x", "a/b", `a\b`, "a b", "tab\t", "nul\x00",
		"ünï", "alice.pub", "alice.PUB", strings.Repeat("x", 65), "a:b", "a*",
	}
	for _, n := range bad {
		if _, err := s.Add(n, ""); !errors.Is(err, keystore.ErrBadName) {
			t.Errorf("Add(%q): %v, want ErrBadName", n, err)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", n)) {
			t.Errorf("Add(%q): error %q does not name the key", n, err)
		}
		if _, err := s.Show(n); !errors.Is(err, keystore.ErrBadName) {
			t.Errorf("Show(%q): %v, want ErrBadName", n, err)
		}
		if _, err := s.PrivKey(n); !errors.Is(err, keystore.ErrBadName) {
			t.Errorf("PrivKey(%q): %v, want ErrBadName", n, err)
		}
		if err := s.Delete(n); !errors.Is(err, keystore.ErrBadName) {
			t.Errorf("Delete(%q): %v, want ErrBadName", n, err)
		}
		if _, err := s.Import(n, []byte("{}")); !errors.Is(err, keystore.ErrBadName) {
			t.Errorf("Import(%q): %v, want ErrBadName", n, err)
		}
	}
	for _, n := range []string{"a", "Z", "0", "alice-1", "a.b_c-d", "x.pubkey", strings.Repeat("y", 64)} {
		if _, err := s.Add(n, ""); err != nil {
			t.Errorf("Add(%q): %v", n, err)
		}
	}
}

func TestBadAgency(t *testing.T) {
	s := open(t, t.TempDir(), keystore.BackendTest, nil)
	for _, a := range []string{"a\nb", strings.Repeat("x", 129), "\xff"} {
		if _, err := s.Add("k", a); err == nil {
			t.Errorf("Add with agency %q succeeded", a)
		}
	}
}

func TestNotFound(t *testing.T) {
	s := open(t, t.TempDir(), keystore.BackendFile, fixedPass("pw"))
	if _, err := s.Show("nobody"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Show: %v", err)
	}
	if _, err := s.PrivKey("nobody"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("PrivKey: %v", err)
	}
	if _, err := s.Export("nobody"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Export: %v", err)
	}
	if err := s.Delete("nobody"); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Delete: %v", err)
	}
}

func TestDelete(t *testing.T) {
	for _, b := range backends {
		t.Run(string(b), func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, b, fixedPass("pw"))
			if _, err := s.Add("alice", ""); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete("alice"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Show("alice"); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("Show after Delete: %v", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("Delete left %d files", len(ents))
			}
			if err := s.Delete("alice"); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("second Delete: %v", err)
			}
			// The name can be reused.
			if _, err := s.Add("alice", ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAgeFileHoldsNoSecret(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, keystore.BackendFile, fixedPass("pw"))
	if _, err := s.Add("alice", "agency-1"); err != nil {
		t.Fatal(err)
	}
	priv, err := s.PrivKey("alice")
	if err != nil {
		t.Fatal(err)
	}
	age, err := os.ReadFile(filepath.Join(dir, "alice.age"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(age, []byte(armor.Header+"\n")) {
		t.Fatalf("key file is not armored age:\n%s", age)
	}
	side, err := os.ReadFile(filepath.Join(dir, "alice.pub.json"))
	if err != nil {
		t.Fatal(err)
	}
	export, err := s.Export("alice")
	if err != nil {
		t.Fatal(err)
	}
	seed := priv.Seed()
	var needles [][]byte
	for _, secret := range [][]byte{priv, seed} {
		needles = append(needles,
			secret,
			[]byte(base64.StdEncoding.EncodeToString(secret)),
			[]byte(base64.RawStdEncoding.EncodeToString(secret)),
			[]byte(base64.URLEncoding.EncodeToString(secret)),
			[]byte(base64.RawURLEncoding.EncodeToString(secret)),
			[]byte(hex.EncodeToString(secret)),
			[]byte(strings.ToUpper(hex.EncodeToString(secret))),
		)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"alice.age", age}, {"alice.pub.json", side}, {"export", export}} {
		for _, n := range needles {
			if bytes.Contains(f.data, n) {
				t.Errorf("%s contains private key material %q", f.name, n)
			}
		}
	}
	// The sidecar is the public part only.
	var pd map[string]any
	if err := json.Unmarshal(side, &pd); err != nil {
		t.Fatal(err)
	}
	if _, ok := pd["priv_key"]; ok || pd["name"] != "alice" || pd["algo"] != "ed25519" || pd["agency"] != "agency-1" {
		t.Fatalf("sidecar = %v", pd)
	}
}

func TestTestBackendDocument(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, keystore.BackendTest, nil)
	info, err := s.Add("alice", "agency-1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "alice.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Name, Algo, Agency, Created string
		PubKey                      string `json:"pub_key"`
		PrivKey                     string `json:"priv_key"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	priv, err := base64.StdEncoding.DecodeString(doc.PrivKey)
	if err != nil || len(priv) != ed25519.PrivateKeySize {
		t.Fatalf("priv_key: %v (%d bytes)", err, len(priv))
	}
	if doc.Name != "alice" || doc.Algo != "ed25519" || doc.Agency != "agency-1" || doc.PubKey != info.PubKey || doc.Created == "" {
		t.Fatalf("document = %+v", doc)
	}
	if !bytes.Equal(ed25519.PrivateKey(priv).Public().(ed25519.PublicKey), pubOf(t, info)) {
		t.Fatal("priv_key does not match pub_key")
	}
}

func TestTamperedFiles(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, keystore.BackendFile, fixedPass("pw"))
	if _, err := s.Add("alice", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("bob", ""); err != nil {
		t.Fatal(err)
	}
	// Sidecar claims another public key.
	other, _, _ := ed25519.GenerateKey(nil)
	side, _ := json.Marshal(map[string]string{"name": "alice", "algo": "ed25519", "pub_key": base64.StdEncoding.EncodeToString(other)})
	if err := os.WriteFile(filepath.Join(dir, "alice.pub.json"), side, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PrivKey("alice"); err == nil {
		t.Fatal("PrivKey accepted a sidecar that does not match the key")
	}
	// Key file renamed to another name.
	if err := os.Remove(filepath.Join(dir, "bob.age")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "alice.age"), filepath.Join(dir, "bob.age")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PrivKey("bob"); err == nil {
		t.Fatal("PrivKey accepted a key file holding another key")
	}
}

func TestForeignFilesIgnored(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, keystore.BackendTest, nil)
	if _, err := s.Add("alice", ""); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{".tmp-123", ".hidden.json", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Name != "alice" {
		t.Fatalf("List = %+v, %v", list, err)
	}
}

func TestOpen(t *testing.T) {
	if _, err := keystore.Open(t.TempDir(), "ledger", nil); err == nil {
		t.Error("unknown backend accepted")
	}
	if _, err := keystore.Open("", keystore.BackendTest, nil); err == nil {
		t.Error("empty dir accepted")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.Open(f, keystore.BackendTest, nil); err == nil {
		t.Error("regular file accepted as key directory")
	}
	s, err := keystore.Open(t.TempDir(), "", nil)
	if err != nil || s.Backend() != keystore.BackendFile {
		t.Errorf("default backend: %v, %v", s, err)
	}
	if err := s.SetScryptWorkFactor(0); err == nil {
		t.Error("work factor 0 accepted")
	}
	if err := s.SetScryptWorkFactor(31); err == nil {
		t.Error("work factor 31 accepted")
	}
}

// TestDefaultWorkFactor checks that production stores use age's default
// scrypt work factor (2^18): the stanza in the key file header says so.
func TestDefaultWorkFactor(t *testing.T) {
	if testing.Short() {
		t.Skip("scrypt at 2^18 is slow")
	}
	dir := t.TempDir()
	s, err := keystore.Open(dir, keystore.BackendFile, fixedPass("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("alice", ""); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "alice.age"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := io.ReadAll(armor.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	hdr, _, _ := bytes.Cut(raw, []byte("\n---"))
	lines := strings.Split(string(hdr), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "-> scrypt ") || !strings.HasSuffix(lines[1], " 18") {
		t.Fatalf("age header = %q, want one scrypt stanza with work factor 18", hdr)
	}
}

func TestPassphraseFromEnvOrTerminal(t *testing.T) {
	// Not a terminal: a regular file.
	in, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out bytes.Buffer
	pf := keystore.PassphraseFromEnvOrTerminal(in, &out)

	t.Setenv(keystore.PassphraseEnv, "from-env")
	for _, confirm := range []bool{false, true} {
		p, err := pf("passphrase: ", confirm)
		if err != nil || string(p) != "from-env" {
			t.Fatalf("with env (confirm=%v): %q, %v", confirm, p, err)
		}
	}

	t.Setenv(keystore.PassphraseEnv, "")
	if _, err := pf("passphrase: ", false); err == nil || !strings.Contains(err.Error(), keystore.PassphraseEnv) {
		t.Fatalf("without env or terminal: %v, want an error naming %s", err, keystore.PassphraseEnv)
	}
	if _, err := keystore.PassphraseFromEnvOrTerminal(nil, nil)("p", false); err == nil {
		t.Fatal("nil input accepted")
	}
	if out.Len() != 0 {
		t.Fatalf("prompted on a non-terminal: %q", out.String())
	}
}

// hexOf is the hex of a base64 key.
func hexOf(t *testing.T, b64 string) string {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(k) != 32 {
		t.Fatalf("public key %q: %v", b64, err)
	}
	return hex.EncodeToString(k)
}
