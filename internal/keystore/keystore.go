package keystore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"filippo.io/age"
	"filippo.io/age/armor"
	"golang.org/x/term"

	"github.com/civicledger/civicledger/internal/atomicfile"
)

// Backend selects how private keys are stored.
type Backend string

const (
	// BackendFile stores each key age-encrypted to a passphrase. Default.
	BackendFile Backend = "file"
	// BackendTest stores each key as plain, unencrypted JSON. UNSAFE: for
	// demos and tests only.
	BackendTest Backend = "test"
)

// PassphraseEnv is the environment variable read by
// [PassphraseFromEnvOrTerminal].
const PassphraseEnv = "LEDGER_KEY_PASSPHRASE"

// AlgoEd25519 is the only key algorithm supported.
const AlgoEd25519 = "ed25519"

// Sentinel errors; test with errors.Is.
var (
	ErrNotFound      = errors.New("key not found")
	ErrExists        = errors.New("key already exists")
	ErrBadPassphrase = errors.New("wrong passphrase")
	ErrBadName       = errors.New("invalid key name")
	ErrTooLarge      = errors.New("file too large")
)

// PassphraseFunc returns a passphrase. prompt says what it is for; confirm is
// true when a new passphrase is being chosen (an interactive implementation
// asks twice).
type PassphraseFunc func(prompt string, confirm bool) ([]byte, error)

// Info is the public description of a stored key.
type Info struct {
	Name    string `json:"name"`
	Algo    string `json:"algo"`
	PubKey  string `json:"pub_key"`     // base64 (std) of the 32-byte public key, as agency records hold it
	PubHex  string `json:"pub_key_hex"` // the same key in hex, as events and the tx index name it
	Agency  string `json:"agency,omitempty"`
	Backend string `json:"backend"`
}

// PublicKey decodes i.PubKey.
func (i Info) PublicKey() (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(i.PubKey)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("key %q: malformed public key", i.Name)
	}
	return ed25519.PublicKey(b), nil
}

const (
	maxNameLen        = 64
	maxAgencyLen      = 128
	maxFileSize       = 64 << 10 // no key file or export comes close
	defaultWorkFactor = 18       // age's default: about 1s on a modern machine
	maxWorkFactor     = 22       // accepted when decrypting (age's default cap)

	extAge     = ".age"
	extJSON    = ".json"
	extSidecar = ".pub.json"
	ageBinHdr  = "age-encryption.org/"
)

// Store is a directory of keys of one backend. Its methods may be called
// concurrently; files are never overwritten, so two concurrent Adds of the
// same name cannot both succeed.
type Store struct {
	dir        string
	backend    Backend
	pass       PassphraseFunc
	workFactor int
}

// Open opens (creating it with mode 0700 if missing) the key directory dir.
// backend "" means [BackendFile]. pass is only called by the file backend (and
// when importing an encrypted export) and may be nil for [BackendTest].
func Open(dir string, backend Backend, pass PassphraseFunc) (*Store, error) {
	if backend == "" {
		backend = BackendFile
	}
	if backend != BackendFile && backend != BackendTest {
		return nil, fmt.Errorf("keystore: unknown backend %q (want %q or %q)", backend, BackendFile, BackendTest)
	}
	if dir == "" {
		return nil, errors.New("keystore: empty key directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("keystore: %s is not a directory", dir)
	}
	return &Store{dir: dir, backend: backend, pass: pass, workFactor: defaultWorkFactor}, nil
}

// Dir returns the key directory.
func (s *Store) Dir() string { return s.dir }

// Backend returns the store's backend.
func (s *Store) Backend() Backend { return s.backend }

// SetScryptWorkFactor sets the scrypt work factor (2^logN) used when
// encrypting keys and exports; the default is 18. Lower values make
// passphrase guessing cheaper: use them in tests only. Call it before using
// the store.
func (s *Store) SetScryptWorkFactor(logN int) error {
	if logN < 1 || logN > 30 {
		return fmt.Errorf("keystore: scrypt work factor %d out of range [1, 30]", logN)
	}
	s.workFactor = logN
	return nil
}

// keyDoc is the plaintext key document.
type keyDoc struct {
	Name    string `json:"name"`
	Algo    string `json:"algo"`
	PubKey  string `json:"pub_key"`
	PrivKey string `json:"priv_key"`
	Agency  string `json:"agency,omitempty"`
	Created string `json:"created"`
}

// pubDoc is the public sidecar.
type pubDoc struct {
	Name   string `json:"name"`
	Algo   string `json:"algo"`
	PubKey string `json:"pub_key"`
	Agency string `json:"agency,omitempty"`
}

// Add generates a new key called name. It fails with [ErrExists] if the name
// is taken (by a key of either backend).
func (s *Store) Add(name, agency string) (Info, error) {
	if err := checkName(name); err != nil {
		return Info{}, err
	}
	if err := checkAgency(agency); err != nil {
		return Info{}, err
	}
	if err := s.checkFree(name); err != nil {
		return Info{}, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Info{}, fmt.Errorf("keystore: generate key: %w", err)
	}
	doc := keyDoc{
		Name:    name,
		Algo:    AlgoEd25519,
		PubKey:  base64.StdEncoding.EncodeToString(pub),
		PrivKey: base64.StdEncoding.EncodeToString(priv),
		Agency:  agency,
		Created: time.Now().UTC().Format(time.RFC3339),
	}
	if err := s.save(doc); err != nil {
		return Info{}, err
	}
	return s.info(doc.Name, doc.PubKey, doc.Agency), nil
}

// Import stores, under name, a key exported by [Store.Export] of either
// backend: an armored (or binary) age file, decrypted with a passphrase asked
// through the store's PassphraseFunc, or a plain key document. The key is
// then stored like a new key (the file backend asks for the passphrase to
// store it with). The name inside the export is ignored.
func (s *Store) Import(name string, data []byte) (Info, error) {
	if err := checkName(name); err != nil {
		return Info{}, err
	}
	if err := s.checkFree(name); err != nil {
		return Info{}, err
	}
	if len(data) > maxFileSize {
		return Info{}, fmt.Errorf("keystore: import %q: data too large (%d bytes)", name, len(data))
	}
	var plain []byte // decrypted copy, or a view of data
	decrypted := false
	trimmed := bytes.TrimSpace(data)
	switch {
	case bytes.HasPrefix(trimmed, []byte(armor.Header)), bytes.HasPrefix(data, []byte(ageBinHdr)):
		var src io.Reader = bytes.NewReader(data)
		if bytes.HasPrefix(trimmed, []byte(armor.Header)) {
			src = armor.NewReader(src)
		}
		p, err := s.decrypt(src, fmt.Sprintf("passphrase of the exported key to import as %q: ", name), "import "+name)
		if err != nil {
			return Info{}, err
		}
		plain, decrypted = p, true
	case bytes.HasPrefix(trimmed, []byte("{")):
		plain = trimmed
	default:
		return Info{}, fmt.Errorf("keystore: import %q: unrecognised format (want the output of export: an armored age file or a JSON key document)", name)
	}
	doc, _, err := parseKeyDoc(plain)
	if decrypted {
		wipe(plain)
	}
	if err != nil {
		return Info{}, fmt.Errorf("keystore: import %q: %w", name, err)
	}
	doc.Name = name
	if doc.Created == "" {
		doc.Created = time.Now().UTC().Format(time.RFC3339)
	}
	if err := s.save(doc); err != nil {
		return Info{}, err
	}
	return s.info(doc.Name, doc.PubKey, doc.Agency), nil
}

// Export returns the key called name in the export format: for the file
// backend, an armored age file encrypted to a passphrase asked (with
// confirmation) after the key's own passphrase, possibly a different one; for
// the test backend, the plain key document.
func (s *Store) Export(name string) ([]byte, error) {
	doc, _, err := s.load(name)
	if err != nil {
		return nil, err
	}
	plain, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	defer wipe(plain)
	if s.backend == BackendTest {
		return append(bytes.Clone(plain), '\n'), nil
	}
	pass, err := s.askPass(fmt.Sprintf("passphrase to protect the export of key %q: ", name), true)
	if err != nil {
		return nil, err
	}
	return s.encrypt(plain, pass)
}

// List returns the keys of the store's backend, sorted by name.
func (s *Store) List() ([]Info, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	out := []Info{}
	for _, e := range entries {
		fn := e.Name()
		if !e.Type().IsRegular() || strings.HasSuffix(fn, extSidecar) || !strings.HasSuffix(fn, s.ext()) {
			continue
		}
		name := strings.TrimSuffix(fn, s.ext())
		if checkName(name) != nil {
			continue // not a key file (temporary file, foreign file)
		}
		info, err := s.readInfo(name)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Show returns the public description of the key called name, without
// asking for a passphrase.
func (s *Store) Show(name string) (Info, error) {
	if err := s.checkExists(name); err != nil {
		return Info{}, err
	}
	return s.readInfo(name)
}

// PrivKey decrypts and returns the private key called name. A wrong
// passphrase gives an error wrapping [ErrBadPassphrase].
func (s *Store) PrivKey(name string) (ed25519.PrivateKey, error) {
	_, priv, err := s.load(name)
	return priv, err
}

// Delete removes the key called name and its public sidecar. It cannot be
// undone.
func (s *Store) Delete(name string) error {
	if err := s.checkExists(name); err != nil {
		return err
	}
	if err := os.Remove(s.keyPath(name)); err != nil {
		return fmt.Errorf("keystore: delete %q: %w", name, err)
	}
	if err := os.Remove(s.sidecarPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keystore: delete %q: %w", name, err)
	}
	_ = atomicfile.SyncDir(s.dir) // best effort: the removal itself succeeded
	return nil
}

// PassphraseFromEnvOrTerminal returns a PassphraseFunc that uses the
// LEDGER_KEY_PASSPHRASE environment variable when it is set and non-empty,
// otherwise reads from in without echo if in is a terminal (asking twice when
// confirm is set), writing prompts to out. Without either it fails with an
// error saying how to provide a passphrase. Empty passphrases are refused.
func PassphraseFromEnvOrTerminal(in *os.File, out io.Writer) PassphraseFunc {
	if out == nil {
		out = io.Discard
	}
	return func(prompt string, confirm bool) ([]byte, error) {
		if v := os.Getenv(PassphraseEnv); v != "" {
			return []byte(v), nil
		}
		if in == nil || !term.IsTerminal(int(in.Fd())) {
			return nil, fmt.Errorf("a passphrase is needed: set %s or run in a terminal", PassphraseEnv)
		}
		read := func(p string) ([]byte, error) {
			fmt.Fprint(out, p)
			b, err := term.ReadPassword(int(in.Fd()))
			fmt.Fprintln(out)
			if err != nil {
				return nil, fmt.Errorf("read passphrase: %w", err)
			}
			return b, nil
		}
		if prompt == "" {
			prompt = "passphrase: "
		}
		p, err := read(prompt)
		if err != nil {
			return nil, err
		}
		if len(p) == 0 {
			return nil, errors.New("empty passphrase")
		}
		if confirm {
			again, err := read("repeat passphrase: ")
			if err != nil {
				wipe(p)
				return nil, err
			}
			same := bytes.Equal(p, again)
			wipe(again)
			if !same {
				wipe(p)
				return nil, errors.New("passphrases do not match")
			}
		}
		return p, nil
	}
}

// ---- internals ----

func (s *Store) ext() string {
	if s.backend == BackendTest {
		return extJSON
	}
	return extAge
}

func (s *Store) keyPath(name string) string     { return filepath.Join(s.dir, name+s.ext()) }
func (s *Store) sidecarPath(name string) string { return filepath.Join(s.dir, name+extSidecar) }

func (s *Store) info(name, pub, agency string) Info {
	i := Info{Name: name, Algo: AlgoEd25519, PubKey: pub, Agency: agency, Backend: string(s.backend)}
	if k, err := base64.StdEncoding.DecodeString(pub); err == nil {
		i.PubHex = hex.EncodeToString(k)
	}
	return i
}

// checkName enforces [A-Za-z0-9._-]{1,64}, no leading '.', and no ".pub"
// suffix (which would collide with public sidecars).
func checkName(name string) error {
	bad := func(why string) error { return fmt.Errorf("key name %q: %s: %w", name, why, ErrBadName) }
	if name == "" {
		return bad("empty")
	}
	if len(name) > maxNameLen {
		return bad(fmt.Sprintf("longer than %d characters", maxNameLen))
	}
	if name[0] == '.' {
		return bad("must not start with '.'")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return bad("only letters, digits, '.', '_' and '-' are allowed")
		}
	}
	if strings.HasSuffix(strings.ToLower(name), ".pub") {
		return bad("must not end in \".pub\"")
	}
	return nil
}

func checkAgency(agency string) error {
	if len(agency) > maxAgencyLen {
		return fmt.Errorf("keystore: agency longer than %d bytes", maxAgencyLen)
	}
	for _, r := range agency {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return fmt.Errorf("keystore: agency %q contains invalid or control characters", agency)
		}
	}
	return nil
}

// checkFree fails with ErrExists if any file of name exists, in any backend.
func (s *Store) checkFree(name string) error {
	for _, p := range []string{name + extAge, name + extJSON, name + extSidecar} {
		ok, err := exists(filepath.Join(s.dir, p))
		if err != nil {
			return fmt.Errorf("keystore: %w", err)
		}
		if ok {
			return fmt.Errorf("key %q (%s): %w", name, p, ErrExists)
		}
	}
	return nil
}

// checkExists fails with ErrBadName or ErrNotFound.
func (s *Store) checkExists(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	ok, err := exists(s.keyPath(name))
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if !ok {
		return fmt.Errorf("key %q (backend %s, in %s): %w", name, s.backend, s.dir, ErrNotFound)
	}
	return nil
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

func readLimited(path string) ([]byte, error) { return ReadFile(path, maxFileSize) }

// ReadFile reads the file path whole; one larger than limit bytes is
// refused with an error matching ErrTooLarge.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w", path, ErrTooLarge)
	}
	return b, nil
}

// readInfo reads the public sidecar of name (falling back, for the test
// backend, to the plain key file).
func (s *Store) readInfo(name string) (Info, error) {
	b, err := readLimited(s.sidecarPath(name))
	if errors.Is(err, fs.ErrNotExist) && s.backend == BackendTest {
		doc, _, err := s.load(name)
		if err != nil {
			return Info{}, err
		}
		return s.info(name, doc.PubKey, doc.Agency), nil
	}
	if err != nil {
		return Info{}, fmt.Errorf("keystore: key %q: public sidecar: %w", name, err)
	}
	var pd pubDoc
	if err := json.Unmarshal(b, &pd); err != nil {
		return Info{}, fmt.Errorf("keystore: key %q: public sidecar: %w", name, err)
	}
	if pd.Name != name || pd.Algo != AlgoEd25519 {
		return Info{}, fmt.Errorf("keystore: key %q: public sidecar %s is inconsistent", name, s.sidecarPath(name))
	}
	info := s.info(name, pd.PubKey, pd.Agency)
	if _, err := info.PublicKey(); err != nil {
		return Info{}, fmt.Errorf("keystore: %w in %s", err, s.sidecarPath(name))
	}
	return info, nil
}

// load reads and, for the file backend, decrypts the key called name.
func (s *Store) load(name string) (keyDoc, ed25519.PrivateKey, error) {
	if err := s.checkExists(name); err != nil {
		return keyDoc{}, nil, err
	}
	data, err := readLimited(s.keyPath(name))
	if err != nil {
		return keyDoc{}, nil, fmt.Errorf("keystore: key %q: %w", name, err)
	}
	defer wipe(data)
	plain := data
	if s.backend == BackendFile {
		plain, err = s.decrypt(armor.NewReader(bytes.NewReader(data)), fmt.Sprintf("passphrase for key %q: ", name), "key "+name)
		if err != nil {
			return keyDoc{}, nil, err
		}
		defer wipe(plain)
	}
	doc, priv, err := parseKeyDoc(plain)
	if err != nil {
		return keyDoc{}, nil, fmt.Errorf("keystore: key %q: %w", name, err)
	}
	if doc.Name != name {
		return keyDoc{}, nil, fmt.Errorf("keystore: key file %s holds key %q, not %q", s.keyPath(name), doc.Name, name)
	}
	if b, err := readLimited(s.sidecarPath(name)); err == nil {
		var pd pubDoc
		if json.Unmarshal(b, &pd) != nil || pd.PubKey != doc.PubKey {
			return keyDoc{}, nil, fmt.Errorf("keystore: key %q: public sidecar %s does not match the key", name, s.sidecarPath(name))
		}
	}
	return doc, priv, nil
}

// parseKeyDoc decodes and fully validates a plaintext key document.
func parseKeyDoc(plain []byte) (keyDoc, ed25519.PrivateKey, error) {
	var doc keyDoc
	if err := json.Unmarshal(plain, &doc); err != nil {
		return keyDoc{}, nil, fmt.Errorf("malformed key document: %w", err)
	}
	if doc.Algo != AlgoEd25519 {
		return keyDoc{}, nil, fmt.Errorf("unsupported key algorithm %q", doc.Algo)
	}
	b64 := base64.StdEncoding.Strict()
	pub, err := b64.DecodeString(doc.PubKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return keyDoc{}, nil, errors.New("malformed pub_key")
	}
	priv, err := b64.DecodeString(doc.PrivKey)
	if err != nil || len(priv) != ed25519.PrivateKeySize {
		return keyDoc{}, nil, errors.New("malformed priv_key")
	}
	key := ed25519.NewKeyFromSeed(priv[:ed25519.SeedSize])
	if !bytes.Equal(key, priv) || !bytes.Equal(key[ed25519.SeedSize:], pub) {
		return keyDoc{}, nil, errors.New("priv_key and pub_key do not match")
	}
	if err := checkAgency(doc.Agency); err != nil {
		return keyDoc{}, nil, err
	}
	if doc.Created != "" {
		if _, err := time.Parse(time.RFC3339, doc.Created); err != nil {
			return keyDoc{}, nil, fmt.Errorf("malformed created time %q", doc.Created)
		}
	}
	wipe(priv)
	return doc, key, nil
}

// save writes the key file, then the public sidecar; it never overwrites.
func (s *Store) save(doc keyDoc) error {
	plain, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	defer wipe(plain)
	data := append(plain, '\n')
	if s.backend == BackendFile {
		pass, err := s.askPass(fmt.Sprintf("passphrase to encrypt key %q: ", doc.Name), true)
		if err != nil {
			return err
		}
		if data, err = s.encrypt(plain, pass); err != nil {
			return err
		}
	}
	pub, err := json.MarshalIndent(pubDoc{Name: doc.Name, Algo: doc.Algo, PubKey: doc.PubKey, Agency: doc.Agency}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeNew(s.keyPath(doc.Name), data); err != nil {
		return fmt.Errorf("keystore: key %q: %w", doc.Name, err)
	}
	if err := writeNew(s.sidecarPath(doc.Name), append(pub, '\n')); err != nil {
		os.Remove(s.keyPath(doc.Name)) // the key is new: roll back
		_ = atomicfile.SyncDir(s.dir)  // best effort: the removal itself succeeded
		return fmt.Errorf("keystore: key %q: %w", doc.Name, err)
	}
	return nil
}

func (s *Store) askPass(prompt string, confirm bool) (string, error) {
	if s.pass == nil {
		return "", errors.New("keystore: a passphrase is needed but none can be asked for")
	}
	p, err := s.pass(prompt, confirm)
	if err != nil {
		return "", err
	}
	defer wipe(p)
	if len(p) == 0 {
		return "", errors.New("keystore: empty passphrase")
	}
	return string(p), nil
}

func (s *Store) encrypt(plain []byte, pass string) ([]byte, error) {
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	r.SetWorkFactor(s.workFactor)
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return nil, fmt.Errorf("keystore: encrypt: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("keystore: encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("keystore: encrypt: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("keystore: encrypt: %w", err)
	}
	return buf.Bytes(), nil
}

// decrypt asks for a passphrase and decrypts the age file src; what names
// the object in errors.
func (s *Store) decrypt(src io.Reader, prompt, what string) ([]byte, error) {
	pass, err := s.askPass(prompt, false)
	if err != nil {
		return nil, err
	}
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	id.SetMaxWorkFactor(max(maxWorkFactor, s.workFactor))
	r, err := age.Decrypt(src, id)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) && !slices.Contains(nm.StanzaTypes, "scrypt") {
			return nil, fmt.Errorf("keystore: %s: not encrypted with a passphrase", what)
		}
		if errors.Is(err, age.ErrIncorrectIdentity) {
			return nil, fmt.Errorf("keystore: %s: %w", what, ErrBadPassphrase)
		}
		return nil, fmt.Errorf("keystore: %s: decrypt: %w", what, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: %s: decrypt: %w", what, err)
	}
	if len(plain) > maxFileSize {
		return nil, fmt.Errorf("keystore: %s: decrypted data too large", what)
	}
	return plain, nil
}

// writeNew atomically creates path with data and mode 0600; it fails with
// ErrExists if path exists, also if another writer created it meanwhile.
func writeNew(path string, data []byte) error {
	err := atomicfile.Write(path, data, 0o600, false)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", path, ErrExists)
	}
	return err
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
